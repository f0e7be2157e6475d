"""Prescriptions, referrals and medical documents: one row per version.

A row is a draft until signed; the signed bytes (canonical FHIR JSON or PDF) are stored encrypted
exactly as they were signed, with the detached signature beside them. A signed row never changes
its content again: a correction is a new row whose ``previous_id`` points at the old one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow

PRESCRIPTION = "prescription"
REFERRAL = "referral"
DOCUMENT = "document"
DOCUMENT_KINDS = (PRESCRIPTION, REFERRAL, DOCUMENT)

DRAFT = "draft"
SIGNED = "signed"
SENT = "sent"
ACCEPTED = "accepted"
REJECTED = "rejected"
DISCARDED = "discarded"
DOCUMENT_STATUSES = (DRAFT, SIGNED, SENT, ACCEPTED, REJECTED, DISCARDED)

BY_DOCTOR = "doctor"
BY_NURSE = "nurse"
BY_SYSTEM = "system"


class MedicalDocument(Base):
    __tablename__ = "medical_documents"
    __table_args__ = (
        Index("ix_medical_documents_doctor_id_status", "doctor_id", "status"),
        Index("ix_medical_documents_next_send_at", "next_send_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("medical_documents.id"))
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    author: Mapped[str] = mapped_column(String(16))
    # Where the conversation stopped, so a draft can be resumed after a restart or a PIN prompt.
    step: Mapped[str | None] = mapped_column(String(32))
    # FieldCipher token of the draft's canonical JSON (drug, dosing, diagnosis: medical data).
    draft: Mapped[str] = mapped_column(Text)
    # FieldCipher token of base64(the exact signed bytes).
    content: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(64))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(Text)  # base64 of the detached signature
    signer: Mapped[str | None] = mapped_column(String(16))  # "local" | "service"
    signer_key: Mapped[str | None] = mapped_column(String(200))
    signed_at: Mapped[datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(Text)  # FieldCipher token
    external_id: Mapped[str | None] = mapped_column(String(64))
    # The outbox to the clinic system, on the row itself: set in the same transaction as the
    # signature, so a signed document is always either delivered or still due.
    next_send_at: Mapped[datetime | None]
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    last_send_error: Mapped[str | None] = mapped_column(String(200))
    # The submitter's idempotency key (a nurse's or the clinic system's draft arrives once).
    submission_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
