"""Telegram accounts, doctors, clinics and roles, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.crypto import BlindIndex
from storage.models import ClinicRole, Role, TelegramAccount
from storage.repositories import (
    AccountNotFound,
    ClinicRepository,
    ClinicRoleRepository,
    DoctorRepository,
    InvalidTimezone,
    TelegramAccountRepository,
    doctor_snils_hash,
)

BIG_ID = 7_000_000_001  # Telegram ids do not fit in 32 bits


async def _doctor(session: AsyncSession, oid: str | None = None, last_name: str = "Петрова") -> int:
    return (await DoctorRepository(session).add(last_name=last_name, first_name="Анна", esia_oid=oid)).id


async def test_upsert_creates_then_updates_only_on_change(session: AsyncSession) -> None:
    repo = TelegramAccountRepository(session)
    assert await repo.get(BIG_ID) is None
    account = await repo.upsert(BIG_ID, BIG_ID + 1)
    assert (account.telegram_user_id, account.chat_id, account.locale) == (BIG_ID, BIG_ID + 1, "ru")
    assert account.doctor_id is None and account.created_at.tzinfo is not None
    await session.commit()
    first_update = account.updated_at

    again = await repo.upsert(BIG_ID, BIG_ID + 1)
    assert again is account and not session.dirty and again.updated_at == first_update
    moved = await repo.upsert(BIG_ID, 42)
    await session.commit()
    assert moved.chat_id == 42 and moved.updated_at > first_update
    assert await session.scalar(select(func.count()).select_from(TelegramAccount)) == 1


async def test_upsert_racing_an_insert_from_another_session(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    async with session_maker() as first, session_maker() as second:
        await TelegramAccountRepository(first).upsert(5, 5)
        await first.commit()
        # ``second`` never saw the row: its upsert hits the conflict path instead of failing.
        account = await TelegramAccountRepository(second).upsert(5, 6)
        await second.commit()
        assert account.chat_id == 6
    async with session_maker() as check:
        assert (await TelegramAccountRepository(check).get(5)).chat_id == 6  # type: ignore[union-attr]


async def test_locale(session: AsyncSession) -> None:
    repo = TelegramAccountRepository(session)
    await repo.upsert(1, 1)
    assert (await repo.set_locale(1, "en")).locale == "en"
    await session.commit()
    session.expunge_all()
    assert (await repo.get(1)).locale == "en"  # type: ignore[union-attr]
    with pytest.raises(AccountNotFound):
        await repo.set_locale(2, "en")


async def test_link_and_unlink(session: AsyncSession) -> None:
    accounts, doctors = TelegramAccountRepository(session), DoctorRepository(session)
    doctor_id = await _doctor(session, oid="1000123456")
    await accounts.upsert(1, 1)
    account = await accounts.link_doctor(1, doctor_id)
    assert account.doctor_id == doctor_id and account.linked_at is not None
    await session.commit()
    assert (await doctors.get_by_telegram_user(1)).id == doctor_id  # type: ignore[union-attr]
    assert (await accounts.get_by_doctor(doctor_id)).telegram_user_id == 1  # type: ignore[union-attr]
    account = await accounts.unlink(1)
    assert account.doctor_id is None and account.linked_at is None
    await session.commit()
    assert await doctors.get_by_telegram_user(1) is None
    with pytest.raises(AccountNotFound):
        await accounts.link_doctor(99, doctor_id)


async def test_one_telegram_account_per_doctor(session: AsyncSession) -> None:
    accounts = TelegramAccountRepository(session)
    doctor_id = await _doctor(session)
    await accounts.upsert(1, 1)
    await accounts.upsert(2, 2)
    await accounts.link_doctor(1, doctor_id)
    await session.commit()
    with pytest.raises(IntegrityError):
        await accounts.link_doctor(2, doctor_id)
    await session.rollback()


async def test_doctor_lookups_and_unique_oid(session: AsyncSession) -> None:
    doctors = DoctorRepository(session)
    index = BlindIndex(bytes(32))
    snils = doctor_snils_hash(index, "112-233-445 95")
    assert snils == doctor_snils_hash(index, "11223344595")
    doctor = await doctors.add(
        last_name="Петрова",
        first_name="Анна",
        middle_name="Викторовна",
        specialty="терапевт",
        esia_oid="1000123456",
        snils_hash=snils,
    )
    await session.commit()
    assert await doctors.get(doctor.id) is doctor
    assert await doctors.get_by_oid("1000123456") is doctor
    assert await doctors.get_by_snils_hash(snils) is doctor
    assert await doctors.get_by_oid("nope") is None
    # Several doctors may still be unlinked (NULL oid), but an oid belongs to one doctor only.
    await _doctor(session)
    await _doctor(session)
    await session.commit()
    with pytest.raises(IntegrityError):
        await _doctor(session, oid="1000123456")
    await session.rollback()
    with pytest.raises(IntegrityError):
        await doctors.add(last_name="Другой", first_name="Врач", snils_hash=snils)
    await session.rollback()


async def test_updated_at_moves_on_change(session: AsyncSession) -> None:
    doctor = await DoctorRepository(session).add(last_name="Петрова", first_name="Анна")
    await session.commit()
    before = doctor.updated_at
    doctor.specialty = "кардиолог"
    await session.commit()
    assert doctor.updated_at > before and doctor.created_at <= before


async def test_clinics(session: AsyncSession) -> None:
    clinics = ClinicRepository(session)
    b = await clinics.add("Поликлиника №2", "П2", "Asia/Yekaterinburg")
    a = await clinics.add("Городская больница №1", "ГБ1", "Europe/Moscow")
    await session.commit()
    assert [c.id for c in await clinics.list()] == [a.id, b.id]
    assert await clinics.get(b.id) is b
    assert await clinics.by_name("Поликлиника №2") is b
    assert await clinics.by_name("нет такой") is None
    for bad in ("Mars/Olympus", "", "../etc/passwd", "MSK"):
        with pytest.raises(InvalidTimezone):
            await clinics.add("Третья", "3", bad)
    with pytest.raises(IntegrityError):
        await clinics.add("Поликлиника №2", "дубль", "UTC")
    await session.rollback()


async def test_roles(session: AsyncSession) -> None:
    roles = ClinicRoleRepository(session)
    clinic = await ClinicRepository(session).add("ГБ1", "ГБ1", "Europe/Moscow")
    other = await ClinicRepository(session).add("ГБ2", "ГБ2", "Europe/Moscow")
    doctor_id = await _doctor(session)
    grant = await roles.grant(doctor_id, clinic.id, Role.DOCTOR)
    assert await roles.grant(doctor_id, clinic.id, Role.DOCTOR) is grant  # idempotent
    await roles.grant(doctor_id, other.id, Role.ADMIN)
    await session.commit()
    session.expunge_all()
    assert [(r.clinic_id, r.role) for r in await roles.roles_of(doctor_id)] == [
        (clinic.id, Role.DOCTOR),
        (other.id, Role.ADMIN),
    ]
    assert await roles.has_role(doctor_id, clinic.id, Role.DOCTOR)
    assert not await roles.has_role(doctor_id, clinic.id, Role.ADMIN)
    assert await roles.revoke(doctor_id, other.id, Role.ADMIN)
    assert not await roles.revoke(doctor_id, other.id, Role.ADMIN)
    await session.commit()
    assert not await roles.has_role(doctor_id, other.id, Role.ADMIN)


async def test_role_grant_is_unique_in_the_database(session: AsyncSession) -> None:
    clinic = await ClinicRepository(session).add("ГБ1", "ГБ1", "Europe/Moscow")
    doctor_id = await _doctor(session)
    session.add(ClinicRole(doctor_id=doctor_id, clinic_id=clinic.id, role=Role.ADMIN))
    await session.commit()
    session.add(ClinicRole(doctor_id=doctor_id, clinic_id=clinic.id, role=Role.ADMIN))
    with pytest.raises(IntegrityError):
        await session.commit()
    await session.rollback()
