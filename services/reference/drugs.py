"""The drug reference: load, and find by international non-proprietary name, forgiving typos.

Two file formats are read (see docs/reference-data.md):

* the shipped CSV (UTF-8, comma): ``code,inn,form,strength,unit,atc,prescription_form``;
* an ЕСКЛП-style official export (``;``-separated, UTF-8 or Windows-1251) with the columns
  «Код КЛП», «МНН», «Лекарственная форма», «Дозировка», «Код АТХ» and optionally
  «Форма рецептурного бланка» (absent → 107-1/у) and «Единица» (absent → guessed from the form).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from storage.crypto import normalize_text

DEFAULT_FORM = "107-1/у"
MIN_QUERY = 3
MAX_MATCHES = 8
FUZZY_CUTOFF = 0.75

_OFFICIAL_COLUMNS = {
    "Код КЛП": "code",
    "МНН": "inn",
    "Лекарственная форма": "form",
    "Дозировка": "strength",
    "Код АТХ": "atc",
    "Форма рецептурного бланка": "prescription_form",
    "Единица": "unit",
}


@dataclass(frozen=True)
class Drug:
    code: str
    inn: str
    form: str
    strength: str
    unit: str  # what one dose is counted in: таблетка, капсула, мл, доза, ЕД
    atc: str
    prescription_form: str

    @property
    def title(self) -> str:
        """«Амоксициллин, таблетки 500 мг»"""
        return f"{self.inn}, {self.form} {self.strength}"


@dataclass(frozen=True)
class FormRule:
    """What a prescription form allows (приказ 1094н; values kept in data, sources disagree)."""

    code: str
    electronic: bool
    validity_days: tuple[int, ...]
    max_course_days: int
    max_quantity: int
    reason: str | None


def _guess_unit(form: str) -> str:
    form = form.casefold()
    for needle, unit in (("капсул", "капсула"), ("таблет", "таблетка"), ("аэрозол", "доза"), ("раствор", "мл")):
        if needle in form:
            return unit
    return "мл" if any(w in form for w in ("сироп", "суспензи", "капли")) else "доза"


def parse_drugs(text: str) -> list[Drug]:
    """Drugs from either file format (decided by the header line)."""
    first_line = text.split("\n", 1)[0]
    if ";" in first_line and "МНН" in first_line:
        rows = csv.DictReader(io.StringIO(text), delimiter=";")
        drugs = []
        for raw in rows:
            row = {_OFFICIAL_COLUMNS[k.strip()]: (v or "").strip() for k, v in raw.items() if k and k.strip() in _OFFICIAL_COLUMNS}
            if not row.get("inn") or not row.get("code"):
                continue
            form = row.get("form", "")
            drugs.append(
                Drug(
                    code=row["code"],
                    inn=row["inn"],
                    form=form,
                    strength=row.get("strength", ""),
                    unit=row.get("unit") or _guess_unit(form),
                    atc=row.get("atc", ""),
                    prescription_form=row.get("prescription_form") or DEFAULT_FORM,
                )
            )
        return drugs
    return [
        Drug(
            code=r["code"],
            inn=r["inn"],
            form=r["form"],
            strength=r["strength"],
            unit=r["unit"],
            atc=r["atc"],
            prescription_form=r["prescription_form"] or DEFAULT_FORM,
        )
        for r in csv.DictReader(io.StringIO(text))
    ]


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1251")  # official exports are often Windows-1251


def _shipped(name: str) -> str:
    return resources.files("services.reference").joinpath("data", name).read_text(encoding="utf-8")


class DrugReference:
    def __init__(self, drugs: Iterable[Drug], forms: dict[str, FormRule]) -> None:
        self.drugs = list(drugs)
        self.forms = forms
        self._by_code = {d.code: d for d in self.drugs}
        self._names = sorted({normalize_text(d.inn) for d in self.drugs})

    def get(self, code: str) -> Drug | None:
        return self._by_code.get(code)

    def form_of(self, drug: Drug) -> FormRule:
        return self.forms.get(drug.prescription_form) or self.forms[DEFAULT_FORM]

    def search(self, query: str) -> list[Drug]:
        """Drugs whose name contains the query; if none, names within a typo or two of it.

        Every form and strength of a matching name is returned, so the caller decides what "too
        many" means (a list to choose from, or a request for a more precise name).
        """
        needle = normalize_text(query)
        if len(needle) < MIN_QUERY:
            return []
        names = {n for n in self._names if needle in n}
        if not names:
            # Typos: compare with whole names and with each word («клавулоновая» → клавулановая).
            words: dict[str, set[str]] = {}
            for name in self._names:
                for word in [name, *name.split()]:
                    words.setdefault(word, set()).add(name)
            close = difflib.get_close_matches(needle, list(words), n=MAX_MATCHES, cutoff=FUZZY_CUTOFF)
            names = {name for word in close for name in words[word]}
        return sorted(
            (d for d in self.drugs if normalize_text(d.inn) in names),
            key=lambda d: (normalize_text(d.inn), d.form, d.strength),
        )


def parse_forms(text: str) -> dict[str, FormRule]:
    data = json.loads(text)
    return {
        code: FormRule(
            code=code,
            electronic=bool(rule["electronic"]),
            validity_days=tuple(int(v) for v in rule["validity_days"]),
            max_course_days=int(rule["max_course_days"]),
            max_quantity=int(rule["max_quantity"]),
            reason=rule.get("reason"),
        )
        for code, rule in data.items()
    }


def load_drugs(paths: Sequence[Path] = ()) -> DrugReference:
    """The shipped reference, or the given export files (e.g. the full ЕСКЛП export) instead."""
    texts = [read_text(p) for p in paths] if paths else [_shipped("drugs.csv")]
    drugs = [d for text in texts for d in parse_drugs(text)]
    return DrugReference(drugs, parse_forms(_shipped("forms.json")))


@cache
def default_drugs() -> DrugReference:
    return load_drugs()
