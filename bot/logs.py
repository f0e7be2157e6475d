"""Logging that never carries a secret: bot tokens in URLs are masked before any handler sees them."""

from __future__ import annotations

import logging
import re
import sys

_TOKEN = re.compile(r"\b(bot)?\d{5,20}:[A-Za-z0-9_-]{20,}\b")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def redact(text: str) -> str:
    text = _TOKEN.sub(lambda m: (m.group(1) or "") + "<token>", text)
    return _URL_PASSWORD.sub(r"\1***@", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiogram logs every update at INFO; that is noise at a clinic's volume, kept at DEBUG.
    logging.getLogger("aiogram.event").setLevel(max(logging.WARNING, root.level))
    # Alembic narrates every migration step; the outcome is what matters in the log.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    # While a backlog drains, the one-second delivery timer finds the previous run still going
    # and APScheduler warns each time; that is the intended coalescing, not a problem.
    logging.getLogger("apscheduler.scheduler").setLevel(max(logging.ERROR, root.level))
    # The executor logs every firing (the delivery tick is once a second): failures only.
    logging.getLogger("apscheduler.executors").setLevel(max(logging.WARNING, root.level))
