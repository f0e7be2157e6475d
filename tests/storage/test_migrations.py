"""Migrations build the schema from nothing, identically on both databases, matching the models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, TextClause, bindparam, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.migrate import SchemaOutdated, current, downgrade, ensure_schema, head_revision, upgrade
from storage.models import Base, UTCDateTime

CORE_TABLES = {
    "alembic_version",
    "audit_events",
    "clinic_roles",
    "clinics",
    "doctors",
    "fsm_states",
    "patients",
    "telegram_accounts",
}
IDENTITY_TABLES = {
    "consents",
    "doctor_positions",
    "doctor_security",
    "esia_auth_requests",
    "esia_tokens",
    "link_tokens",
    "sign_in_failures",
}
NOTIFICATION_TABLES = {"announcements", "notification_preferences", "notifications"}
DOCUMENT_TABLES = {"document_templates", "medical_documents", "signing_keys"}
SCHEDULE_TABLES = {"appointments", "appointment_events", "calendar_feeds", "change_requests", "shifts", "waitlist_entries"}
CERTIFICATE_TABLES = {"doctor_certificates"}
TABLES = CORE_TABLES | IDENTITY_TABLES | NOTIFICATION_TABLES | SCHEDULE_TABLES | DOCUMENT_TABLES | CERTIFICATE_TABLES
HEAD = "0011"


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    return list(compare_metadata(context, Base.metadata))


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
    assert await _tables(engine) == TABLES


async def test_upgrade_from_empty_and_back(empty_database_url: str) -> None:
    assert await current(empty_database_url) is None
    await upgrade(empty_database_url)
    assert await current(empty_database_url) == head_revision() == HEAD
    await upgrade(empty_database_url)  # already at head: nothing to do
    engine = create_engine(empty_database_url)
    try:
        assert await _tables(engine) == TABLES
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
        await downgrade(empty_database_url, "base")
        assert await current(empty_database_url) is None
        assert await _tables(engine) == {"alembic_version"}
    finally:
        await engine.dispose()
    await upgrade(empty_database_url)
    assert await current(empty_database_url) == HEAD


async def test_ensure_schema(empty_database_url: str) -> None:
    if empty_database_url.startswith("sqlite"):
        await ensure_schema(empty_database_url)  # SQLite migrates itself at start-up
        assert await current(empty_database_url) == HEAD
        return
    # PostgreSQL is migrated as a deploy step; a process never races others to do it.
    with pytest.raises(SchemaOutdated, match=rf"revision none, this version needs {HEAD}; run `python -m bot migrate`"):
        await ensure_schema(empty_database_url)
    await upgrade(empty_database_url)
    await ensure_schema(empty_database_url)


PROFILE_COLUMNS = {
    "register_id",
    "accreditation_kind",
    "accreditation_specialty",
    "accreditation_number",
    "accreditation_valid_until",
    "profile_refreshed_at",
    "esia_trusted",
}


async def _columns(engine: AsyncEngine, table: str) -> set[str]:
    async with engine.connect() as connection:
        columns = await connection.run_sync(lambda c: inspect(c).get_columns(table))
    return {column["name"] for column in columns}


def _at(statement: str) -> TextClause:
    return text(statement).bindparams(bindparam("t", datetime(2026, 12, 1, 9, tzinfo=UTC), type_=UTCDateTime()))


async def test_identity_revision_down_and_up_keeps_the_core_data(empty_database_url: str) -> None:
    """0002 on a database with data, and back: the ``doctors`` columns go without touching the rows
    that refer to doctors (on SQLite a table copy-and-swap would have fired their ON DELETE)."""
    await upgrade(empty_database_url, "0001")
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                _at(
                    "INSERT INTO clinics (id, name, short_name, timezone, created_at) "
                    "VALUES (1, 'ГБ1', 'ГБ1', 'UTC', :t)"
                )
            )
            await connection.execute(
                _at(
                    "INSERT INTO doctors (id, last_name, first_name, esia_oid, created_at, updated_at) "
                    "VALUES (1, 'Петрова', 'Анна', '1000123456', :t, :t)"
                )
            )
            await connection.execute(
                _at(
                    "INSERT INTO telegram_accounts (telegram_user_id, chat_id, doctor_id, linked_at, created_at, "
                    "updated_at) VALUES (7000000001, 7000000001, 1, :t, :t, :t)"
                )
            )
            await connection.execute(
                text("INSERT INTO clinic_roles (doctor_id, clinic_id, role) VALUES (1, 1, 'admin')")
            )

        await upgrade(empty_database_url)
        assert await current(empty_database_url) == HEAD
        assert await _columns(engine, "doctors") >= PROFILE_COLUMNS
        async with engine.begin() as connection:
            # The existing doctor got the server default.
            trusted = (await connection.execute(text("SELECT esia_trusted FROM doctors WHERE id = 1"))).scalar_one()
            assert trusted in (False, 0)
            await connection.execute(
                text("UPDATE doctors SET register_id = 'FRMR-1', esia_trusted = TRUE WHERE id = 1")
            )
            await connection.execute(
                _at(
                    "INSERT INTO consents (doctor_id, kind, version, accepted_at, created_at) "
                    "VALUES (1, 'personal_data', '1', :t, :t)"
                )
            )
            await connection.execute(
                _at(
                    "INSERT INTO link_tokens (token_hash, telegram_user_id, chat_id, created_at, expires_at) "
                    "VALUES ('h', 7000000001, 7000000001, :t, :t)"
                )
            )
            await connection.execute(
                _at(
                    "INSERT INTO doctor_security (doctor_id, pin_hash, failed_attempts, updated_at) "
                    "VALUES (1, 'x', 2, :t)"
                )
            )

        await downgrade(empty_database_url, "0001")
        assert await current(empty_database_url) == "0001"
        assert await _tables(engine) == CORE_TABLES
        assert not PROFILE_COLUMNS & await _columns(engine, "doctors")
        async with engine.connect() as connection:
            doctor = (await connection.execute(text("SELECT id, esia_oid, last_name FROM doctors"))).all()
            assert [tuple(row) for row in doctor] == [(1, "1000123456", "Петрова")]
            account = (await connection.execute(text("SELECT doctor_id FROM telegram_accounts"))).scalar_one()
            assert account == 1
            roles = (await connection.execute(text("SELECT doctor_id, clinic_id, role FROM clinic_roles"))).all()
            assert [tuple(row) for row in roles] == [(1, 1, "admin")]

        await upgrade(empty_database_url)
        assert await _tables(engine) == TABLES
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_notifications_revision_down_and_up_keeps_the_accounts(empty_database_url: str) -> None:
    """0004 on a database with data, and back: the outbox tables go, ``telegram_accounts`` keeps
    its rows (the column is dropped with ALTER TABLE, not a copy-and-swap)."""
    await upgrade(empty_database_url, "0003")
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                _at(
                    "INSERT INTO doctors (id, last_name, first_name, created_at, updated_at) "
                    "VALUES (1, 'Петрова', 'Анна', :t, :t)"
                )
            )
            await connection.execute(
                _at(
                    "INSERT INTO telegram_accounts (telegram_user_id, chat_id, doctor_id, linked_at, created_at, "
                    "updated_at) VALUES (7000000001, 7000000001, 1, :t, :t, :t)"
                )
            )
        await upgrade(empty_database_url)
        assert await current(empty_database_url) == HEAD
        async with engine.begin() as connection:
            assert (
                await connection.execute(text("SELECT unreachable_since FROM telegram_accounts"))
            ).scalar_one() is None
            await connection.execute(_at("UPDATE telegram_accounts SET unreachable_since = :t"))
            await connection.execute(
                _at(
                    "INSERT INTO announcements (id, author_doctor_id, text, total, created_at) "
                    "VALUES (1, 1, 'Собрание', 1, :t)"
                )
            )
            await connection.execute(
                _at(
                    "INSERT INTO notifications (chat_id, doctor_id, kind, urgency, payload, dedup_key, due_at, "
                    "status, attempts, next_attempt_at, announcement_id, created_at, updated_at) VALUES "
                    "(7000000001, 1, 'announcement', 'routine', '{}', 'a:1', :t, 'pending', 0, :t, 1, :t, :t)"
                )
            )
            await connection.execute(
                _at(
                    "INSERT INTO notification_preferences (doctor_id, disabled_kinds, quiet_start, quiet_end, "
                    "quiet_enabled, silent_routine, reminder_lead_minutes, timezone, updated_at) "
                    "VALUES (1, '[]', '21:00:00', '08:00:00', TRUE, FALSE, 30, 'Europe/Moscow', :t)"
                )
            )
            # The outbox's id is a 64-bit sequence on PostgreSQL and the rowid on SQLite: both count up.
            ids = (await connection.execute(text("SELECT id FROM notifications"))).scalars().all()
            assert ids == [1]

        await downgrade(empty_database_url, "0003")
        assert await current(empty_database_url) == "0003"
        assert await _tables(engine) == CORE_TABLES | IDENTITY_TABLES
        assert "unreachable_since" not in await _columns(engine, "telegram_accounts")
        async with engine.connect() as connection:
            account = (
                await connection.execute(text("SELECT telegram_user_id, doctor_id FROM telegram_accounts"))
            ).one()
            assert tuple(account) == (7000000001, 1)

        await upgrade(empty_database_url)
        assert await _tables(engine) == TABLES
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_documents_followups_revision_removes_rejection_reasons_from_notifications(
    empty_database_url: str,
) -> None:
    """0007: a clinic system's rejection reason stored in clear in a notification (up to 0006) is removed."""
    await upgrade(empty_database_url, "0006")
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:
            for n, (kind, payload) in enumerate([
                ("document_status", '{"document_id":5,"kind":"prescription","locale":"ru","reason":"Препарат не '
                                    'входит в формуляр","status":"rejected"}'),
                ("document_status", '{"document_id":6,"kind":"referral","locale":"ru","status":"accepted"}'),
                ("announcement", '{"reason":"keep","text":"Собрание"}'),
            ]):
                await connection.execute(
                    _at(
                        "INSERT INTO notifications (chat_id, kind, urgency, payload, dedup_key, due_at, status, "
                        "attempts, next_attempt_at, created_at, updated_at) VALUES (1, :kind, 'routine', "
                        ":payload, :key, :t, 'sent', 0, :t, :t, :t)"
                    ),
                    {"kind": kind, "payload": payload, "key": f"k{n}"},
                )
        await upgrade(empty_database_url)
        assert await current(empty_database_url) == HEAD
        async with engine.connect() as connection:
            payloads = (await connection.execute(text("SELECT payload FROM notifications ORDER BY id"))).scalars().all()
        assert payloads == [
            '{"document_id":5,"kind":"prescription","locale":"ru","status":"rejected"}',
            '{"document_id":6,"kind":"referral","locale":"ru","status":"accepted"}',
            '{"reason":"keep","text":"Собрание"}',
        ]
    finally:
        await engine.dispose()


