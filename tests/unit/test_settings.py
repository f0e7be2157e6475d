"""Settings: the names operators rely on, and one clear line for anything missing or wrong."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings

GOOD_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    for name in list(os.environ):
        if name.startswith("MEDCAB_") and not name.startswith("MEDCAB_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults() -> None:
    s = load_settings()
    assert s.database_url == "sqlite+aiosqlite:///medcab.db"
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.redis_url is None and s.public_url is None
    assert s.default_locale == "ru"


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDCAB_BOT_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("MEDCAB_TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("MEDCAB_DATABASE_URL", "postgresql+asyncpg://u:p@db/medcab")
    monkeypatch.setenv("MEDCAB_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("MEDCAB_PUBLIC_URL", "https://bot.example.org")
    monkeypatch.setenv("MEDCAB_WEB_HOST", "0.0.0.0")
    monkeypatch.setenv("MEDCAB_WEB_PORT", "9000")
    monkeypatch.setenv("MEDCAB_ESIA_URL", "https://esia-portal1.test.gosuslugi.ru")
    monkeypatch.setenv("MEDCAB_FHIR_URL", "http://127.0.0.1:9100/fhir")
    monkeypatch.setenv("MEDCAB_SECURITY__ACTIVE_KEY_ID", "k2")
    s = load_settings()
    assert s.require_token() == GOOD_TOKEN
    assert s.telegram_api_url == "http://127.0.0.1:8081"
    assert s.web_port == 9000 and s.web_host == "0.0.0.0"
    assert s.security.active_key_id == "k2"


def test_env_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text(f"MEDCAB_BOT_TOKEN={GOOD_TOKEN}\nMEDCAB_WEB_PORT=8099\n")
    s = load_settings()
    assert s.require_token() == GOOD_TOKEN and s.web_port == 8099


@pytest.mark.parametrize("value", [None, "", "changeme", "<your token>", "your-token-here", "xxx"])
def test_missing_or_placeholder_token_names_the_variable_and_points_to_demo(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is not None:
        monkeypatch.setenv("MEDCAB_BOT_TOKEN", value)
    with pytest.raises(SettingsError) as err:
        load_settings().require_token()
    message = str(err.value)
    assert "MEDCAB_BOT_TOKEN" in message and "python -m bot demo" in message and "\n" not in message


def test_malformed_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDCAB_BOT_TOKEN", "not a token at all")
    with pytest.raises(SettingsError, match="MEDCAB_BOT_TOKEN does not look like a bot token"):
        load_settings().require_token()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MEDCAB_WEB_PORT", "seventy"),
        ("MEDCAB_WEB_PORT", "70000"),
        ("MEDCAB_DATABASE_URL", "mysql://x"),
        ("MEDCAB_TELEGRAM_API_URL", "ftp://x"),
        ("MEDCAB_REDIS_URL", "localhost:6379"),
        ("MEDCAB_PUBLIC_URL", "bot.example.org"),
        ("MEDCAB_DEFAULT_LOCALE", "de"),
    ],
)
def test_bad_values_fail_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value).startswith(name + ":")
    assert "\n" not in str(err.value)


def test_bad_webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDCAB_WEBHOOK_SECRET", "has spaces!")
    with pytest.raises(SettingsError, match="MEDCAB_WEBHOOK_SECRET"):
        load_settings()


def test_security_keys_are_required_for_running(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="MEDCAB_SECURITY__DATA_KEYS"):
        load_settings().require_security()
    monkeypatch.setenv("MEDCAB_SECURITY__DATA_KEYS", "k1:" + "A" * 44)
    monkeypatch.setenv("MEDCAB_SECURITY__INDEX_KEY", "B" * 44)
    with pytest.raises(SettingsError, match="MEDCAB_SECURITY__ACTIVE_KEY_ID"):
        load_settings().require_security()
