"""The schedule's figures, each against a baseline measured in the same run.

1. Updates per second: aiogram's bare echo vs a doctor's day view with 40 appointments (the full
   stack: middlewares, routers, the access check with the PIN idle timeout, 40 patients decrypted
   and masked, the audit record, the message), pressing the day in the navigation. As in
   production, the first press reads the database and the next ones are served from the read
   cache while nothing they read changed (``services.read_cache``); every press is audited (in
   batches) and the bench checks each one is in the log. The same press without the cache is
   measured too (``uncached_ups``).
2. With ``--postgres URL``: the booking-conflict check on a table of 1,000,000 appointments —
   the EXPLAIN plan of the one query (it must use an index) and its time vs a primary-key lookup.

    .venv/bin/python -m bench.schedule [--updates 1000] [--rounds 5] [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test]

Bare echo and the day view alternate for ``--rounds`` rounds; each side's best round counts.
The last line is ``bare_ups=… day_view_ups=… ratio=… median_ratio=… uncached_ups=…`` (plus the conflict-check timings with --postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from bench.dispatch import USERS, _measure, bare_dispatcher
from bot.keys import Crypto
from bot.middlewares.services import ServicesMiddleware
from handlers.schedule_ui import DayCallback
from services.audit import AuditBuffer
from services.identity.access import SecurityPolicy
from services.read_cache import ReadCache
from storage.changes import ChangeEpochs
from storage.crypto import BlindIndex, FieldCipher, generate_key
from storage.db import create_engine, make_session_maker
from storage.fsm import SQLStorage
from storage.migrate import upgrade
from storage.models.clinic_role import Role
from storage.repositories.clinics import ClinicRepository
from storage.repositories.patients import PatientData, PatientRepository
from storage.repositories.schedule import AppointmentRepository, ShiftRepository, conflict_query
from tests.schedule.support import add_doctor, local
from tests.support.dispatcher import production_dispatcher
from tests.support.updates import callback, message

LOCALES = Path(__file__).resolve().parent.parent / "locales"
DOCTOR_TG = 9_100
APPOINTMENTS = 40
MSK = "Europe/Moscow"


async def _seed_day(url: str, crypto: Crypto, day: date) -> None:
    session_maker = make_session_maker(engine := create_engine(url))
    async with session_maker() as session:
        clinic = await ClinicRepository(session).add("ГП № 1", "ГП № 1", MSK)
        doctor = await add_doctor(session, DOCTOR_TG, "9100", [(clinic.id, Role.DOCTOR)])
        patients = PatientRepository(session, crypto.cipher, crypto.index)
        await ShiftRepository(session).add(doctor, clinic.id, local(day, 8, 0, MSK), local(day, 20, 0, MSK), 15)
        repository = AppointmentRepository(session)
        for i in range(APPOINTMENTS):
            patient = await patients.add(
                clinic.id, PatientData(f"Петрова{i}", "Анна", "Викторовна", date(1970, 1, 1 + i % 28))
            )
            start = local(day, 8, 0, MSK) + timedelta(minutes=15 * i)
            reason = crypto.cipher.encrypt("Повторный приём", "appointments.reason")
            await repository.add(
                doctor, clinic.id, patient.id, start, start + timedelta(minutes=15), reason=reason, actor="bench"
            )
        await session.commit()
    await engine.dispose()


async def day_view(count: int, rounds: int = 5) -> tuple[float, float, float, float]:
    """Bare echo and the day view measured in alternating rounds (fresh update ids each time);
    each side's best round counts, so a burst from another process on this shared machine
    does not decide the ratio. Returns (bare, day view, median of the per-round ratios, and the
    day view without the read cache: every press read from the database and audited in its own
    transaction, as before the cache)."""
    crypto = Crypto(FieldCipher({"b1": generate_key()}, "b1"), BlindIndex(generate_key()))
    day = datetime.now(UTC).date() + timedelta(days=3)
    bare = bare_dispatcher()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade(url)
        await _seed_day(url, crypto, day)
        engine = create_engine(url)
        # Wired as bot.runtime wires it: change epochs for the read cache, reads audited in batches.
        epochs = ChangeEpochs()
        session_maker = make_session_maker(engine, epochs)
        storage = SQLStorage(session_maker)
        audit = AuditBuffer(session_maker)
        # An idle timeout longer than the run: the bench measures the view, not PIN prompts.
        policy = SecurityPolicy(idle_timeout=timedelta(hours=2))
        dp = production_dispatcher(
            session_maker, storage, ServicesMiddleware(crypto, None, policy, cache=ReadCache(epochs), audit=audit)
        )
        press = DayCallback(day=day.toordinal()).pack()
        bare_rounds, day_rounds = [], []
        for _ in range(rounds):
            bare_updates = [message(f"text {i}", user_id=5000 + i % USERS) for i in range(count + USERS)]
            bare_rounds.append(await _measure(bare, bare_updates))
            updates = [callback(press, user_id=DOCTOR_TG, message_id=7) for _ in range(count + USERS)]
            day_rounds.append(await _measure(dp, updates))
        await audit.close()
        uncached = production_dispatcher(session_maker, storage, ServicesMiddleware(crypto, None, policy))
        uncached_updates = [callback(press, user_id=DOCTOR_TG, message_id=7) for _ in range(count // 5 + USERS)]
        uncached_ups = await _measure(uncached, uncached_updates)
        async with session_maker() as session:
            audited = await session.scalar(text("SELECT count(*) FROM audit_events WHERE operation = 'schedule_view'"))
        # Every press is a read of patient data: each one must be in the audit log.
        expected = rounds * (count + USERS) + len(uncached_updates)
        assert audited == expected, (audited, expected)
        await storage.close()
        await engine.dispose()
    ratios = sorted(d / b for b, d in zip(bare_rounds, day_rounds, strict=True))
    return max(bare_rounds), max(day_rounds), ratios[len(ratios) // 2], uncached_ups


# --- 1,000,000 appointments in PostgreSQL --------------------------------------------------------

DOCTORS = 1000
PER_DOCTOR = 1000


async def conflict_check(base_url: str) -> tuple[float, float, list[str]]:
    name = f"medcab_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade(url)
        engine = create_engine(url)
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO clinics (id, name, short_name, timezone, created_at) VALUES (1, 'ГП', 'ГП', 'Europe/Moscow', now())"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO doctors (id, last_name, first_name, created_at, updated_at) "
                    "SELECT g, 'Врач', 'Имя', now(), now() FROM generate_series(1, :n) g"
                ),
                {"n": DOCTORS},
            )
            await conn.execute(
                text(
                    "INSERT INTO patients (id, clinic_id, last_name, first_name, last_name_index, created_at) "
                    "VALUES (1, 1, 'x', 'x', 'x', now())"
                )
            )
            # Each doctor: PER_DOCTOR back-to-back 30-minute appointments (no overlaps: the
            # exclusion constraint checks every one of the million rows on the way in).
            await conn.execute(
                text(
                    "INSERT INTO appointments (doctor_id, clinic_id, patient_id, starts_at, ends_at, status, version, created_at, updated_at) "
                    "SELECT d, 1, 1, t, t + interval '30 minutes', 'booked', 1, now(), now() "
                    "FROM generate_series(1, :d) d, "
                    "LATERAL (SELECT timestamptz '2026-01-01 06:00+00' + (i * interval '30 minutes') AS t FROM generate_series(0, :p - 1) i) s"
                ),
                {"d": DOCTORS, "p": PER_DOCTOR},
            )
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE appointments"))
            count = await conn.scalar(text("SELECT count(*) FROM appointments"))
        print(f"seeded {count:,} appointments in {time.perf_counter() - started:.1f} s")

        probe_start = datetime(2026, 1, 10, 9, 15, tzinfo=UTC)
        probe_end = probe_start + timedelta(minutes=30)
        async with engine.connect() as conn:
            # The statement the repository runs, with its parameters inlined for EXPLAIN.
            statement = conflict_query(500, probe_start, probe_end)
            sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
            plan = [row[0] for row in await conn.execute(text("EXPLAIN (ANALYZE, COSTS OFF) " + sql))]
        session_maker = make_session_maker(engine)
        async with session_maker() as session:
            repository = AppointmentRepository(session)
            assert await repository.has_conflict(500, probe_start, probe_end)
            rounds = 2000
            started = time.perf_counter()
            for i in range(rounds):
                await repository.has_conflict(1 + i % DOCTORS, probe_start, probe_end)
            conflict_ms = (time.perf_counter() - started) / rounds * 1000
            started = time.perf_counter()
            for i in range(rounds):
                await session.scalar(text("SELECT 1 FROM appointments WHERE id = :i"), {"i": 1 + i * 97})
            pk_ms = (time.perf_counter() - started) / rounds * 1000
        await engine.dispose()
        return conflict_ms, pk_ms, plan
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def main(count: int, rounds: int, postgres: str | None) -> None:
    bare_ups, day_ups, median_ratio, uncached_ups = await day_view(count, rounds)
    ratio = day_ups / bare_ups
    print(f"bare aiogram echo (best of {rounds}):  {bare_ups:8.0f} updates/s")
    print(f"day view, 40 appointments:      {day_ups:8.0f} updates/s  ({ratio:.0%} of bare; target ≥ 30%)")
    print(f"median of the per-round ratios: {median_ratio:.3f}")
    print(
        f"day view without the read cache: {uncached_ups:7.0f} updates/s  (every press read and audited in its transaction)"
    )
    tail = ""
    if postgres:
        conflict_ms, pk_ms, plan = await conflict_check(postgres)
        print("EXPLAIN of the booking-conflict check (1,000,000 appointments):")
        for line in plan:
            print("    " + line)
        print(f"conflict check: {conflict_ms:.3f} ms/query (primary-key lookup: {pk_ms:.3f} ms/query)")
        uses_index = any("Index" in line for line in plan) and not any("Seq Scan" in line for line in plan)
        tail = f" conflict_ms={conflict_ms:.3f} pk_ms={pk_ms:.3f} conflict_uses_index={str(uses_index).lower()}"
    print(
        f"bare_ups={bare_ups:.0f} day_view_ups={day_ups:.0f} ratio={ratio:.3f} median_ratio={median_ratio:.3f} uncached_ups={uncached_ups:.0f}{tail}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL allowed to CREATE DATABASE")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.updates, arguments.rounds, arguments.postgres))
