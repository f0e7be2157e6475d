"""One Settings class for the whole process (prefix ``MEDCAB_``, nested with ``__``, ``.env`` read).

Missing or placeholder values fail at start with one line naming the variable: an operator
should never discover a wrong token by reading a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"
# Values people paste from examples and forget to replace.
_PLACEHOLDERS = re.compile(r"^(|changeme|change-me|change_me|xxx+|todo|your[-_ ].*|<.*>|\.\.\.|123:abc|token)$", re.I)
# Telegram's token shape: <bot id>:<35 url-safe characters>; the emulator accepts any
# digits:secret pair, so only the overall shape is checked here.
_TOKEN_SHAPE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,}$")


class SettingsError(Exception):
    """A setting is missing or wrong; ``str(err)`` is the one line to show the operator."""


def _is_placeholder(value: str) -> bool:
    return bool(_PLACEHOLDERS.match(value.strip()))


class SecuritySettings(BaseModel):
    # "kid:base64key,kid2:base64key" — several keys so data encrypted with an old key still
    # reads after rotation; new values use ``active_key_id``.
    data_keys: SecretStr | None = None
    active_key_id: str | None = None
    index_key: SecretStr | None = None


class SessionSettings(BaseModel):
    idle_timeout_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    max_pin_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    pin_lock_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    sign_in_max_failures: Annotated[int, Field(ge=1, le=50)] = 5
    sign_in_block_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15


class EsiaSettings(BaseModel):
    """The system's registration at ESIA (its mnemonic, key and certificate) and ESIA's keys."""

    client_id: str = "MEDCAB01"
    key_path: Path | None = None
    cert_path: Path | None = None
    signer: Literal["gostcrypto", "openssl"] = "gostcrypto"
    openssl_conf: Path | None = None
    # ESIA's token-signing keys: several, comma-separated paths, so a rotation breaks nothing.
    token_keys: str | None = None
    token_algorithms: str = "RS256"  # noqa: S105 - algorithm names, not a secret
    issuer: str | None = None  # default: http://<ESIA host>/ as ESIA writes it
    scope: str = "openid fullname snils"
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0


class RegisterSettings(BaseModel):
    """ФРМР (the register of medical workers) lookup service."""

    url: str | None = None
    api_key: SecretStr | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0


class DocumentSettings(BaseModel):
    """Signing and delivery of prescriptions, referrals and documents (issue 6)."""

    # A REST signing service (production); unset: each doctor's local key (development, demo).
    signing_url: str | None = None
    signing_api_key: SecretStr | None = None
    # The clinic system's FHIR endpoint is MEDCAB_FHIR_URL; its API key:
    fhir_api_key: SecretStr | None = None
    exchange_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0


class NotificationSettings(BaseModel):
    global_rate: Annotated[float, Field(gt=0)] = 25.0
    per_chat_rate: Annotated[float, Field(gt=0)] = 1.0
    # Whether this process delivers notifications and runs the reminder scans. Any number of
    # processes may (rows are claimed, the rate is shared through Redis); switch it off for a
    # process that should only answer updates.
    worker: bool = True


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MEDCAB_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    database_url: str = "sqlite+aiosqlite:///medcab.db"
    redis_url: str | None = None
    public_url: str | None = None
    web_host: str = "127.0.0.1"
    web_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    webhook_secret: SecretStr | None = None
    esia_url: str | None = None
    fhir_url: str | None = None
    default_locale: Literal["ru", "en"] = "ru"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Long-poll timeout in seconds; Telegram allows up to 50.
    polling_timeout: Annotated[int, Field(ge=0, le=50)] = 30
    locales_dir: Path = Path(__file__).resolve().parent.parent / "locales"
    # How updates arrive: "auto" — a webhook when MEDCAB_PUBLIC_URL is set, else long polling.
    updates: Literal["auto", "polling", "webhook"] = "auto"
    # The bot's @username, for the «back to the bot» link on web pages (asked from Telegram if unset).
    bot_username: str | None = None
    security: SecuritySettings = SecuritySettings()
    session: SessionSettings = SessionSettings()
    esia: EsiaSettings = EsiaSettings()
    frmr: RegisterSettings = RegisterSettings()
    notifications: NotificationSettings = NotificationSettings()
    documents: DocumentSettings = DocumentSettings()

    @field_validator("telegram_api_url", "public_url", "esia_url", "fhir_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.webhook_secret is not None:
            secret = self.webhook_secret.get_secret_value()
            # Telegram's own rule for secret_token.
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
                raise ValueError("MEDCAB_WEBHOOK_SECRET: 1-256 characters A-Z, a-z, 0-9, _ and -")
        if self.updates == "webhook" and not self.public_url:
            raise ValueError("MEDCAB_PUBLIC_URL: needed for MEDCAB_UPDATES=webhook")
        return self

    def identity_configured(self) -> bool:
        """Sign-in with Gosuslugi needs ESIA, the register and a public URL for ESIA's redirect."""
        return bool(self.esia_url and self.frmr.url and self.public_url and self.esia.key_path)

    @property
    def webhook_mode(self) -> bool:
        return self.updates == "webhook" or (self.updates == "auto" and self.public_url is not None)

    def require_token(self) -> str:
        """The bot token for production mode, or a SettingsError naming the variable."""
        if self.bot_token is None or _is_placeholder(self.bot_token.get_secret_value()):
            raise SettingsError(
                "MEDCAB_BOT_TOKEN is not set: put the token from @BotFather into MEDCAB_BOT_TOKEN "
                "(or .env), or try everything locally with `python -m bot demo`"
            )
        token = self.bot_token.get_secret_value().strip()
        if not _TOKEN_SHAPE.match(token):
            raise SettingsError("MEDCAB_BOT_TOKEN does not look like a bot token (expected 123456:ABC…)")
        return token

    def require_security(self) -> SecuritySettings:
        sec = self.security
        for name, value in (
            ("MEDCAB_SECURITY__DATA_KEYS", sec.data_keys),
            ("MEDCAB_SECURITY__INDEX_KEY", sec.index_key),
        ):
            if value is None or _is_placeholder(value.get_secret_value()):
                raise SettingsError(
                    f"{name} is not set: generate keys with `python -m bot keys` and put them into the environment"
                )
        if not sec.active_key_id or _is_placeholder(sec.active_key_id):
            raise SettingsError("MEDCAB_SECURITY__ACTIVE_KEY_ID is not set: name one of the ids in DATA_KEYS")
        return sec


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's multi-line report into one line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        name = "MEDCAB_" + "__".join(p.upper() for p in loc) if loc else "MEDCAB settings"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if msg.startswith("MEDCAB_"):
            raise SettingsError(msg) from None
        raise SettingsError(f"{name}: {msg}") from None
