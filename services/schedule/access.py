"""Who may see and change which part of the schedule.

A doctor sees their own appointments (patient data: linked, consent, doctor role in the clinic,
fresh PIN); a clinic administrator sees and edits the clinic's shifts and occupancy, never a
patient. An appointment or request id that is not the doctor's — a forged button — is denied and
audited, and answered exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.audit import AuditService, doctor_actor
from services.errors import N_, DomainError
from services.identity.access import (
    AccessDenied,
    AccessService,
    DoctorContext,
    NotLinked,
    SecurityPolicy,
    SessionState,
)
from services.identity.linking import CONSENT_KIND, CONSENT_VERSION
from services.patients import NoClinic
from services.read_cache import ReadCache
from services.uow import UnitOfWork
from storage.changes import row_key
from storage.crypto import FieldCipher
from storage.models import Appointment, Clinic
from storage.models.clinic_role import Role
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.schedule import AppointmentRepository, account_clinics


class NotYours(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("This appointment is not in your schedule. Open the schedule again: /today"))


@dataclass(frozen=True)
class ClinicInfo:
    id: int
    short_name: str
    timezone: str


def clinic_info(clinic: Clinic) -> ClinicInfo:
    return ClinicInfo(clinic.id, clinic.short_name, clinic.timezone)


@dataclass(frozen=True)
class ScheduleActor:
    doctor_id: int
    clinics: dict[int, ClinicInfo]  # where the role is held, by id

    @property
    def actor(self) -> str:
        return doctor_actor(self.doctor_id)

    @property
    def home(self) -> ClinicInfo:
        """The clinic whose calendar says what "today" is (the first one)."""
        return self.clinics[min(self.clinics)]


@dataclass(frozen=True, slots=True)
class _DoctorAccess:
    actor: ScheduleActor
    session: SessionState

    @property
    def doctor_id(self) -> int:
        return self.actor.doctor_id

    def depends_on(self, telegram_user_id: int) -> list[str]:
        """The rows this was read from: the account, the doctor, consent, roles, clinics, PIN state."""
        doctor = self.doctor_id
        return [
            row_key("telegram_accounts", "telegram_user_id", telegram_user_id),
            row_key("telegram_accounts", "doctor_id", doctor),
            row_key("doctors", "id", doctor),
            row_key("consents", "doctor_id", doctor),
            row_key("clinic_roles", "doctor_id", doctor),
            row_key("doctor_security", "doctor_id", doctor),
            *(row_key("clinics", "id", clinic) for clinic in self.actor.clinics),
        ]


class ScheduleAccess:
    def __init__(self, uow: UnitOfWork, access: AccessService, cache: ReadCache | None = None) -> None:
        self._uow = uow
        self._access = access
        self._cache = cache

    async def _clinics(self, doctor_id: int, role: Role) -> dict[int, ClinicInfo]:
        grants = await ClinicRoleRepository(self._uow.session).roles_of(doctor_id)
        ids = {grant.clinic_id for grant in grants if grant.role == role}
        clinics = await ClinicRepository(self._uow.session).by_ids(ids) if ids else []
        return {clinic.id: clinic_info(clinic) for clinic in clinics}

    async def _context(self, telegram_user_id: int) -> DoctorContext:
        context = await self._access.context_of(telegram_user_id)
        if context is None:
            raise NotLinked()
        if not context.consented:
            raise DomainError(N_("First accept the consent to personal data processing: /login"))
        return context

    async def doctor(self, telegram_user_id: int, operation: str, *, patient_data: bool = True) -> ScheduleActor:
        """A doctor with the doctor role in at least one clinic (and a fresh PIN for patient data).

        The common case is one query (``account_clinics``) and the security row, kept in the read
        cache while none of the rows they came from changes; the idle timeout and the PIN lock are
        checked against the clock on every call. The refusals take the general path, uncached."""
        key = ("schedule_doctor", telegram_user_id)
        known: _DoctorAccess | None = await self._cache.get(key) if self._cache is not None else None
        if known is None:
            since = await self._cache.begin() if self._cache is not None else None
            known = await self._read_doctor(telegram_user_id, operation)
            if self._cache is not None:
                self._cache.put(key, known, known.depends_on(telegram_user_id), since)
        if patient_data:
            context = DoctorContext(telegram_user_id, known.doctor_id, frozenset({Role.DOCTOR}), True, has_pin=True)
            await self._access.require_fresh_session(context, known.session)
        return known.actor

    async def _read_doctor(self, telegram_user_id: int, operation: str) -> _DoctorAccess:
        doctor_id, consented, clinics = await account_clinics(
            self._uow.session, telegram_user_id, Role.DOCTOR, CONSENT_KIND, CONSENT_VERSION
        )
        if doctor_id is None or not consented or not clinics:
            context = await self._context(telegram_user_id)
            await AuditService(self._uow).record(
                doctor_actor(context.doctor_id), operation, "section", Role.DOCTOR.value, "denied"
            )
            await self._uow.commit()
            raise NoClinic() if context.is_doctor else AccessDenied()
        actor = ScheduleActor(doctor_id, {clinic.id: clinic_info(clinic) for clinic in clinics})
        return _DoctorAccess(actor, await self._access.session_state(doctor_id))

    async def admin(self, telegram_user_id: int, operation: str) -> ScheduleActor:
        context = await self._context(telegram_user_id)
        clinics = await self._clinics(context.doctor_id, Role.ADMIN)
        if not clinics:
            await AuditService(self._uow).record(
                doctor_actor(context.doctor_id), operation, "section", Role.ADMIN.value, "denied"
            )
            await self._uow.commit()
            raise AccessDenied()
        return ScheduleActor(context.doctor_id, clinics)

    async def doctor_or_admin(self, telegram_user_id: int, operation: str) -> tuple[ScheduleActor, bool]:
        """A doctor (own things) or, if not a doctor anywhere, an administrator (the clinics' things);
        True when it is the administrator. Patient data is never shown to the second."""
        context = await self._context(telegram_user_id)
        clinics = await self._clinics(context.doctor_id, Role.DOCTOR)
        if clinics:
            return ScheduleActor(context.doctor_id, clinics), False
        return await self.admin(telegram_user_id, operation), True

    async def appointment(self, actor: ScheduleActor, appointment_id: int, operation: str) -> Appointment:
        """The doctor's own appointment; anything else is denied, audited and committed."""
        appointment = await AppointmentRepository(self._uow.session).get(appointment_id)
        if (
            appointment is None
            or appointment.doctor_id != actor.doctor_id
            or appointment.clinic_id not in actor.clinics
        ):
            await AuditService(self._uow).record(actor.actor, operation, "appointment", appointment_id, "denied")
            await self._uow.commit()
            raise NotYours()
        return appointment


class ScheduleUseCase:
    """What every schedule service holds: the unit of work, the cipher, the access checks (with
    the read cache when given) and the clock (a test's fixed one, or UTC now)."""

    def __init__(
        self,
        uow: UnitOfWork,
        cipher: FieldCipher,
        policy: SecurityPolicy | None = None,
        now: Callable[[], datetime] | None = None,
        *,
        cache: ReadCache | None = None,
    ) -> None:
        self._uow = uow
        self._cipher = cipher
        self._policy = policy
        self._access = ScheduleAccess(uow, AccessService(uow, policy, cipher), cache)
        self._clock = now or (lambda: datetime.now(UTC))
