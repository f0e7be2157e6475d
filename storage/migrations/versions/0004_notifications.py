"""notifications: the outbox, per-doctor notification preferences, announcements, unreachable accounts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-16

Plain SQLAlchemy types, as in 0001. ``telegram_accounts.unreachable_since`` is added and dropped
with plain ALTER TABLE, never batch mode's copy-and-swap (see 0002).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
PENDING_ONLY = "status = 'pending'"


def upgrade() -> None:
    op.add_column("telegram_accounts", sa.Column("unreachable_since", TIMESTAMP, nullable=True))

    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_doctor_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("specialty", sa.String(255), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("progress_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["author_doctor_id"],
            ["doctors.id"],
            name="fk_announcements_author_doctor_id_doctors",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name="fk_announcements_clinic_id_clinics", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_announcements"),
    )

    op.create_table(
        "notifications",
        # BIGSERIAL on PostgreSQL; INTEGER (the rowid alias, autoincrementing) on SQLite.
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("urgency", sa.String(8), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("dedup_key", sa.String(200), nullable=False),
        sa.Column("due_at", TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", TIMESTAMP, nullable=True),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("announcement_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("urgency IN ('routine', 'urgent')", name="ck_notifications_urgency"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')", name="ck_notifications_status"
        ),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcements.id"],
            name="fk_notifications_announcement_id_announcements",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_notifications_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("dedup_key", name="uq_notifications_dedup_key"),
    )
    op.create_index(
        "ix_notifications_pending_next_attempt_at",
        "notifications",
        ["next_attempt_at"],
        postgresql_where=sa.text(PENDING_ONLY),
        sqlite_where=sa.text(PENDING_ONLY),
    )
    op.create_index("ix_notifications_status_claimed_until", "notifications", ["status", "claimed_until"])
    op.create_index("ix_notifications_announcement_id_status", "notifications", ["announcement_id", "status"])
    op.create_index(
        "ix_notifications_pending_chat_id",
        "notifications",
        ["chat_id"],
        postgresql_where=sa.text(PENDING_ONLY),
        sqlite_where=sa.text(PENDING_ONLY),
    )
    op.create_index("ix_notifications_doctor_id", "notifications", ["doctor_id"])

    op.create_table(
        "notification_preferences",
        sa.Column("doctor_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("disabled_kinds", sa.Text(), nullable=False),
        sa.Column("quiet_start", sa.Time(), nullable=False),
        sa.Column("quiet_end", sa.Time(), nullable=False),
        sa.Column("quiet_enabled", sa.Boolean(), nullable=False),
        sa.Column("silent_routine", sa.Boolean(), nullable=False),
        sa.Column("brief_time", sa.Time(), nullable=True),
        sa.Column("reminder_lead_minutes", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_notification_preferences_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("doctor_id", name="pk_notification_preferences"),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")
    op.drop_index("ix_notifications_doctor_id", table_name="notifications")
    op.drop_index("ix_notifications_pending_chat_id", table_name="notifications")
    op.drop_index("ix_notifications_announcement_id_status", table_name="notifications")
    op.drop_index("ix_notifications_status_claimed_until", table_name="notifications")
    op.drop_index("ix_notifications_pending_next_attempt_at", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("announcements")
    op.drop_column("telegram_accounts", "unreachable_since")
