"""Every message in the code has a Russian and an English translation, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import compile_catalogs, make_i18n

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
KEYWORDS = {"_": None, "__": None, "N_": None, "gettext": None, "lazy_gettext": None}


def code_messages() -> set[str]:
    found: set[str] = set()
    for package in ("bot", "handlers", "services"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def catalog(locale: str):  # type: ignore[no-untyped-def]
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=locale)


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_every_message_in_the_code_is_translated(locale: str) -> None:
    cat = catalog(locale)
    missing = sorted(m for m in code_messages() if not (cat.get(m) and cat.get(m).string))
    assert not missing, f"{locale}: no translation for {missing}"
    fuzzy = sorted(m.id for m in cat if m.id and m.fuzzy)
    assert not fuzzy, f"{locale}: fuzzy (unchecked) translations {fuzzy}"


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_translations_keep_placeholders_and_markup(locale: str) -> None:
    for message in catalog(locale):
        if not message.id:
            continue
        assert set(re.findall(r"\{\w+\}", message.id)) == set(re.findall(r"\{\w+\}", message.string)), message.id
        assert re.findall(r"</?\w+>", message.id) == re.findall(r"</?\w+>", message.string), message.id


def test_russian_catalog_is_really_russian() -> None:
    cat = catalog("ru")
    latin_only = [
        m.id for m in cat if m.id and not re.search("[а-яА-ЯёЁ]", m.string) and re.search("[a-zA-Z]{4}", m.id)
    ]
    assert not latin_only, latin_only


def test_catalogs_compile_and_translate(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(LOCALES, tmp_path / "locales", ignore=shutil.ignore_patterns("*.mo"))
    written = compile_catalogs(tmp_path / "locales")
    assert {p.parent.parent.name for p in written} == {"ru", "en"}
    assert compile_catalogs(tmp_path / "locales") == []  # up to date: nothing rewritten
    i18n = make_i18n(tmp_path / "locales")
    assert i18n.gettext("Cancelled.", locale="ru") == "Действие отменено."
    assert i18n.gettext("Cancelled.", locale="en") == "Cancelled."
    assert set(i18n.available_locales) == {"ru", "en"}
