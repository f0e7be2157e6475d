"""certificates: the doctor's specialist certificates from the register (ФРМР)

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-26

Plain SQLAlchemy types, as in 0001. The lead re-chains ``down_revision`` at merge.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "doctor_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("specialty", sa.String(255), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_doctor_certificates_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_doctor_certificates"),
    )
    op.create_index("ix_doctor_certificates_doctor_id", "doctor_certificates", ["doctor_id"])


def downgrade() -> None:
    op.drop_index("ix_doctor_certificates_doctor_id", table_name="doctor_certificates")
    op.drop_table("doctor_certificates")
