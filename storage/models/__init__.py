"""All tables; importing this package makes ``Base.metadata`` complete (migrations compare against it)."""

from storage.models.announcement import Announcement
from storage.models.appointment import Appointment, AppointmentEvent
from storage.models.audit_event import OUTCOMES, AuditEvent
from storage.models.base import Base, JSONText, UTCDateTime, canonical_json, utcnow
from storage.models.calendar_feed import CalendarFeed
from storage.models.change_request import ChangeRequest
from storage.models.clinic import Clinic
from storage.models.clinic_role import ClinicRole, Role
from storage.models.consent import PERSONAL_DATA, Consent
from storage.models.doctor import Doctor
from storage.models.doctor_certificate import DoctorCertificate
from storage.models.doctor_position import DoctorPosition
from storage.models.doctor_security import DoctorSecurity
from storage.models.document_template import DocumentTemplate
from storage.models.esia_auth_request import EsiaAuthRequest
from storage.models.esia_token import EsiaToken
from storage.models.fsm_state import FSMState
from storage.models.link_token import LinkToken
from storage.models.medical_document import MedicalDocument
from storage.models.notification import (
    CANCELLED,
    FAILED,
    FINISHED,
    KINDS,
    PENDING,
    ROUTINE,
    SENDING,
    SENT,
    STATUSES,
    URGENCIES,
    URGENT,
    Notification,
)
from storage.models.notification_preferences import NotificationPreferences
from storage.models.patient import Patient
from storage.models.shift import Shift
from storage.models.sign_in_failure import SignInFailure
from storage.models.signing_key import SigningKey
from storage.models.telegram_account import DEFAULT_LOCALE, TelegramAccount
from storage.models.waitlist_entry import WaitlistEntry

__all__ = [
    "CANCELLED",
    "DEFAULT_LOCALE",
    "FAILED",
    "FINISHED",
    "KINDS",
    "OUTCOMES",
    "PENDING",
    "PERSONAL_DATA",
    "ROUTINE",
    "SENDING",
    "SENT",
    "STATUSES",
    "URGENCIES",
    "URGENT",
    "Announcement",
    "Appointment",
    "AppointmentEvent",
    "AuditEvent",
    "Base",
    "CalendarFeed",
    "ChangeRequest",
    "Clinic",
    "ClinicRole",
    "Consent",
    "Doctor",
    "DoctorCertificate",
    "DoctorPosition",
    "DoctorSecurity",
    "DocumentTemplate",
    "EsiaAuthRequest",
    "EsiaToken",
    "FSMState",
    "JSONText",
    "LinkToken",
    "MedicalDocument",
    "Notification",
    "NotificationPreferences",
    "Patient",
    "Role",
    "Shift",
    "SignInFailure",
    "SigningKey",
    "TelegramAccount",
    "UTCDateTime",
    "WaitlistEntry",
    "canonical_json",
    "utcnow",
]
