"""Picking a patient from today's schedule or the recently seen (for the documents' conversations):
masked names, appointment order, each patient once, only the doctor's own, audited."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.keys import Crypto
from services.errors import DomainError
from services.schedule.patient_choice import PatientChoiceService
from services.uow import UnitOfWork
from storage.repositories.schedule import AppointmentRepository
from tests.flow.conftest import make_test_crypto
from tests.schedule.support import ADMIN_TG, DOCTOR_TG, OTHER_TG, World, local, make_world

MSK, VVO, KGD = "Europe/Moscow", "Asia/Vladivostok", "Europe/Kaliningrad"
DAY = date(2030, 3, 12)
NOW = local(DAY, 12, 0, MSK)


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
async def world(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto) -> World:
    return await make_world(session_maker, crypto)


async def add(
    session_maker: async_sessionmaker[AsyncSession], doctor: int, clinic: int, patient: int, start: datetime, status: str = "booked"
) -> None:
    async with session_maker() as session:
        row = await AppointmentRepository(session).add(doctor, clinic, patient, start, start + timedelta(minutes=30), actor="t")
        if status != "booked":
            await session.execute(text("UPDATE appointments SET status = :s WHERE id = :i"), {"s": status, "i": row.id})
        await session.commit()


async def choices(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto, tg: int, clinic: int | None = None) -> tuple[list[tuple[str, int | None]], list[tuple[str, int | None]]]:
    async with UnitOfWork(session_maker) as uow:
        found = await PatientChoiceService(uow, crypto.cipher, now=lambda: NOW).choices(tg, clinic)
    return [(o.name, o.age) for o in found.today], [(o.name, o.age) for o in found.recent]


async def test_todays_patients_in_order_then_the_recently_seen(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    w = world
    await add(session_maker, w.doctor, w.moscow, w.anna, local(DAY, 15, 0, MSK))
    await add(session_maker, w.doctor, w.moscow, w.anna, local(DAY, 16, 0, MSK))  # twice today: listed once
    await add(session_maker, w.doctor, w.moscow, w.ivan, local(DAY, 9, 0, MSK), "fulfilled")
    await add(session_maker, w.doctor, w.vladivostok, w.daria, local(DAY, 9, 0, VVO))  # 23:00 UTC the day before
    await add(session_maker, w.doctor, w.kaliningrad, w.oleg, local(DAY, 10, 0, KGD), "noshow")  # not today's
    await add(session_maker, w.doctor, w.kaliningrad, w.oleg, local(DAY - timedelta(days=5), 10, 0, KGD), "fulfilled")
    await add(session_maker, w.doctor, w.moscow, w.ivan, local(DAY - timedelta(days=3), 10, 0, MSK), "fulfilled")  # today's already
    await add(session_maker, w.doctor, w.moscow, w.anna, local(DAY - timedelta(days=40), 10, 0, MSK), "fulfilled")  # too long ago
    await add(session_maker, w.other_doctor, w.moscow, w.oleg, local(DAY, 13, 0, MSK))  # another doctor's

    today, recent = await choices(session_maker, crypto, DOCTOR_TG)
    assert today == [("Петрова Д. А.", 19), ("Сидоров И. П.", 40), ("Петрова А. В.", 58)]
    assert recent == [("Орлов О.", 44)]
    assert await choices(session_maker, crypto, DOCTOR_TG, w.moscow) == ([("Сидоров И. П.", 40), ("Петрова А. В.", 58)], [])
    assert await choices(session_maker, crypto, OTHER_TG) == ([("Орлов О.", 44)], [])
    async with session_maker() as session:
        audited = (await session.execute(text("SELECT count(*) FROM audit_events WHERE operation = 'patient_choice' AND outcome = 'ok'"))).scalar()
    assert audited == 3  # one record per call


async def test_an_administrator_or_another_clinic_gets_no_patients(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    await add(session_maker, world.doctor, world.moscow, world.anna, local(DAY, 15, 0, MSK))
    with pytest.raises(DomainError):
        await choices(session_maker, crypto, ADMIN_TG)
    with pytest.raises(DomainError):
        await choices(session_maker, crypto, OTHER_TG, world.vladivostok)
