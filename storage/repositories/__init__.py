"""Repositories: take an AsyncSession and explicit arguments, return models, never commit.

The service layer owns the transaction (``services.uow.UnitOfWork``) and decides when to commit.
"""

from storage.repositories.announcements import AnnouncementNotFound, AnnouncementRepository, specialty_key
from storage.repositories.audit import AuditRepository, ChainVerification, event_hash
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository, InvalidOrganizationOid, InvalidTimezone
from storage.repositories.consents import ConsentRepository
from storage.repositories.doctor_profiles import DoctorNotFound, DoctorProfileRepository, PositionData, ProfileFields
from storage.repositories.doctors import DoctorRepository, doctor_snils_hash
from storage.repositories.esia_auth_requests import ClaimedAuthRequest, EsiaAuthRequestRepository
from storage.repositories.esia_tokens import EsiaAccess, EsiaTokenRepository
from storage.repositories.link_tokens import LinkTokenRepository, link_token_hash
from storage.repositories.notification_preferences import NotificationPreferencesRepository, PreferenceFields
from storage.repositories.outbox import OutboxItem, OutboxRepository
from storage.repositories.patients import PatientData, PatientRecord, PatientRepository
from storage.repositories.security import PinFailure, SecurityRepository
from storage.repositories.sign_in_failures import SignInThrottleRepository
from storage.repositories.telegram_accounts import AccountNotFound, TelegramAccountRepository

__all__ = [
    "AccountNotFound",
    "AnnouncementNotFound",
    "AnnouncementRepository",
    "AuditRepository",
    "ChainVerification",
    "ClaimedAuthRequest",
    "ClinicRepository",
    "ClinicRoleRepository",
    "ConsentRepository",
    "DoctorNotFound",
    "DoctorProfileRepository",
    "DoctorRepository",
    "EsiaAccess",
    "EsiaAuthRequestRepository",
    "EsiaTokenRepository",
    "InvalidOrganizationOid",
    "InvalidTimezone",
    "LinkTokenRepository",
    "NotificationPreferencesRepository",
    "OutboxItem",
    "OutboxRepository",
    "PatientData",
    "PatientRecord",
    "PatientRepository",
    "PinFailure",
    "PositionData",
    "PreferenceFields",
    "ProfileFields",
    "SecurityRepository",
    "SignInThrottleRepository",
    "TelegramAccountRepository",
    "doctor_snils_hash",
    "event_hash",
    "link_token_hash",
    "specialty_key",
]
