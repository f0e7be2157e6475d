"""What a doctor may do in a clinic: see patients (doctor) or manage the clinic (admin)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class Role(StrEnum):
    DOCTOR = "doctor"
    # A clinic administrator sees management data and no patient data.
    ADMIN = "admin"


class ClinicRole(Base):
    __tablename__ = "clinic_roles"
    __table_args__ = (UniqueConstraint("doctor_id", "clinic_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    # A string with a CHECK, not a PostgreSQL ENUM type: the same DDL on both databases, and a
    # new role is a constraint change rather than an ALTER TYPE.
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
