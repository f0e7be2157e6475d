"""МКБ-10 (ICD-10): the shipped subset or the official НСИ export; lookup by code or by words.

Formats (see docs/reference-data.md): the shipped CSV ``code,name``; the НСИ Минздрава export of
справочник 1.2.643.5.1.13.13.11.1005 (``;``-separated, columns ``MKB_CODE;MKB_NAME;…;ACTUAL``,
rows with ``ACTUAL`` = 0 skipped).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from services.reference.drugs import read_text
from storage.crypto import normalize_text

CODE = re.compile(r"[A-ZА-Я]\d{2}(?:\.\d{1,2})?")
# Cyrillic look-alikes doctors type on a Russian keyboard.
_LOOKALIKES = str.maketrans("АВСЕНКМОРТХ", "ABCEHKMOPTX")


@dataclass(frozen=True)
class Diagnosis:
    code: str
    name: str


def normalize_code(text: str) -> str:
    return text.strip().upper().replace(",", ".").translate(_LOOKALIKES)


def parse_icd10(text: str) -> list[Diagnosis]:
    first_line = text.split("\n", 1)[0]
    if "MKB_CODE" in first_line:
        rows = csv.DictReader(io.StringIO(text), delimiter=";" if ";" in first_line else ",")
        return [
            Diagnosis(r["MKB_CODE"].strip(), r["MKB_NAME"].strip())
            for r in rows
            if r.get("MKB_CODE") and str(r.get("ACTUAL", "1")).strip() not in ("0", "false")
        ]
    return [Diagnosis(r["code"].strip(), r["name"].strip()) for r in csv.DictReader(io.StringIO(text))]


class Icd10:
    def __init__(self, diagnoses: Sequence[Diagnosis]) -> None:
        self._by_code = {d.code: d for d in diagnoses}
        self._all = list(diagnoses)

    def looks_like_code(self, text: str) -> bool:
        return CODE.fullmatch(normalize_code(text)) is not None

    def get(self, text: str) -> Diagnosis | None:
        return self._by_code.get(normalize_code(text))

    def search(self, words: str, limit: int = 8) -> list[Diagnosis]:
        """Diagnoses whose name contains every word (case and ё/е ignored)."""
        needles = [normalize_text(w) for w in words.split() if len(w) >= 3]
        if not needles:
            return []
        found = [d for d in self._all if all(n in normalize_text(d.name) for n in needles)]
        return found[:limit]


def load_icd10(paths: Sequence[Path] = ()) -> Icd10:
    if paths:
        return Icd10([d for p in paths for d in parse_icd10(read_text(p))])
    return Icd10(parse_icd10(resources.files("services.reference").joinpath("data", "icd10.csv").read_text("utf-8")))


@cache
def default_icd10() -> Icd10:
    return load_icd10()
