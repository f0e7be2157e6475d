"""Clinics as organisations of the register (their OID), and searching patients across clinics."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import BlindIndex, FieldCipher
from storage.db import create_engine
from storage.migrate import current, downgrade, upgrade
from storage.models import UTCDateTime
from storage.repositories import ClinicRepository, InvalidOrganizationOid, PatientData, PatientRepository

OID_1 = "1.2.643.5.1.13.13.12.2.77.7701"
OID_2 = "1.2.643.5.1.13.13.12.2.25.2501"


async def test_organization_oid_lookups_and_uniqueness(session: AsyncSession) -> None:
    clinics = ClinicRepository(session)
    first = await clinics.add("ГП1", "ГП1", "Europe/Moscow", OID_1)
    second = await clinics.add("ГП2", "ГП2", "Asia/Vladivostok")
    await clinics.add("ГП3", "ГП3", "Europe/Moscow")  # several clinics may have no OID
    await session.commit()
    assert await clinics.by_organization_oid(OID_1) is first
    assert await clinics.by_organization_oid(OID_2) is None
    assert await clinics.by_organization_oids(set()) == []
    assert await clinics.set_organization_oid(second.id, OID_2) is second
    await session.commit()
    assert [c.id for c in await clinics.by_organization_oids([OID_2, OID_1, "1.2.3"])] == [first.id, second.id]
    assert [c.id for c in await clinics.by_ids({second.id, first.id})] == [first.id, second.id]
    assert await clinics.set_organization_oid(10_000, OID_1) is None
    for bad in ("", "7701", "1.2.x", "1..2", " 1.2", "1." * 40 + "1"):
        with pytest.raises(InvalidOrganizationOid):
            await clinics.add("ГП4", "ГП4", "UTC", bad)
    with pytest.raises(IntegrityError):
        await clinics.add("ГП5", "ГП5", "UTC", OID_1)
    await session.rollback()


async def test_search_across_clinics_with_a_limit(session: AsyncSession) -> None:
    repo = PatientRepository(session, FieldCipher({"k1": bytes(range(32))}, "k1"), BlindIndex(bytes(range(2, 34))))
    clinics = ClinicRepository(session)
    a = (await clinics.add("A", "A", "Europe/Moscow")).id
    b = (await clinics.add("B", "B", "Europe/Moscow")).id
    c = (await clinics.add("C", "C", "Europe/Moscow")).id
    in_a = [(await repo.add(a, PatientData("Семёнова", f"А{i}", None, date(1990, 1, 1)))).id for i in range(3)]
    in_b = (await repo.add(b, PatientData("семенова", "Б", policy_number="7700 0000 0000 0011"))).id
    await repo.add(c, PatientData("Семёнова", "В", policy_number="7700 0000 0000 0011"))
    await repo.add(a, PatientData("Семёнов", "Г"))
    await session.commit()

    found = await repo.search([b, a], last_name="СЕМЕНОВА", limit=10)
    assert [p.id for p in found] == [*in_a, in_b]
    assert found[0].birth_date == date(1990, 1, 1)
    assert [p.id for p in await repo.search([a, b], last_name="Семёнова", limit=2)] == in_a[:2]
    assert [p.id for p in await repo.search([a, b], policy_number="7700000000000011", limit=10)] == [in_b]
    assert await repo.search([], last_name="Семёнова", limit=10) == []
    with pytest.raises(ValueError, match="exactly one"):
        await repo.search([a], limit=1)


async def test_clinic_organization_revision_down_and_up_keeps_the_clinics(empty_database_url: str) -> None:
    await upgrade(empty_database_url, "0002")
    engine = create_engine(empty_database_url)
    at = bindparam("t", datetime(2026, 12, 1, 9, tzinfo=UTC), type_=UTCDateTime())
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO clinics (id, name, short_name, timezone, created_at) VALUES "
                    "(1, 'ГП1', 'ГП1', 'Europe/Moscow', :t), (2, 'ГП2', 'ГП2', 'Asia/Vladivostok', :t)"
                ).bindparams(at)
            )
            await connection.execute(
                text(
                    "INSERT INTO doctors (id, last_name, first_name, created_at, updated_at) "
                    "VALUES (1, 'Иванов', 'Сергей', :t, :t)"
                ).bindparams(at)
            )
            await connection.execute(
                text("INSERT INTO clinic_roles (doctor_id, clinic_id, role) VALUES (1, 1, 'doctor')")
            )
        await upgrade(empty_database_url, "0003")
        assert await current(empty_database_url) == "0003"
        async with engine.begin() as connection:
            await connection.execute(text(f"UPDATE clinics SET organization_oid = '{OID_1}' WHERE id = 1"))
        async with engine.connect() as connection:
            with pytest.raises(IntegrityError):
                await connection.execute(text(f"UPDATE clinics SET organization_oid = '{OID_1}' WHERE id = 2"))
            await connection.rollback()

        await downgrade(empty_database_url, "0002")
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT id, name FROM clinics ORDER BY id"))).all()
            roles = (await connection.execute(text("SELECT doctor_id, clinic_id FROM clinic_roles"))).all()
        assert [tuple(r) for r in rows] == [(1, "ГП1"), (2, "ГП2")]
        assert [tuple(r) for r in roles] == [(1, 1)]
        await upgrade(empty_database_url)
        async with engine.connect() as connection:
            oids = (await connection.execute(text("SELECT organization_oid FROM clinics"))).scalars().all()
        assert oids == [None, None]
    finally:
        await engine.dispose()
