"""cross-clinic moves: an appointment event records the clinic and patient record a move left

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

A move to another of the doctor's clinics changes the appointment's clinic and its patient (that
clinic's record of the same person); undo reads these to put both back. Nullable: events written
before this revision (and status changes) have none. Plain SQLAlchemy types, as in 0001.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite: the batch copies and swaps appointment_events, which no other table refers to.
    with op.batch_alter_table("appointment_events") as batch:
        batch.add_column(sa.Column("from_clinic_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("from_patient_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_appointment_events_from_clinic_id_clinics", "clinics", ["from_clinic_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_foreign_key(
            "fk_appointment_events_from_patient_id_patients",
            "patients",
            ["from_patient_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("appointment_events") as batch:
        batch.drop_constraint("fk_appointment_events_from_patient_id_patients", type_="foreignkey")
        batch.drop_constraint("fk_appointment_events_from_clinic_id_clinics", type_="foreignkey")
        batch.drop_column("from_patient_id")
        batch.drop_column("from_clinic_id")
