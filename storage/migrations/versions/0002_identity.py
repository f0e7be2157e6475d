"""identity: ESIA sign-in (link tokens, auth requests, tokens), consent, PIN, sign-in throttling, ФРМР profile

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

Plain SQLAlchemy types, as in 0001. The new ``doctors`` columns are added and dropped with plain
ALTER TABLE (SQLite has DROP COLUMN since 3.35), never by batch mode's copy-and-swap: dropping the
old ``doctors`` table would fire the ON DELETE actions of the tables that refer to it.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def _doctor_columns() -> list[sa.Column[Any]]:
    # Built anew for each use: a Column belongs to one table once added.
    return [
        sa.Column("register_id", sa.String(64), nullable=True),
        sa.Column("accreditation_kind", sa.String(64), nullable=True),
        sa.Column("accreditation_specialty", sa.String(255), nullable=True),
        sa.Column("accreditation_number", sa.String(64), nullable=True),
        sa.Column("accreditation_valid_until", sa.Date(), nullable=True),
        sa.Column("profile_refreshed_at", TIMESTAMP, nullable=True),
        sa.Column("esia_trusted", sa.Boolean(), server_default=sa.false(), nullable=False),
    ]


def upgrade() -> None:
    for column in _doctor_columns():
        op.add_column("doctors", column)

    op.create_table(
        "link_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("used_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["telegram_user_id"],
            ["telegram_accounts.telegram_user_id"],
            name="fk_link_tokens_telegram_user_id_telegram_accounts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_link_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_link_tokens_token_hash"),
    )
    op.create_index("ix_link_tokens_telegram_user_id", "link_tokens", ["telegram_user_id"])
    op.create_index("ix_link_tokens_expires_at", "link_tokens", ["expires_at"])

    op.create_table(
        "esia_auth_requests",
        sa.Column("state", sa.String(36), nullable=False),
        sa.Column("telegram_user_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("code_verifier", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("used_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["telegram_user_id"],
            ["telegram_accounts.telegram_user_id"],
            name="fk_esia_auth_requests_telegram_user_id_telegram_accounts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("state", name="pk_esia_auth_requests"),
    )
    op.create_index("ix_esia_auth_requests_telegram_user_id", "esia_auth_requests", ["telegram_user_id"])
    op.create_index("ix_esia_auth_requests_expires_at", "esia_auth_requests", ["expires_at"])

    op.create_table(
        "doctor_positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("organization_oid", sa.String(64), nullable=False),
        sa.Column("organization_name", sa.String(1024), nullable=False),
        sa.Column("position", sa.String(255), nullable=False),
        sa.Column("specialty", sa.String(255), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.CheckConstraint("role IN ('doctor', 'admin')", name="ck_doctor_positions_role"),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_doctor_positions_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_doctor_positions"),
    )
    op.create_index("ix_doctor_positions_doctor_id", "doctor_positions", ["doctor_id"])

    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("accepted_at", TIMESTAMP, nullable=True),
        sa.Column("declined_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("accepted_at IS NULL OR declined_at IS NULL", name="ck_consents_one_answer"),
        sa.ForeignKeyConstraint(["doctor_id"], ["doctors.id"], name="fk_consents_doctor_id_doctors", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
        sa.UniqueConstraint("doctor_id", "kind", "version", name="uq_consents_doctor_id_kind_version"),
    )

    op.create_table(
        "doctor_security",
        sa.Column("doctor_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pin_hash", sa.String(255), nullable=True),
        sa.Column("pin_set_at", TIMESTAMP, nullable=True),
        sa.Column("failed_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", TIMESTAMP, nullable=True),
        sa.Column("last_verified_at", TIMESTAMP, nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_doctor_security_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("doctor_id", name="pk_doctor_security"),
    )

    op.create_table(
        "esia_tokens",
        sa.Column("doctor_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("id_token_sid", sa.String(255), nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_esia_tokens_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("doctor_id", name="pk_esia_tokens"),
    )

    op.create_table(
        "sign_in_failures",
        sa.Column("telegram_user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("failed_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("blocked_until", TIMESTAMP, nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["telegram_user_id"],
            ["telegram_accounts.telegram_user_id"],
            name="fk_sign_in_failures_telegram_user_id_telegram_accounts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("telegram_user_id", name="pk_sign_in_failures"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_failures")
    op.drop_table("esia_tokens")
    op.drop_table("doctor_security")
    op.drop_table("consents")
    op.drop_index("ix_doctor_positions_doctor_id", table_name="doctor_positions")
    op.drop_table("doctor_positions")
    op.drop_index("ix_esia_auth_requests_expires_at", table_name="esia_auth_requests")
    op.drop_index("ix_esia_auth_requests_telegram_user_id", table_name="esia_auth_requests")
    op.drop_table("esia_auth_requests")
    op.drop_index("ix_link_tokens_expires_at", table_name="link_tokens")
    op.drop_index("ix_link_tokens_telegram_user_id", table_name="link_tokens")
    op.drop_table("link_tokens")
    for column in reversed(_doctor_columns()):
        op.drop_column("doctors", column.name)
