"""Tunables of one emulator instance (timings mostly, so tests can make them short)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    # getUpdates never waits longer than this, whatever `timeout` the bot asks for.
    max_long_poll: float = 50.0
    # A callback query older than this can no longer be answered (Telegram: "query is too old").
    callback_query_lifetime: float = 15 * 60
    # Webhook delivery: how long to wait for the bot's answer, and the retry backoff bounds.
    webhook_timeout: float = 10.0
    webhook_retry_initial: float = 0.2
    webhook_retry_max: float = 5.0
    # Real Telegram demands HTTPS webhooks; local tests use plain HTTP on 127.0.0.1.
    allow_http_webhook: bool = True
