"""core: clinics, doctors, Telegram accounts, roles, patients, audit log, FSM state

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Written with plain SQLAlchemy types, not the models' TypeDecorators, so that later changes to the
models cannot change what this revision creates.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clinics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("short_name", sa.String(64), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clinics"),
        sa.UniqueConstraint("name", name="uq_clinics_name"),
    )
    op.create_table(
        "doctors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("esia_oid", sa.String(64), nullable=True),
        sa.Column("last_name", sa.String(128), nullable=False),
        sa.Column("first_name", sa.String(128), nullable=False),
        sa.Column("middle_name", sa.String(128), nullable=True),
        sa.Column("specialty", sa.String(255), nullable=True),
        sa.Column("snils_hash", sa.String(64), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_doctors"),
        sa.UniqueConstraint("esia_oid", name="uq_doctors_esia_oid"),
        sa.UniqueConstraint("snils_hash", name="uq_doctors_snils_hash"),
    )
    op.create_table(
        "telegram_accounts",
        sa.Column("telegram_user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("locale", sa.String(8), server_default="ru", nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_telegram_accounts_doctor_id_doctors", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("telegram_user_id", name="pk_telegram_accounts"),
        sa.UniqueConstraint("doctor_id", name="uq_telegram_accounts_doctor_id"),
    )
    op.create_table(
        "clinic_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.CheckConstraint("role IN ('doctor', 'admin')", name="ck_clinic_roles_role"),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name="fk_clinic_roles_clinic_id_clinics", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_clinic_roles_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_clinic_roles"),
        sa.UniqueConstraint("doctor_id", "clinic_id", "role", name="uq_clinic_roles_doctor_id_clinic_id_role"),
    )
    op.create_index("ix_clinic_roles_clinic_id", "clinic_roles", ["clinic_id"])
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("last_name", sa.Text(), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=False),
        sa.Column("middle_name", sa.Text(), nullable=True),
        sa.Column("birth_date", sa.Text(), nullable=True),
        sa.Column("policy_number", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("last_name_index", sa.String(64), nullable=False),
        sa.Column("policy_index", sa.String(64), nullable=True),
        sa.Column("snils_hash", sa.String(64), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name="fk_patients_clinic_id_clinics"),
        sa.PrimaryKeyConstraint("id", name="pk_patients"),
    )
    op.create_index("ix_patients_clinic_id_last_name_index", "patients", ["clinic_id", "last_name_index"])
    op.create_index("ix_patients_clinic_id_policy_index", "patients", ["clinic_id", "policy_index"])
    op.create_index("ix_patients_snils_hash", "patients", ["snils_hash"])
    op.create_table(
        "audit_events",
        # Assigned by the application (gapless chain order), hence no sequence.
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=True),
        sa.Column("object_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("outcome IN ('ok', 'denied', 'failed')", name="ck_audit_events_outcome"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
        sa.UniqueConstraint("hash", name="uq_audit_events_hash"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_table(
        "fsm_states",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("state", sa.String(255), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_fsm_states"),
    )


def downgrade() -> None:
    op.drop_table("fsm_states")
    op.drop_index("ix_audit_events_at", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index("ix_patients_snils_hash", table_name="patients")
    op.drop_index("ix_patients_clinic_id_policy_index", table_name="patients")
    op.drop_index("ix_patients_clinic_id_last_name_index", table_name="patients")
    op.drop_table("patients")
    op.drop_index("ix_clinic_roles_clinic_id", table_name="clinic_roles")
    op.drop_table("clinic_roles")
    op.drop_table("telegram_accounts")
    op.drop_table("doctors")
    op.drop_table("clinics")
