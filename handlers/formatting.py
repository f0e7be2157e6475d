"""Dates and times as a Russian-speaking doctor reads them, through Babel (never by hand)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from babel.dates import format_datetime

# Until a doctor's clinic is known, moments are shown in Moscow time, as Gosuslugi shows them.
MOSCOW = ZoneInfo("Europe/Moscow")


def format_moment(moment: datetime, locale: str) -> str:
    text = format_datetime(moment, format="d MMMM y, HH:mm", tzinfo=MOSCOW, locale=locale)
    return _("{moment} (Moscow time)").format(moment=text)


def format_params(params: dict[str, Any], locale: str) -> dict[str, Any]:
    return {k: format_moment(v, locale) if isinstance(v, datetime) else v for k, v in params.items()}
