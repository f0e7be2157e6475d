"""schedule: shifts, appointments (no overlaps, enforced by the database), their history, change
requests, waitlist entries, calendar feeds

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Overlaps are refused by the database itself: on PostgreSQL an exclusion constraint over
``(doctor_id, tstzrange(starts_at, ends_at))`` for every appointment that is not cancelled
(``btree_gist`` gives GiST the ``=`` on integers); on SQLite, which has no such constraint, two
triggers do the same check inside the writing statement (SQLite has one writer at a time, so the
check and the write cannot interleave with another booking).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_OVERLAP = (
    "EXISTS (SELECT 1 FROM appointments AS other WHERE other.doctor_id = NEW.doctor_id "
    "AND other.status <> 'cancelled' AND other.starts_at < NEW.ends_at AND other.ends_at > NEW.starts_at{extra})"
)


def upgrade() -> None:
    op.create_table(
        "shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("breaks", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("status IN ('draft', 'published')", name="ck_shifts_status"),
        sa.CheckConstraint("slot_minutes BETWEEN 5 AND 240", name="ck_shifts_slot_minutes"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_shifts_period"),
        sa.ForeignKeyConstraint(["doctor_id"], ["doctors.id"], name="fk_shifts_doctor_id_doctors", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name="fk_shifts_clinic_id_clinics", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_shifts"),
    )
    op.create_index("ix_shifts_doctor_id_starts_at", "shifts", ["doctor_id", "starts_at"])
    op.create_index("ix_shifts_clinic_id_starts_at", "shifts", ["clinic_id", "starts_at"])

    op.create_table(
        "appointments",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "status IN ('booked', 'arrived', 'fulfilled', 'noshow', 'cancelled')", name="ck_appointments_status"
        ),
        sa.CheckConstraint("ends_at > starts_at", name="ck_appointments_period"),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_appointments_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name="fk_appointments_clinic_id_clinics", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name="fk_appointments_patient_id_patients", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_appointments"),
    )
    op.create_index("ix_appointments_doctor_id_starts_at", "appointments", ["doctor_id", "starts_at"])
    op.create_index("ix_appointments_clinic_id_starts_at", "appointments", ["clinic_id", "starts_at"])
    op.create_index("ix_appointments_patient_id", "appointments", ["patient_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE appointments ADD CONSTRAINT ex_appointments_no_overlap EXCLUDE USING gist "
            "(doctor_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) WHERE (status <> 'cancelled')"
        )
    else:
        op.execute(
            "CREATE TRIGGER ex_appointments_no_overlap_insert BEFORE INSERT ON appointments "
            f"WHEN NEW.status <> 'cancelled' AND {_OVERLAP.format(extra='')} "
            "BEGIN SELECT RAISE(ABORT, 'ex_appointments_no_overlap'); END"
        )
        op.execute(
            "CREATE TRIGGER ex_appointments_no_overlap_update "
            "BEFORE UPDATE OF doctor_id, starts_at, ends_at, status ON appointments "
            f"WHEN NEW.status <> 'cancelled' AND {_OVERLAP.format(extra=' AND other.id <> NEW.id')} "
            "BEGIN SELECT RAISE(ABORT, 'ex_appointments_no_overlap'); END"
        )

    op.create_table(
        "appointment_events",
        sa.Column("id", BIGINT_ID, nullable=False),
        sa.Column("appointment_id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("from_starts_at", TIMESTAMP, nullable=True),
        sa.Column("from_ends_at", TIMESTAMP, nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name="fk_appointment_events_appointment_id_appointments",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_appointment_events"),
    )
    op.create_index("ix_appointment_events_appointment_id", "appointment_events", ["appointment_id"])

    op.create_table(
        "change_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.BigInteger(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(16), nullable=False),
        sa.Column("requester_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("proposed_starts_at", TIMESTAMP, nullable=True),
        sa.Column("proposed_ends_at", TIMESTAMP, nullable=True),
        sa.Column("appointment_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("decided_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("kind IN ('move', 'cancel')", name="ck_change_requests_kind"),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'declined', 'countered', 'expired')", name="ck_change_requests_status"
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name="fk_change_requests_appointment_id_appointments",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_change_requests_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_change_requests"),
    )
    op.create_index("ix_change_requests_appointment_id", "change_requests", ["appointment_id"])
    op.create_index("ix_change_requests_doctor_id_status", "change_requests", ["doctor_id", "status"])

    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("appointment_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("status IN ('waiting', 'booked', 'removed')", name="ck_waitlist_entries_status"),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_waitlist_entries_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name="fk_waitlist_entries_clinic_id_clinics", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name="fk_waitlist_entries_patient_id_patients", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name="fk_waitlist_entries_appointment_id_appointments",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_waitlist_entries"),
    )
    op.create_index(
        "ix_waitlist_entries_doctor_id_clinic_id_status", "waitlist_entries", ["doctor_id", "clinic_id", "status"]
    )

    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_calendar_feeds_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_feeds"),
        sa.UniqueConstraint("token_hash", name="uq_calendar_feeds_token_hash"),
    )
    op.create_index("ix_calendar_feeds_doctor_id", "calendar_feeds", ["doctor_id"])


def downgrade() -> None:
    op.drop_index("ix_calendar_feeds_doctor_id", table_name="calendar_feeds")
    op.drop_table("calendar_feeds")
    op.drop_index("ix_waitlist_entries_doctor_id_clinic_id_status", table_name="waitlist_entries")
    op.drop_table("waitlist_entries")
    op.drop_index("ix_change_requests_doctor_id_status", table_name="change_requests")
    op.drop_index("ix_change_requests_appointment_id", table_name="change_requests")
    op.drop_table("change_requests")
    op.drop_index("ix_appointment_events_appointment_id", table_name="appointment_events")
    op.drop_table("appointment_events")
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ex_appointments_no_overlap_update")
        op.execute("DROP TRIGGER IF EXISTS ex_appointments_no_overlap_insert")
    op.drop_index("ix_appointments_patient_id", table_name="appointments")
    op.drop_index("ix_appointments_clinic_id_starts_at", table_name="appointments")
    op.drop_index("ix_appointments_doctor_id_starts_at", table_name="appointments")
    op.drop_table("appointments")
    op.drop_index("ix_shifts_clinic_id_starts_at", table_name="shifts")
    op.drop_index("ix_shifts_doctor_id_starts_at", table_name="shifts")
    op.drop_table("shifts")
