"""A specialist certificate (сертификат специалиста) of the doctor, as the register (ФРМР) lists it.

Certificates are being replaced by periodic accreditation since 2021; those still valid matter
until they expire, so they are kept and reminded of like the accreditation.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class DoctorCertificate(Base):
    __tablename__ = "doctor_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    specialty: Mapped[str] = mapped_column(String(255))
    valid_until: Mapped[date | None] = mapped_column(Date)
