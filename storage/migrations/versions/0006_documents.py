"""documents: prescriptions, referrals, medical documents (versions, signatures), templates, local signing keys

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

Plain SQLAlchemy types, as in 0001.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.String(200), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_signing_keys_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_signing_keys"),
        sa.UniqueConstraint("doctor_id", name="uq_signing_keys_doctor_id"),
    )
    op.create_table(
        "medical_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("doctor_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(16), nullable=False),
        sa.Column("step", sa.String(32), nullable=True),
        sa.Column("draft", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(64), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("signer", sa.String(16), nullable=True),
        sa.Column("signer_key", sa.String(200), nullable=True),
        sa.Column("signed_at", TIMESTAMP, nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("next_send_at", TIMESTAMP, nullable=True),
        sa.Column("send_attempts", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=True),
        sa.Column("last_send_error", sa.String(200), nullable=True),
        sa.Column("submission_key", sa.String(100), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["previous_id"], ["medical_documents.id"], name="fk_medical_documents_previous_id_medical_documents"
        ),
        sa.ForeignKeyConstraint(
            ["doctor_id"], ["doctors.id"], name="fk_medical_documents_doctor_id_doctors", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"], name="fk_medical_documents_clinic_id_clinics"),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name="fk_medical_documents_patient_id_patients"),
        sa.PrimaryKeyConstraint("id", name="pk_medical_documents"),
        sa.UniqueConstraint("submission_key", name="uq_medical_documents_submission_key"),
    )
    op.create_index("ix_medical_documents_doctor_id_status", "medical_documents", ["doctor_id", "status"])
    op.create_index("ix_medical_documents_next_send_at", "medical_documents", ["next_send_at"])
    op.create_table(
        "document_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"], ["clinics.id"], name="fk_document_templates_clinic_id_clinics", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_document_templates"),
        sa.UniqueConstraint("clinic_id", "code", name="uq_document_templates_clinic_id_code"),
    )


def downgrade() -> None:
    op.drop_table("document_templates")
    op.drop_index("ix_medical_documents_next_send_at", table_name="medical_documents")
    op.drop_index("ix_medical_documents_doctor_id_status", table_name="medical_documents")
    op.drop_table("medical_documents")
    op.drop_table("signing_keys")
