"""The doctor's specialist certificates: replaced wholesale on each refresh, read for the scans, removed with the doctor."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DoctorCertificate
from storage.repositories import DoctorProfileRepository, DoctorRepository
from storage.repositories.doctor_certificates import CertificateData, DoctorCertificateRepository

CARDIO = CertificateData("0177180012345", "Кардиология", date(2025, 3, 29))
THERAPY = CertificateData("0177180099999", "Терапия", date(2027, 1, 15))
UNDATED = CertificateData("0177180000001", "Неврология", None)


async def _doctor(session: AsyncSession, last_name: str = "Петрова") -> int:
    return (await DoctorRepository(session).add(last_name=last_name, first_name="Анна")).id


async def test_replace_certificates(session: AsyncSession) -> None:
    repo = DoctorCertificateRepository(session)
    doctor_id, other_id = await _doctor(session), await _doctor(session, "Иванов")
    await repo.replace(other_id, [CARDIO])
    await repo.replace(doctor_id, [THERAPY, CARDIO, UNDATED])
    await session.commit()
    session.expunge_all()
    assert await repo.of_doctor(doctor_id) == [THERAPY, CARDIO, UNDATED]

    # The register's list replaces ours entirely: a certificate it no longer lists is gone.
    await repo.replace(doctor_id, [CARDIO])
    await session.commit()
    assert await repo.of_doctor(doctor_id) == [CARDIO]
    await repo.replace(doctor_id, [])
    await session.commit()
    assert await repo.of_doctor(doctor_id) == []
    assert await repo.of_doctor(other_id) == [CARDIO]  # untouched


async def test_expiring_by_reads_across_doctors_skipping_undated_and_later(session: AsyncSession) -> None:
    repo = DoctorCertificateRepository(session)
    doctor_id, other_id = await _doctor(session), await _doctor(session, "Иванов")
    await repo.replace(doctor_id, [THERAPY, CARDIO, UNDATED])
    await repo.replace(other_id, [THERAPY])
    await session.commit()
    assert await repo.expiring_by(date(2026, 12, 31)) == {doctor_id: [CARDIO]}
    assert await repo.expiring_by(date(2027, 1, 15)) == {doctor_id: [THERAPY, CARDIO], other_id: [THERAPY]}


async def test_delete_doctor_removes_the_certificates(session: AsyncSession) -> None:
    repo = DoctorCertificateRepository(session)
    doctor_id, other_id = await _doctor(session), await _doctor(session, "Иванов")
    await repo.replace(doctor_id, [THERAPY, CARDIO])
    await repo.replace(other_id, [THERAPY])
    await session.commit()
    assert await DoctorProfileRepository(session).delete_doctor(doctor_id)
    await session.commit()
    counted = select(DoctorCertificate.doctor_id, func.count()).group_by(DoctorCertificate.doctor_id)
    assert dict((await session.execute(counted)).tuples().all()) == {other_id: 1}
