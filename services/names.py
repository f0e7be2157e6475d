"""How people are named on screens: «Петрова А. В.» (patients in lists, colleagues in notices)."""

from __future__ import annotations


def initials(first_name: str, middle_name: str | None) -> str:
    """«А. В.» for Анна Викторовна; «И.» without a patronymic."""
    return " ".join(f"{part.strip()[0].upper()}." for part in (first_name, middle_name or "") if part.strip())


def short_name(last_name: str, first_name: str, middle_name: str | None) -> str:
    """«Иванов С. А.»"""
    return " ".join(part for part in (last_name.strip(), initials(first_name, middle_name)) if part)