async def test_cross_clinic_moves_revision_down_and_up_keeps_the_history(empty_database_url: str) -> None:
    """0010 on a database with an appointment's history, and back: the events stay (on SQLite the
    batch copies and swaps ``appointment_events``), old rows get no clinic, and a deleted patient
    record or clinic only clears the reference."""
    await upgrade(empty_database_url, "0009")
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:
            for clinic in (1, 2):
                await connection.execute(
                    _at(
                        "INSERT INTO clinics (id, name, short_name, timezone, created_at) "
                        f"VALUES ({clinic}, 'ГП {clinic}', 'ГП {clinic}', 'Europe/Moscow', :t)"
                    )
                )
                await connection.execute(
                    _at(
                        "INSERT INTO patients (id, clinic_id, last_name, first_name, last_name_index, created_at) "
                        f"VALUES ({clinic}, {clinic}, 'x', 'y', 'z', :t)"
                    )
                )
            await connection.execute(
                _at(
                    "INSERT INTO doctors (id, last_name, first_name, created_at, updated_at) "
                    "VALUES (1, 'Петрова', 'Анна', :t, :t)"
                )
            )
            await connection.execute(
                _at(
                    "INSERT INTO appointments (id, doctor_id, clinic_id, patient_id, starts_at, ends_at, status, "
                    "version, created_at, updated_at) VALUES (1, 1, 2, 2, :t, :end, 'booked', 2, :t, :t)"
                ).bindparams(bindparam("end", datetime(2026, 12, 1, 9, 30, tzinfo=UTC), type_=UTCDateTime()))
            )
            await connection.execute(
                _at(
                    "INSERT INTO appointment_events (id, appointment_id, event, actor, version, from_starts_at, "
                    "from_ends_at, at) VALUES (1, 1, 'rescheduled', 'doctor:1', 2, :t, :t, :t)"
                )
            )

        await upgrade(empty_database_url)
        assert await current(empty_database_url) == HEAD
        async with engine.begin() as connection:
            old = (await connection.execute(text("SELECT from_clinic_id, from_patient_id FROM appointment_events"))).one()
            assert tuple(old) == (None, None)  # written before the clinic was recorded
            await connection.execute(text("UPDATE appointment_events SET from_clinic_id = 1, from_patient_id = 1"))
            await connection.execute(text("DELETE FROM patients WHERE id = 1"))
            moved = (await connection.execute(text("SELECT from_clinic_id, from_patient_id FROM appointment_events"))).one()
            assert tuple(moved) == (1, None)

        await downgrade(empty_database_url, "0009")
        assert await current(empty_database_url) == "0009"
        assert not {"from_clinic_id", "from_patient_id"} & await _columns(engine, "appointment_events")
        async with engine.connect() as connection:
            events = (await connection.execute(text("SELECT id, appointment_id, event FROM appointment_events"))).all()
            assert [tuple(row) for row in events] == [(1, 1, "rescheduled")]

        await upgrade(empty_database_url)
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
    finally:
        await engine.dispose()
