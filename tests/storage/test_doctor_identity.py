"""The doctor's side of identity: register profile and positions, consent, PIN and lock, and removal."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.crypto import FieldCipher
from storage.models import (
    PERSONAL_DATA,
    AuditEvent,
    ClinicRole,
    Consent,
    Doctor,
    DoctorPosition,
    DoctorSecurity,
    EsiaToken,
    Role,
    TelegramAccount,
)
from storage.repositories import (
    AuditRepository,
    ClinicRepository,
    ClinicRoleRepository,
    ConsentRepository,
    DoctorNotFound,
    DoctorProfileRepository,
    DoctorRepository,
    EsiaTokenRepository,
    PositionData,
    SecurityRepository,
    TelegramAccountRepository,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LOCK = timedelta(minutes=30)
PIN_HASH = "$scrypt$ln=15,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"

CITY = PositionData(
    organization_oid="1.2.643.5.1.13.13.12.2.77.7973",
    organization_name="ГБУЗ «Городская поликлиника № 1»",
    position="врач-терапевт участковый",
    specialty="терапия",
    start_date=date(2019, 9, 1),
)
HEAD = PositionData(
    organization_oid="1.2.643.5.1.13.13.12.2.77.8001",
    organization_name="ООО «Клиника»",
    position="заведующий отделением",
    role=Role.ADMIN,
)


async def _doctor(session: AsyncSession, last_name: str = "Петрова") -> int:
    return (await DoctorRepository(session).add(last_name=last_name, first_name="Анна")).id


# --- profile and positions ----------------------------------------------------------------------


async def test_new_doctor_has_an_empty_profile(session: AsyncSession) -> None:
    doctor_id = await _doctor(session)
    await session.commit()
    session.expunge_all()
    doctor = await session.get(Doctor, doctor_id)
    assert doctor is not None and doctor.esia_trusted is False
    assert doctor.register_id is doctor.accreditation_valid_until is doctor.profile_refreshed_at is None
    # The server default too (rows written without the ORM, e.g. by an older version).
    await session.execute(
        text("INSERT INTO doctors (last_name, first_name, created_at, updated_at) VALUES ('Л', 'И', :t, :t)"),
        {"t": NOW.replace(tzinfo=None)},
    )
    assert await session.scalar(select(func.count()).select_from(Doctor).where(Doctor.esia_trusted.is_(False))) == 2


async def test_update_profile(session: AsyncSession) -> None:
    repo = DoctorProfileRepository(session)
    doctor_id = await _doctor(session)
    doctor = await repo.update_profile(
        doctor_id,
        register_id="FRMR-0001",
        accreditation_kind="периодическая",
        accreditation_specialty="терапия",
        accreditation_number="7722 031234567",
        accreditation_valid_until=date(2029, 3, 31),
        profile_refreshed_at=NOW,
        esia_trusted=True,
        specialty="терапевт",
    )
    assert doctor.register_id == "FRMR-0001"
    await session.commit()
    session.expunge_all()
    reloaded = await DoctorRepository(session).get(doctor_id)
    assert reloaded is not None
    doctor = reloaded
    assert (doctor.accreditation_kind, doctor.accreditation_number) == ("периодическая", "7722 031234567")
    assert doctor.accreditation_valid_until == date(2029, 3, 31)
    assert doctor.profile_refreshed_at == NOW and doctor.esia_trusted is True and doctor.specialty == "терапевт"
    await repo.update_profile(doctor_id, accreditation_valid_until=None)
    assert doctor.accreditation_valid_until is None and doctor.register_id == "FRMR-0001"

    with pytest.raises(DoctorNotFound):
        await repo.update_profile(doctor_id + 100, esia_trusted=True)
    with pytest.raises(TypeError, match="esia_oid"):
        await repo.update_profile(doctor_id, esia_oid="1000")  # type: ignore[call-arg]


async def test_replace_positions(session: AsyncSession) -> None:
    repo = DoctorProfileRepository(session)
    doctor_id, other_id = await _doctor(session), await _doctor(session, "Иванов")
    await repo.replace_positions(other_id, [CITY])
    rows = await repo.replace_positions(doctor_id, [CITY, HEAD])
    assert [row.id is not None for row in rows] == [True, True]
    await session.commit()
    session.expunge_all()

    stored = await repo.positions(doctor_id)
    assert [(p.organization_oid, p.position, p.role) for p in stored] == [
        (CITY.organization_oid, CITY.position, Role.DOCTOR),
        (HEAD.organization_oid, HEAD.position, Role.ADMIN),
    ]
    assert (stored[0].start_date, stored[0].specialty) == (date(2019, 9, 1), "терапия")
    assert (stored[1].start_date, stored[1].specialty) == (None, None)
    assert stored[0].organization_name == "ГБУЗ «Городская поликлиника № 1»"

    await repo.replace_positions(doctor_id, [HEAD])
    await session.commit()
    assert [p.position for p in await repo.positions(doctor_id)] == [HEAD.position]
    await repo.replace_positions(doctor_id, [])
    assert await repo.positions(doctor_id) == []
    assert [p.position for p in await repo.positions(other_id)] == [CITY.position]  # untouched


async def test_position_role_is_checked_by_the_database(session: AsyncSession) -> None:
    doctor_id = await _doctor(session)
    await session.commit()
    with pytest.raises(IntegrityError):
        await session.execute(
            text(
                "INSERT INTO doctor_positions (doctor_id, organization_oid, organization_name, position, role) "
                "VALUES (:d, '1', 'О', 'врач', 'owner')"
            ),
            {"d": doctor_id},
        )
    await session.rollback()


# --- consent ------------------------------------------------------------------------------------


async def test_consent_record_and_has_accepted(session: AsyncSession) -> None:
    repo = ConsentRepository(session)
    doctor_id = await _doctor(session)
    assert await repo.current(doctor_id, PERSONAL_DATA) is None
    assert not await repo.has_accepted(doctor_id, PERSONAL_DATA, "1")

    accepted = await repo.record(doctor_id, PERSONAL_DATA, "1", True, NOW)
    assert (accepted.accepted_at, accepted.declined_at) == (NOW, None)
    await session.commit()
    assert await repo.has_accepted(doctor_id, PERSONAL_DATA, "1")
    assert not await repo.has_accepted(doctor_id, PERSONAL_DATA, "2")
    assert not await repo.has_accepted(doctor_id, "marketing", "1")

    # A new version of the text: the latest answer is the current one.
    later = NOW + timedelta(days=30)
    declined = await repo.record(doctor_id, PERSONAL_DATA, "2", False, later)
    assert (declined.accepted_at, declined.declined_at) == (None, later)
    current = await repo.current(doctor_id, PERSONAL_DATA)
    assert current is not None and current.version == "2" and current.declined_at == later
    assert not await repo.has_accepted(doctor_id, PERSONAL_DATA, "2")

    # Answering the same version again replaces the answer (one row per version).
    again = await repo.record(doctor_id, PERSONAL_DATA, "2", True, later + timedelta(minutes=1))
    assert again.id == declined.id and again.declined_at is None
    assert await repo.has_accepted(doctor_id, PERSONAL_DATA, "2")
    await repo.record(doctor_id, PERSONAL_DATA, "1", False, later + timedelta(minutes=2))
    assert not await repo.has_accepted(doctor_id, PERSONAL_DATA, "1")
    current = await repo.current(doctor_id, PERSONAL_DATA)
    assert current is not None and current.version == "1"
    await session.commit()
    rows = await session.scalar(select(func.count()).select_from(Consent).where(Consent.doctor_id == doctor_id))
    assert rows == 2


async def test_consent_constraints(session: AsyncSession) -> None:
    doctor_id = await _doctor(session)
    session.add(Consent(doctor_id=doctor_id, kind=PERSONAL_DATA, version="1", accepted_at=NOW))
    await session.commit()
    session.add(Consent(doctor_id=doctor_id, kind=PERSONAL_DATA, version="1", declined_at=NOW))
    with pytest.raises(IntegrityError):
        await session.commit()
    await session.rollback()
    session.add(Consent(doctor_id=doctor_id, kind=PERSONAL_DATA, version="2", accepted_at=NOW, declined_at=NOW))
    with pytest.raises(IntegrityError):
        await session.commit()
    await session.rollback()


# --- PIN and lock -------------------------------------------------------------------------------


async def test_pin_failures_lock_at_max_and_reset(session: AsyncSession) -> None:
    repo = SecurityRepository(session)
    doctor_id = await _doctor(session)
    assert await repo.get(doctor_id) is None
    security = await repo.set_pin_hash(doctor_id, PIN_HASH, NOW)
    assert (security.pin_hash, security.pin_set_at, security.failed_attempts) == (PIN_HASH, NOW, 0)
    await session.commit()

    for n in (1, 2, 3, 4):
        assert await repo.record_failure(doctor_id, NOW, 5, LOCK) == (n, None)
    fifth = NOW + timedelta(seconds=5)
    assert await repo.record_failure(doctor_id, fifth, 5, LOCK) == (0, fifth + LOCK)
    await session.commit()
    session.expunge_all()
    stored = await repo.get(doctor_id)
    assert stored is not None
    assert (stored.failed_attempts, stored.locked_until, stored.pin_hash) == (0, fifth + LOCK, PIN_HASH)

    # A failure during the lock counts and reports the lock still in force.
    assert await repo.record_failure(doctor_id, fifth, 5, LOCK) == (1, fifth + LOCK)
    # Past the lock: counting goes on, no lock reported.
    assert await repo.record_failure(doctor_id, fifth + LOCK, 5, LOCK) == (2, None)

    verified_at = fifth + LOCK + timedelta(minutes=1)
    success = await repo.record_success(doctor_id, verified_at)
    assert (success.failed_attempts, success.locked_until, success.last_verified_at) == (0, None, verified_at)
    assert success.pin_hash == PIN_HASH
    assert await repo.record_failure(doctor_id, verified_at, 5, LOCK) == (1, None)


async def test_pin_failure_creates_the_row_and_limits_are_checked(session: AsyncSession) -> None:
    repo = SecurityRepository(session)
    doctor_id, other_id = await _doctor(session), await _doctor(session, "Иванов")
    assert await repo.record_failure(doctor_id, NOW, 3, LOCK) == (1, None)
    assert await repo.record_failure(other_id, NOW, 1, LOCK) == (0, NOW + LOCK)  # a single try allowed
    assert await repo.record_failure(other_id, NOW, 1, LOCK) == (0, NOW + LOCK)
    for bad in ((0, LOCK), (3, timedelta(0)), (3, -LOCK)):
        with pytest.raises(ValueError):
            await repo.record_failure(doctor_id, NOW, *bad)
    with pytest.raises(IntegrityError):
        await repo.record_failure(other_id + 100, NOW, 3, LOCK)  # no such doctor
    await session.rollback()


async def test_set_pin_clears_failures_and_lock(session: AsyncSession) -> None:
    repo = SecurityRepository(session)
    doctor_id = await _doctor(session)
    await repo.record_failure(doctor_id, NOW, 1, LOCK)
    await repo.record_success(doctor_id, NOW)
    await repo.record_failure(doctor_id, NOW, 1, LOCK)
    security = await repo.set_pin_hash(doctor_id, "new-hash", NOW + timedelta(hours=1))
    assert (security.failed_attempts, security.locked_until, security.pin_hash) == (0, None, "new-hash")
    assert security.last_verified_at == NOW  # left to record_success


async def test_touch_get_or_create_and_clear(session: AsyncSession) -> None:
    repo = SecurityRepository(session)
    doctor_id = await _doctor(session)
    assert await repo.touch(doctor_id, NOW) is None
    created = await repo.get_or_create(doctor_id)
    assert (created.pin_hash, created.failed_attempts, created.last_verified_at) == (None, 0, None)
    assert await repo.get_or_create(doctor_id) is created
    touched = await repo.touch(doctor_id, NOW + timedelta(minutes=3))
    assert touched is created and touched.last_verified_at == NOW + timedelta(minutes=3)
    assert touched.updated_at == NOW + timedelta(minutes=3)
    await session.commit()
    assert await repo.clear(doctor_id)
    assert not await repo.clear(doctor_id)
    assert await repo.get(doctor_id) is None


async def test_get_sees_a_lock_set_by_another_session(session_maker: async_sessionmaker[AsyncSession]) -> None:
    async with session_maker() as reader, session_maker() as writer:
        doctor_id = await _doctor(reader)
        repo = SecurityRepository(reader)
        await repo.set_pin_hash(doctor_id, PIN_HASH, NOW)
        await reader.commit()
        await SecurityRepository(writer).record_failure(doctor_id, NOW, 1, LOCK)
        await writer.commit()
        stored = await repo.get(doctor_id)  # the reader's session still holds the row: refreshed
        assert stored is not None and stored.locked_until == NOW + LOCK


@pytest.mark.parametrize(
    ("max_attempts", "expected_counts", "final"),
    [(100, list(range(1, 13)), 12), (5, [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4], 2)],
)
async def test_concurrent_pin_failures_are_all_counted(
    session_maker: async_sessionmaker[AsyncSession], max_attempts: int, expected_counts: list[int], final: int
) -> None:
    async with session_maker() as setup:
        doctor_id = await _doctor(setup)
        await SecurityRepository(setup).set_pin_hash(doctor_id, PIN_HASH, NOW)
        await setup.commit()

    async def fail() -> int:
        async with session_maker() as session:
            failure = await SecurityRepository(session).record_failure(doctor_id, NOW, max_attempts, LOCK)
            await asyncio.sleep(0.01)  # hold the row while the others try
            await session.commit()
            return failure.failed_attempts

    counts = await asyncio.gather(*(fail() for _ in range(12)))
    assert sorted(counts) == expected_counts
    async with session_maker() as session:
        stored = await SecurityRepository(session).get(doctor_id)
        assert stored is not None and stored.failed_attempts == final
        assert (stored.locked_until is not None) == (max_attempts == 5)


# --- removal (the doctor declines the personal-data consent) ------------------------------------


async def _everything(session: AsyncSession, doctor_id: int, user_id: int, clinic_id: int, cipher: FieldCipher) -> None:
    await TelegramAccountRepository(session).upsert(user_id, user_id)
    await TelegramAccountRepository(session).link_doctor(user_id, doctor_id)
    await DoctorProfileRepository(session).replace_positions(doctor_id, [CITY, HEAD])
    await ConsentRepository(session).record(doctor_id, PERSONAL_DATA, "1", False, NOW)
    await ConsentRepository(session).record(doctor_id, "terms", "1", True, NOW)
    await SecurityRepository(session).set_pin_hash(doctor_id, PIN_HASH, NOW)
    await EsiaTokenRepository(session, cipher).save(doctor_id, "access", "sid", NOW + LOCK)
    await ClinicRoleRepository(session).grant(doctor_id, clinic_id, Role.DOCTOR)
    await ClinicRoleRepository(session).grant(doctor_id, clinic_id, Role.ADMIN)
    await AuditRepository(session).append(f"doctor:{doctor_id}", "consent.decline", "doctor", doctor_id)


async def _count(session: AsyncSession, model: type, doctor_id: int) -> int:
    column = model.doctor_id  # type: ignore[attr-defined]
    return int(await session.scalar(select(func.count()).select_from(model).where(column == doctor_id)) or 0)


async def test_delete_doctor_removes_everything_but_the_audit_log(session: AsyncSession) -> None:
    cipher = FieldCipher({"k1": bytes(32)}, "k1")
    clinic_id = (await ClinicRepository(session).add("ГБ1", "ГБ1", "Europe/Moscow")).id
    doctor_id, other_id = await _doctor(session), await _doctor(session, "Иванов")
    await _everything(session, doctor_id, 1, clinic_id, cipher)
    await _everything(session, other_id, 2, clinic_id, cipher)
    await session.commit()

    assert await DoctorProfileRepository(session).delete_doctor(doctor_id)
    await session.commit()
    session.expunge_all()

    assert await session.get(Doctor, doctor_id) is None
    dependents = (DoctorPosition, Consent, DoctorSecurity, EsiaToken, ClinicRole)
    assert [await _count(session, model, doctor_id) for model in dependents] == [0, 0, 0, 0, 0]
    assert [await _count(session, model, other_id) for model in dependents] == [2, 2, 1, 1, 2]
    account = await session.get(TelegramAccount, 1)
    assert account is not None and account.doctor_id is None and account.linked_at is None
    other_account = await session.get(TelegramAccount, 2)
    assert other_account is not None and other_account.doctor_id == other_id
    # The audit log keeps its rows, and its chain is intact.
    assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 2
    assert (await AuditRepository(session).verify()).ok

    assert not await DoctorProfileRepository(session).delete_doctor(doctor_id)


async def test_delete_doctor_with_nothing_attached(session: AsyncSession) -> None:
    doctor_id = await _doctor(session)
    assert await DoctorProfileRepository(session).delete_doctor(doctor_id)
    await session.commit()
    assert await session.scalar(select(func.count()).select_from(Doctor)) == 0
