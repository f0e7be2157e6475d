"""``python -m bot`` as an operator runs it: clear one-line failures, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.crypto import generate_key_b64

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def run_bot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MEDCAB_")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,  # no .env there
        env={**clean, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def keys() -> dict[str, str]:
    return {
        "MEDCAB_SECURITY__DATA_KEYS": f"k1:{generate_key_b64()}",
        "MEDCAB_SECURITY__ACTIVE_KEY_ID": "k1",
        "MEDCAB_SECURITY__INDEX_KEY": generate_key_b64(),
    }


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_missing_token_names_the_variable_and_points_to_demo(tmp_path: Path) -> None:
    result = run_bot(tmp_path)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "MEDCAB_BOT_TOKEN" in line and "python -m bot demo" in line


def test_placeholder_token_is_refused(tmp_path: Path) -> None:
    result = run_bot(tmp_path, MEDCAB_BOT_TOKEN="changeme")
    assert result.returncode == 2
    assert "MEDCAB_BOT_TOKEN" in one_line(result.stderr)


def test_missing_keys_are_named(tmp_path: Path) -> None:
    result = run_bot(tmp_path, MEDCAB_BOT_TOKEN=TOKEN)
    assert result.returncode == 2
    assert "MEDCAB_SECURITY__DATA_KEYS" in one_line(result.stderr)


def test_bad_setting_is_named(tmp_path: Path) -> None:
    result = run_bot(tmp_path, MEDCAB_BOT_TOKEN=TOKEN, MEDCAB_WEB_PORT="eighty")
    assert result.returncode == 2
    assert one_line(result.stderr).startswith("medcab: MEDCAB_WEB_PORT:")


def test_database_down_at_start_is_a_clear_message_and_non_zero_exit(tmp_path: Path) -> None:
    result = run_bot(
        tmp_path,
        MEDCAB_BOT_TOKEN=TOKEN,
        MEDCAB_DATABASE_URL="postgresql+asyncpg://medcab:s3cret@127.0.0.1:1/medcab",
        **keys(),
    )
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith("medcab: database unavailable:")
    assert "s3cret" not in line


def test_keys_command_prints_usable_keys(tmp_path: Path) -> None:
    result = run_bot(tmp_path, "keys")
    assert result.returncode == 0
    env = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert set(env) == {"MEDCAB_SECURITY__DATA_KEYS", "MEDCAB_SECURITY__ACTIVE_KEY_ID", "MEDCAB_SECURITY__INDEX_KEY"}
    from bot.keys import build_crypto
    from bot.settings import load_settings

    crypto = build_crypto(load_settings(security=env_to_security(env)))
    assert crypto.cipher.decrypt(crypto.cipher.encrypt("x", "t.c"), "t.c") == "x"


def env_to_security(env: dict[str, str]) -> dict[str, str]:
    return {
        "data_keys": env["MEDCAB_SECURITY__DATA_KEYS"],
        "active_key_id": env["MEDCAB_SECURITY__ACTIVE_KEY_ID"],
        "index_key": env["MEDCAB_SECURITY__INDEX_KEY"],
    }


def test_migrate_command_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    result = run_bot(tmp_path, "migrate", MEDCAB_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    import sqlite3

    with sqlite3.connect(tmp_path / "m.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"telegram_accounts", "doctors", "clinics", "patients", "audit_events", "fsm_states"} <= tables


@pytest.mark.parametrize("bad", ["k1:short", "nocolon", "k1:" + "A" * 44 + ",k1:" + "A" * 44])
def test_bad_data_keys_are_named(tmp_path: Path, bad: str) -> None:
    env = keys() | {"MEDCAB_SECURITY__DATA_KEYS": bad}
    result = run_bot(tmp_path, MEDCAB_BOT_TOKEN=TOKEN, **env)
    assert result.returncode == 2
    assert one_line(result.stderr).startswith("medcab: MEDCAB_SECURITY__DATA_KEYS:")


def test_audit_verify_detects_an_edited_or_deleted_row(tmp_path: Path) -> None:
    import asyncio

    from storage.db import create_engine, make_session_maker
    from storage.repositories.audit import AuditRepository

    url = f"sqlite+aiosqlite:///{tmp_path}/a.db"
    assert run_bot(tmp_path, "migrate", MEDCAB_DATABASE_URL=url).returncode == 0

    async def write_events() -> None:
        engine = create_engine(url)
        async with make_session_maker(engine)() as session:
            repo = AuditRepository(session)
            for i in range(5):
                await repo.append(f"tg:{i}", "sign_in", "esia", None, "ok")
            await session.commit()
        await engine.dispose()

    asyncio.run(write_events())
    ok = run_bot(tmp_path, "audit", "verify", MEDCAB_DATABASE_URL=url)
    assert ok.returncode == 0 and "5 events" in ok.stdout

    import sqlite3

    with sqlite3.connect(tmp_path / "a.db") as db:
        db.execute("UPDATE audit_events SET outcome = 'denied' WHERE id = 3")
    edited = run_bot(tmp_path, "audit", "verify", MEDCAB_DATABASE_URL=url)
    assert edited.returncode == 1 and "BROKEN at event 3" in edited.stdout

    asyncio.run(write_events())
    with sqlite3.connect(tmp_path / "a.db") as db:
        db.execute("UPDATE audit_events SET outcome = 'ok' WHERE id = 3")
        db.execute("DELETE FROM audit_events WHERE id = 7")
    deleted = run_bot(tmp_path, "audit", "verify", MEDCAB_DATABASE_URL=url)
    assert deleted.returncode == 1 and "BROKEN" in deleted.stdout
