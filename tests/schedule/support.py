"""A schedule world for tests: clinics in three time zones, doctors with roles, patients, shifts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.keys import Crypto
from services.identity.linking import CONSENT_KIND, CONSENT_VERSION
from storage.models.clinic_role import Role
from storage.models.shift import SHIFT_PUBLISHED
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.consents import ConsentRepository
from storage.repositories.doctor_profiles import DoctorProfileRepository, PositionData
from storage.repositories.doctors import DoctorRepository
from storage.repositories.patients import PatientData, PatientRepository
from storage.repositories.schedule import ShiftRepository
from storage.repositories.security import SecurityRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository

ANNA = PatientData("Петрова", "Анна", "Викторовна", date(1971, 12, 11), "7700000000000011")
IVAN = PatientData("Сидоров", "Иван", "Петрович", date(1990, 1, 1), "7700000000000022")
DARIA = PatientData("Петрова", "Дарья", "Андреевна", date(2010, 12, 11), "2500000000000051")
OLEG = PatientData("Орлов", "Олег", None, date(1985, 6, 1), "3900000000000077")


@dataclass
class World:
    moscow: int
    vladivostok: int
    kaliningrad: int
    doctor: int  # works in all three
    other_doctor: int  # works in Moscow
    admin: int  # administers Moscow
    anna: int  # Moscow patient
    ivan: int  # Moscow patient
    daria: int  # Vladivostok patient
    oleg: int  # Kaliningrad patient


DOCTOR_TG = 7_001
OTHER_TG = 7_002
ADMIN_TG = 7_003


async def add_doctor(
    session: AsyncSession, tg: int, oid: str, grants: Sequence[tuple[int, Role]], *, last_name: str = "Иванов"
) -> int:
    doctor = await DoctorRepository(session).add(last_name=last_name, first_name="Сергей", esia_oid=oid)
    await DoctorProfileRepository(session).replace_positions(
        doctor.id, [PositionData(f"1.2.{oid}.{i}", "ГБУЗ", "врач", "Терапия", role) for i, (_, role) in enumerate(grants)]
    )
    accounts = TelegramAccountRepository(session)
    await accounts.upsert(tg, tg)
    await accounts.link_doctor(tg, doctor.id)
    now = datetime.now(UTC)
    await ConsentRepository(session).record(doctor.id, CONSENT_KIND, CONSENT_VERSION, True, now)
    for clinic_id, role in grants:
        await ClinicRoleRepository(session).grant(doctor.id, clinic_id, role)
    security = SecurityRepository(session)
    await security.set_pin_hash(doctor.id, "scrypt$test", now)
    await security.record_success(doctor.id, now)
    return doctor.id


async def make_world(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto) -> World:
    async with session_maker() as session:
        clinics = ClinicRepository(session)
        moscow = (await clinics.add("ГП № 1", "ГП № 1", "Europe/Moscow")).id
        vladivostok = (await clinics.add("ДП № 2", "ДП № 2", "Asia/Vladivostok")).id
        kaliningrad = (await clinics.add("ГБ № 3", "ГБ № 3", "Europe/Kaliningrad")).id
        doctor = await add_doctor(
            session, DOCTOR_TG, "1001", [(moscow, Role.DOCTOR), (vladivostok, Role.DOCTOR), (kaliningrad, Role.DOCTOR)]
        )
        other = await add_doctor(session, OTHER_TG, "1002", [(moscow, Role.DOCTOR)], last_name="Смирнов")
        admin = await add_doctor(session, ADMIN_TG, "1003", [(moscow, Role.ADMIN)], last_name="Волкова")
        patients = PatientRepository(session, crypto.cipher, crypto.index)
        anna = (await patients.add(moscow, ANNA)).id
        ivan = (await patients.add(moscow, IVAN)).id
        daria = (await patients.add(vladivostok, DARIA)).id
        oleg = (await patients.add(kaliningrad, OLEG)).id
        await session.commit()
    return World(moscow, vladivostok, kaliningrad, doctor, other, admin, anna, ivan, daria, oleg)


def local(day: date, hour: int, minute: int, tz: str) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz)).astimezone(UTC)


async def add_shift(
    session_maker: async_sessionmaker[AsyncSession],
    doctor_id: int,
    clinic_id: int,
    day: date,
    tz: str,
    start: tuple[int, int] = (9, 0),
    end: tuple[int, int] = (13, 0),
    slot_minutes: int = 30,
    breaks: Sequence[tuple[tuple[int, int], tuple[int, int]]] = (),
    status: str = SHIFT_PUBLISHED,
) -> int:
    async with session_maker() as session:
        shift = await ShiftRepository(session).add(
            doctor_id,
            clinic_id,
            local(day, *start, tz),
            local(day, *end, tz),
            slot_minutes,
            [(local(day, *b[0], tz), local(day, *b[1], tz)) for b in breaks],
            status,
        )
        await session.commit()
        return shift.id


def tomorrow_in(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date() + timedelta(days=1)


async def register_patient(
    session_maker: async_sessionmaker[AsyncSession], crypto: Crypto, clinic_id: int, data: PatientData
) -> int:
    """Another record of a patient, in ``clinic_id`` (the same person in a second clinic: same data,
    same policy number)."""
    async with session_maker() as session:
        patient = await PatientRepository(session, crypto.cipher, crypto.index).add(clinic_id, data)
        await session.commit()
        return patient.id
