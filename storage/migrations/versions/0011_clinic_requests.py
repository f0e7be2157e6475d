"""clinic requests: change requests that came from the clinic system (a FHIR Task), and the answer

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26

``external_id`` names the Task in the clinic system (one request per Task, however often it is
read); ``external_reported_at`` is when the decision was written back to it (NULL: still to do);
``countered_*`` is the time the doctor proposed instead, which the answer carries.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("change_requests") as batch:
        batch.add_column(sa.Column("external_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("external_reported_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("countered_starts_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("countered_ends_at", TIMESTAMP, nullable=True))
    op.create_index("ux_change_requests_external_id", "change_requests", ["external_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_change_requests_external_id", table_name="change_requests")
    with op.batch_alter_table("change_requests") as batch:
        batch.drop_column("countered_ends_at")
        batch.drop_column("countered_starts_at")
        batch.drop_column("external_reported_at")
        batch.drop_column("external_id")
