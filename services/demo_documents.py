"""Demo data for prescriptions: drafts a nurse has prepared for each doctor of the demo clinic.

Run at every demo start (idempotent by submission keys), so a doctor who signed in through the
emulators finds two drafts waiting in /queue after the next start.
"""

from __future__ import annotations

from services.approvals import ApprovalService, InvalidSubmission
from services.prescriptions import PrescriptionService
from services.signing.documents import LocalKeySigner
from services.uow import UnitOfWork
from storage.crypto import BlindIndex, FieldCipher
from storage.repositories.clinics import ClinicRepository
from storage.repositories.medical_documents import clinic_doctor_ids
from storage.repositories.patients import PatientRepository

DRAFTS = (
    ("Петрова", {"drug": "D012", "dose": "1", "times_per_day": 2, "days": 30, "route": "oral", "quantity": 60,
                 "validity_days": 60, "consent": True}),
    ("Смирнов", {"drug": "D019", "dose": "1", "times_per_day": 1, "days": 90, "route": "oral", "quantity": 90,
                 "validity_days": 180, "consent": True}),
)


async def seed_demo_queue(uow: UnitOfWork, cipher: FieldCipher, index: BlindIndex, clinic_name: str) -> int:
    """Nurse drafts for every doctor of the clinic; the number newly queued."""
    clinic = await ClinicRepository(uow.session).by_name(clinic_name)
    if clinic is None:
        return 0
    patients = PatientRepository(uow.session, cipher, index)
    approvals = ApprovalService(PrescriptionService(uow, cipher, index, LocalKeySigner(cipher)))
    doctor_ids = await clinic_doctor_ids(uow.session, clinic.id)
    created = 0
    for doctor_id in doctor_ids:
        for surname, draft in DRAFTS:
            found = await patients.search([clinic.id], last_name=surname, limit=1)
            if not found:
                continue
            try:
                result = await approvals.submit(
                    clinic_id=clinic.id, doctor_id=doctor_id, patient_id=found[0].id, author="nurse", draft=draft,
                    submission_key=f"demo-queue-{doctor_id}-{surname}",
                )
            except InvalidSubmission:
                continue
            created += result.created
    return created
