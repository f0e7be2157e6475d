"""Who is talking to the bot and what they may see: the linked doctor, consent, PIN and idle timeout.

Roles are checked here as well as by the router filters, so a forged button or a handler added
without a filter still cannot reach what the role forbids; every denial is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.audit import AuditService, doctor_actor, tg_actor
from services.errors import N_, DomainError
from services.identity.linking import CONSENT_KIND, CONSENT_VERSION
from services.identity.pin import check_pin_policy, hash_pin_async, verify_pin_async
from services.uow import UnitOfWork
from storage.crypto import FieldCipher
from storage.models import DoctorSecurity
from storage.models.clinic_role import Role
from storage.repositories.consents import ConsentRepository
from storage.repositories.doctor_profiles import DoctorProfileRepository
from storage.repositories.esia_tokens import EsiaTokenRepository
from storage.repositories.security import SecurityRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository


@dataclass(frozen=True)
class SecurityPolicy:
    idle_timeout: timedelta = timedelta(minutes=15)
    max_pin_attempts: int = 5
    pin_lock: timedelta = timedelta(minutes=15)


ANCHOR_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class DoctorContext:
    telegram_user_id: int
    doctor_id: int
    roles: frozenset[Role]
    consented: bool
    has_pin: bool

    @property
    def is_doctor(self) -> bool:
        return Role.DOCTOR in self.roles

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles


@dataclass(frozen=True, slots=True)
class SessionState:
    """What the idle-timeout check needs of the security row (never the PIN hash itself)."""

    has_pin: bool
    locked_until: datetime | None
    last_verified_at: datetime | None

    @classmethod
    def of(cls, security: DoctorSecurity | None) -> SessionState:
        if security is None:
            return cls(False, None, None)
        return cls(security.pin_hash is not None, security.locked_until, security.last_verified_at)


class NotLinked(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("First sign in with Gosuslugi: /login"))


class AccessDenied(DomainError):
    def __init__(self) -> None:
        super().__init__(N_("You have no rights to this section. Ask your clinic's administrator if you need it."))


class PinRequired(DomainError):
    """Idle too long (or never confirmed): the PIN must be entered before patient data is shown."""

    def __init__(self) -> None:
        super().__init__(N_("For your patients' safety, enter your PIN to continue."))


class PinLocked(DomainError):
    def __init__(self, until: datetime) -> None:
        super().__init__(N_("Too many wrong PINs. PIN entry is locked until {until}."), until=until)
        self.until = until


class PinWrong(DomainError):
    def __init__(self, attempts_left: int) -> None:
        super().__init__(N_("Wrong PIN. Attempts left: {attempts_left}."), attempts_left=attempts_left)
        self.attempts_left = attempts_left


class AccessService:
    def __init__(
        self, uow: UnitOfWork, policy: SecurityPolicy | None = None, cipher: FieldCipher | None = None
    ) -> None:
        self._uow = uow
        self._policy = policy or SecurityPolicy()
        self._cipher = cipher

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC)

    async def context_of(self, telegram_user_id: int) -> DoctorContext | None:
        session = self._uow.session
        account = await TelegramAccountRepository(session).get(telegram_user_id)
        if account is None or account.doctor_id is None:
            return None
        doctor_id = account.doctor_id
        positions = await DoctorProfileRepository(session).positions(doctor_id)
        security = await SecurityRepository(session).get(doctor_id)
        consented = await ConsentRepository(session).has_accepted(doctor_id, CONSENT_KIND, CONSENT_VERSION)
        return DoctorContext(
            telegram_user_id=telegram_user_id,
            doctor_id=doctor_id,
            roles=frozenset(Role(p.role) for p in positions),
            consented=consented,
            has_pin=security is not None and security.pin_hash is not None,
        )

    async def require(self, telegram_user_id: int, role: Role, operation: str) -> DoctorContext:
        """The linked doctor's context if they hold ``role``; denial audited and raised otherwise."""
        context = await self.context_of(telegram_user_id)
        if context is None:
            raise NotLinked()
        if role not in context.roles:
            await AuditService(self._uow).record(
                doctor_actor(context.doctor_id), operation, "section", role.value, "denied"
            )
            await self._uow.commit()
            raise AccessDenied()
        return context

    async def record_consent(self, telegram_user_id: int, accepted: bool) -> bool:
        """Accepting records the consent; declining unlinks and deletes what was stored. Returns accepted."""
        context = await self.context_of(telegram_user_id)
        if context is None:
            raise NotLinked()
        now = self._now()
        session = self._uow.session
        audit = AuditService(self._uow)
        if accepted:
            await ConsentRepository(session).record(context.doctor_id, CONSENT_KIND, CONSENT_VERSION, True, now)
            await audit.record(doctor_actor(context.doctor_id), "consent", "personal_data", CONSENT_VERSION, "ok")
        else:
            await audit.record(
                doctor_actor(context.doctor_id), "consent_declined", "personal_data", CONSENT_VERSION, "ok"
            )
            await TelegramAccountRepository(session).unlink(telegram_user_id)
            await DoctorProfileRepository(session).delete_doctor(context.doctor_id)
        await self._uow.commit()
        return accepted

    async def set_pin(self, telegram_user_id: int, pin: str) -> None:
        context = await self.require_consented(telegram_user_id)
        value = check_pin_policy(pin)
        pin_hash = await hash_pin_async(value)
        now = self._now()
        await SecurityRepository(self._uow.session).set_pin_hash(context.doctor_id, pin_hash, now)
        # Setting the PIN is itself a fresh confirmation.
        await SecurityRepository(self._uow.session).record_success(context.doctor_id, now)
        await AuditService(self._uow).record(doctor_actor(context.doctor_id), "pin_set", "doctor", context.doctor_id)
        await self._uow.commit()

    async def verify_pin(self, telegram_user_id: int, pin: str) -> None:
        """Unlock the session with the PIN; PinWrong / PinLocked otherwise (both audited)."""
        context = await self.require_consented(telegram_user_id)
        repo = SecurityRepository(self._uow.session)
        security = await repo.get(context.doctor_id)
        if security is None or security.pin_hash is None:
            raise DomainError(N_("You have not set a PIN yet. Send /pin to set it."))
        now = self._now()
        if security.locked_until is not None and security.locked_until > now:
            raise PinLocked(security.locked_until)
        audit = AuditService(self._uow)
        if await verify_pin_async(pin.strip(), security.pin_hash):
            await repo.record_success(context.doctor_id, now)
            await audit.record(doctor_actor(context.doctor_id), "pin_verified", "doctor", context.doctor_id)
            await self._uow.commit()
            return
        failure = await repo.record_failure(
            context.doctor_id, now, self._policy.max_pin_attempts, self._policy.pin_lock
        )
        if failure.locked_until is not None:
            await audit.record(doctor_actor(context.doctor_id), "pin_locked", "doctor", context.doctor_id, "denied")
            await self._uow.commit()
            raise PinLocked(failure.locked_until)
        await audit.record(doctor_actor(context.doctor_id), "pin_failed", "doctor", context.doctor_id, "failed")
        await self._uow.commit()
        raise PinWrong(self._policy.max_pin_attempts - failure.failed_attempts)

    async def session_state(self, doctor_id: int) -> SessionState:
        """The doctor's PIN lock and idle anchor as the database has them now."""
        return SessionState.of(await SecurityRepository(self._uow.session).get(doctor_id))

    async def require_fresh_session(self, context: DoctorContext, state: SessionState | None = None) -> None:
        """Before patient data: the PIN confirmed within the idle timeout, else PinRequired.

        ``state`` is the security row as read a moment ago (a read cache keeps it while the row is
        unchanged); the checks against the clock are made now either way. Each allowed access
        moves the anchor, so a doctor who keeps working is not asked again.
        """
        if state is None:
            state = await self.session_state(context.doctor_id)
        now = self._now()
        if not state.has_pin:
            raise DomainError(N_("Set a PIN first: /pin"))
        if state.locked_until is not None and state.locked_until > now:
            raise PinLocked(state.locked_until)
        anchor = state.last_verified_at
        if anchor is None or now - anchor > self._policy.idle_timeout:
            raise PinRequired()
        # The anchor moves at most once a minute: a doctor paging through the day does not cost a
        # write per press, and the idle timeout (minutes) is unchanged to within that minute.
        if now - anchor >= ANCHOR_GRANULARITY:
            await SecurityRepository(self._uow.session).touch(context.doctor_id, now)

    async def logout(self, telegram_user_id: int) -> bool:
        """Unlink this Telegram account and forget the ESIA token; True if something was linked."""
        session = self._uow.session
        context = await self.context_of(telegram_user_id)
        if context is None:
            return False
        assert self._cipher is not None, "logout needs the cipher of the ESIA token repository"
        await EsiaTokenRepository(session, self._cipher).delete(context.doctor_id)
        await SecurityRepository(session).clear(context.doctor_id)
        await TelegramAccountRepository(session).unlink(telegram_user_id)
        await AuditService(self._uow).record(tg_actor(telegram_user_id), "unlink", "doctor", context.doctor_id)
        await self._uow.commit()
        return True

    async def require_consented(self, telegram_user_id: int) -> DoctorContext:
        context = await self.context_of(telegram_user_id)
        if context is None:
            raise NotLinked()
        if not context.consented:
            raise DomainError(N_("First accept the consent to personal data processing: /login"))
        return context
