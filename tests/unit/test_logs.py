from __future__ import annotations

import logging

from bot.logs import RedactingFilter, redact


def test_tokens_and_passwords_are_masked() -> None:
    line = "POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1/sendMessage"
    assert redact(line) == "POST https://api.telegram.org/bot<token>/sendMessage"
    assert redact("postgresql+asyncpg://medcab:s3cr3t@db:5432/x") == "postgresql+asyncpg://medcab:***@db:5432/x"


def test_filter_rewrites_records_with_arguments() -> None:
    token = "bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5P"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "url %s", (token,), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "url bot<token>"
