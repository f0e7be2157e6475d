"""The doctor's specialist certificates from the register (ФРМР): replaced wholesale on each refresh."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DoctorCertificate


@dataclass(frozen=True, slots=True)
class CertificateData:
    """One certificate, as the register lists it."""

    number: str
    specialty: str
    valid_until: date | None


class DoctorCertificateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def replace(self, doctor_id: int, certificates: Sequence[CertificateData]) -> Sequence[DoctorCertificate]:
        """The doctor's certificates become exactly ``certificates`` (in this order), flushed."""
        await self._session.execute(delete(DoctorCertificate).where(DoctorCertificate.doctor_id == doctor_id))
        rows = [
            DoctorCertificate(doctor_id=doctor_id, number=c.number, specialty=c.specialty, valid_until=c.valid_until)
            for c in certificates
        ]
        self._session.add_all(rows)
        await self._session.flush()
        return rows

    async def of_doctor(self, doctor_id: int) -> Sequence[CertificateData]:
        """In the order they were given to ``replace``."""
        rows = await self._session.scalars(
            select(DoctorCertificate).where(DoctorCertificate.doctor_id == doctor_id).order_by(DoctorCertificate.id)
        )
        return [CertificateData(row.number, row.specialty, row.valid_until) for row in rows]

    async def expiring_by(self, until: date) -> dict[int, list[CertificateData]]:
        """Certificates valid until ``until`` or earlier, by doctor, in one query across all doctors."""
        rows = await self._session.scalars(
            select(DoctorCertificate)
            .where(DoctorCertificate.valid_until.is_not(None), DoctorCertificate.valid_until <= until)
            .order_by(DoctorCertificate.doctor_id, DoctorCertificate.id)
        )
        result: dict[int, list[CertificateData]] = defaultdict(list)
        for row in rows:
            result[row.doctor_id].append(CertificateData(row.number, row.specialty, row.valid_until))
        return dict(result)
