"""All tables; importing this package makes ``Base.metadata`` complete (migrations compare against it)."""

from storage.models.audit_event import OUTCOMES, AuditEvent
from storage.models.base import Base, JSONText, UTCDateTime, canonical_json, utcnow
from storage.models.clinic import Clinic
from storage.models.clinic_role import ClinicRole, Role
from storage.models.doctor import Doctor
from storage.models.fsm_state import FSMState
from storage.models.patient import Patient
from storage.models.telegram_account import DEFAULT_LOCALE, TelegramAccount

__all__ = [
    "DEFAULT_LOCALE",
    "OUTCOMES",
    "AuditEvent",
    "Base",
    "Clinic",
    "ClinicRole",
    "Doctor",
    "FSMState",
    "JSONText",
    "Patient",
    "Role",
    "TelegramAccount",
    "UTCDateTime",
    "canonical_json",
    "utcnow",
]
