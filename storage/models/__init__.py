"""All tables; importing this package makes ``Base.metadata`` complete (migrations compare against it)."""

from storage.models.audit_event import OUTCOMES, AuditEvent
from storage.models.base import Base, JSONText, UTCDateTime, canonical_json, utcnow
from storage.models.clinic import Clinic
from storage.models.clinic_role import ClinicRole, Role
from storage.models.consent import PERSONAL_DATA, Consent
from storage.models.doctor import Doctor
from storage.models.doctor_position import DoctorPosition
from storage.models.doctor_security import DoctorSecurity
from storage.models.esia_auth_request import EsiaAuthRequest
from storage.models.esia_token import EsiaToken
from storage.models.fsm_state import FSMState
from storage.models.link_token import LinkToken
from storage.models.patient import Patient
from storage.models.sign_in_failure import SignInFailure
from storage.models.telegram_account import DEFAULT_LOCALE, TelegramAccount

__all__ = [
    "DEFAULT_LOCALE",
    "OUTCOMES",
    "PERSONAL_DATA",
    "AuditEvent",
    "Base",
    "Clinic",
    "ClinicRole",
    "Consent",
    "Doctor",
    "DoctorPosition",
    "DoctorSecurity",
    "EsiaAuthRequest",
    "EsiaToken",
    "FSMState",
    "JSONText",
    "LinkToken",
    "Patient",
    "Role",
    "SignInFailure",
    "TelegramAccount",
    "UTCDateTime",
    "canonical_json",
    "utcnow",
]
