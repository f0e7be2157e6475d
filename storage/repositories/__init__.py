"""Repositories: take an AsyncSession and explicit arguments, return models, never commit.

The service layer owns the transaction (``services.uow.UnitOfWork``) and decides when to commit.
"""

from storage.repositories.audit import AuditRepository, ChainVerification, event_hash
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository, InvalidTimezone
from storage.repositories.doctors import DoctorRepository, doctor_snils_hash
from storage.repositories.patients import PatientData, PatientRecord, PatientRepository
from storage.repositories.telegram_accounts import AccountNotFound, TelegramAccountRepository

__all__ = [
    "AccountNotFound",
    "AuditRepository",
    "ChainVerification",
    "ClinicRepository",
    "ClinicRoleRepository",
    "DoctorRepository",
    "InvalidTimezone",
    "PatientData",
    "PatientRecord",
    "PatientRepository",
    "TelegramAccountRepository",
    "doctor_snils_hash",
    "event_hash",
]
