"""clinic organisation: the register's (ФРМР) organisation OID of each clinic

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09

A nullable column and a unique index (several clinics may still have no OID: NULLs never clash).
Plain ALTER TABLE and CREATE INDEX on both databases: SQLite cannot add a constraint without
batch mode's copy-and-swap, and dropping ``clinics`` would fire the ON DELETE actions of the
tables that refer to it (see 0002).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("clinics", sa.Column("organization_oid", sa.String(64), nullable=True))
    op.create_index("ix_clinics_organization_oid", "clinics", ["organization_oid"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_clinics_organization_oid", table_name="clinics")
    op.drop_column("clinics", "organization_oid")
