"""Where a doctor works, as the register of medical workers (ФРМР) says."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.models.clinic_role import Role


class DoctorPosition(Base):
    __tablename__ = "doctor_positions"

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"), index=True)
    organization_oid: Mapped[str] = mapped_column(String(64))  # the organization's OID in the register
    organization_name: Mapped[str] = mapped_column(String(1024))
    position: Mapped[str] = mapped_column(String(255))
    specialty: Mapped[str | None] = mapped_column(String(255))
    # A string with a CHECK, like clinic_roles.role.
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="role",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda roles: [role.value for role in roles],
        )
    )
    start_date: Mapped[date | None] = mapped_column(Date)
