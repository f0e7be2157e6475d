"""schedule follow-ups: a change request's reason code; reminders of short appointments opt-in;
indexes for the scans that read across doctors

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-26

Plain SQLAlchemy types, as in 0001. The lead re-chains ``down_revision`` at merge.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("change_requests") as batch:
        # A code (services.schedule.admin_requests.REASONS), never free text: it travels in the
        # unencrypted outbox payload to the doctor.
        batch.add_column(sa.Column("reason", sa.String(16), nullable=True))
    with op.batch_alter_table("notification_preferences") as batch:
        batch.add_column(
            sa.Column("remind_short_appointments", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # The scans read across doctors: shifts around now (morning brief), pending requests by age.
    op.create_index("ix_shifts_starts_at", "shifts", ["starts_at"])
    op.create_index("ix_change_requests_status_created_at", "change_requests", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_change_requests_status_created_at", table_name="change_requests")
    op.drop_index("ix_shifts_starts_at", table_name="shifts")
    with op.batch_alter_table("notification_preferences") as batch:
        batch.drop_column("remind_short_appointments")
    with op.batch_alter_table("change_requests") as batch:
        batch.drop_column("reason")
