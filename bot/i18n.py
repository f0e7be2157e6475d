"""Gettext catalogs: compiled from ``locales/*/LC_MESSAGES/messages.po`` when missing or stale.

Compiling at start (not only in the build) means a fresh checkout, the Docker image and the test
suite all run on catalogs that match the ``.po`` sources, with no step to forget.
"""

from __future__ import annotations

from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "messages"


def compile_catalogs(locales_dir: Path) -> list[Path]:
    """Compile every stale ``.po`` into ``.mo``; returns the files written."""
    written: list[Path] = []
    for po_path in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        # Write to a temporary name first so a concurrent reader never sees half a file.
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
        tmp.replace(mo_path)
        written.append(mo_path)
    return written


def make_i18n(locales_dir: Path, default_locale: str = "ru") -> I18n:
    compile_catalogs(locales_dir)
    return I18n(path=locales_dir, default_locale=default_locale, domain=DOMAIN)
