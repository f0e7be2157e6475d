"""documents follow-ups: no clinic-system rejection reason in stored notifications

Revision ID: 0007
Revises: 0008
Create Date: 2026-11-26

Data only. Up to 0006 a ``document_status`` notification carried the clinic system's rejection
reason in its payload, which is stored in clear; the reason lives encrypted on the document row
and is shown in «Мои документы». This removes it from the notifications already written. There is
nothing to restore on the way down (the document row keeps the reason).
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0008"  # after the schedule follow-ups (re-chained at the merge of main)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, payload FROM notifications WHERE kind = 'document_status' AND payload LIKE :p"),
        {"p": '%"reason"%'},
    ).all()
    for row_id, payload in rows:
        data = json.loads(payload)
        if isinstance(data, dict) and data.pop("reason", None) is not None:
            # The same canonical spelling as storage.models.base.canonical_json (sorted, no spaces).
            text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            connection.execute(sa.text("UPDATE notifications SET payload = :payload WHERE id = :id"),
                               {"payload": text, "id": row_id})


def downgrade() -> None:
    pass
