"""Linking a Telegram account to the doctor's ESIA identity, end to end.

1. ``issue_link_token`` — a one-time, short-lived token for the «Войти через Госуслуги» button
   (only its hash is stored).
2. ``begin`` — the browser opens our start endpoint: the token is claimed (single use), a state
   (UUID) and a PKCE verifier are stored, and the signed ESIA authorize URL is returned.
3. ``complete`` — ESIA's redirect: the state is claimed (single use, unexpired), the code is
   exchanged and the tokens verified, the person's data and the register of medical workers are
   checked, and only then is anything linked — in one transaction, so a failure half-way leaves
   nothing half-linked. Every outcome is audited.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.audit import AuditService, tg_actor
from services.identity.clinic_roles import sync_clinic_roles
from services.identity.errors import SignInFailed, SignInProblem
from services.identity.esia_client import EsiaClient, EsiaError, EsiaPerson, EsiaUnavailable, Pkce
from services.identity.register import MedicalWorker, RegisterClient, RegisterUnavailable
from services.names import short_name
from services.uow import UnitOfWork
from storage.crypto import BlindIndex, FieldCipher
from storage.models.clinic_role import Role
from storage.repositories.consents import ConsentRepository
from storage.repositories.doctor_certificates import CertificateData, DoctorCertificateRepository
from storage.repositories.doctor_profiles import DoctorProfileRepository, PositionData
from storage.repositories.doctors import DoctorRepository, doctor_snils_hash
from storage.repositories.esia_auth_requests import EsiaAuthRequestRepository
from storage.repositories.esia_tokens import EsiaTokenRepository
from storage.repositories.link_tokens import LinkTokenRepository, link_token_hash
from storage.repositories.sign_in_failures import SignInThrottleRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository

logger = logging.getLogger(__name__)

CONSENT_KIND = "personal_data"
CONSENT_VERSION = "2026-11"


@dataclass(frozen=True)
class LinkPolicy:
    link_ttl: timedelta = timedelta(minutes=10)
    state_ttl: timedelta = timedelta(minutes=10)
    max_failures: int = 5
    block_for: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class LinkedDoctor:
    doctor_id: int
    short_name: str  # «Иванов И. И.»
    specialty: str | None
    organizations: tuple[str, ...]
    is_admin: bool


@dataclass
class LinkOutcome:
    """What happened, for the browser page and the chat."""

    telegram_user_id: int | None
    chat_id: int | None
    doctor: LinkedDoctor | None = None
    problem: SignInProblem | None = None
    problem_params: dict[str, object] = field(default_factory=dict)
    needs_consent: bool = False
    # Someone tried to link an ESIA account that another Telegram account holds: tell the holder.
    notify_holder_chat_id: int | None = None


def register_positions(worker: MedicalWorker) -> list[PositionData]:
    """The register's positions as stored rows."""
    return [
        PositionData(
            organization_oid=p.organization_oid,
            organization_name=p.organization_name,
            position=p.position,
            specialty=p.specialty,
            role=Role.ADMIN if p.role == "admin" else Role.DOCTOR,
            start_date=p.start_date,
        )
        for p in worker.positions
    ]


def register_certificates(worker: MedicalWorker) -> list[CertificateData]:
    """The register's specialist certificates as stored rows."""
    return [CertificateData(c.number, c.specialty, c.valid_until) for c in worker.certificates]



_ESIA_ERRORS = {
    "ESIA-007004": SignInProblem.CANCELLED,
    "ESIA-007055": SignInProblem.UNCONFIRMED,
    "ESIA-007008": SignInProblem.UNAVAILABLE,
    "ESIA-007007": SignInProblem.UNAVAILABLE,
    "ESIA-007011": SignInProblem.LINK_EXPIRED,
}


def problem_for_esia_error(error: str, description: str) -> SignInProblem:
    code = description.split(":", 1)[0].strip() if description else ""
    if code in _ESIA_ERRORS:
        return _ESIA_ERRORS[code]
    if error == "access_denied":
        return SignInProblem.CANCELLED
    if error in ("temporarily_unavailable", "server_error"):
        return SignInProblem.UNAVAILABLE
    return SignInProblem.REFUSED


class LinkService:
    def __init__(
        self,
        uow: UnitOfWork,
        esia: EsiaClient,
        register: RegisterClient,
        cipher: FieldCipher,
        index: BlindIndex,
        policy: LinkPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._esia = esia
        self._register = register
        self._cipher = cipher
        self._index = index
        self._policy = policy or LinkPolicy()

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC)

    async def issue_link_token(self, telegram_user_id: int, chat_id: int) -> str:
        """A fresh one-time token for the sign-in button; SignInFailed(BLOCKED) while blocked."""
        session = self._uow.session
        now = self._now()
        blocked_until = await SignInThrottleRepository(session).sign_in_blocked_until(telegram_user_id, now)
        if blocked_until is not None:
            raise SignInFailed(SignInProblem.BLOCKED, until=blocked_until)
        await TelegramAccountRepository(session).upsert(telegram_user_id, chat_id)
        token = secrets.token_urlsafe(24)
        await LinkTokenRepository(session).add(
            link_token_hash(token), telegram_user_id, chat_id, now + self._policy.link_ttl
        )
        await self._uow.commit()
        return token

    async def begin(self, link_token: str) -> str:
        """The ESIA authorize URL for a valid link token (used up by this call)."""
        session = self._uow.session
        now = self._now()
        claimed = await LinkTokenRepository(session).claim(link_token_hash(link_token), now)
        if claimed is None:
            raise SignInFailed(SignInProblem.LINK_EXPIRED)
        blocked_until = await SignInThrottleRepository(session).sign_in_blocked_until(claimed.telegram_user_id, now)
        if blocked_until is not None:
            await self._uow.commit()
            raise SignInFailed(SignInProblem.BLOCKED, until=blocked_until)
        state, pkce = str(uuid.uuid4()), Pkce.new()
        await EsiaAuthRequestRepository(session, self._cipher).add(
            state,
            claimed.telegram_user_id,
            claimed.chat_id,
            pkce.verifier,
            self._esia.config.redirect_uri,
            now + self._policy.state_ttl,
        )
        try:
            url = await self._esia.authorization_url(state, pkce)
        except Exception:
            await self._uow.rollback()
            raise
        await AuditService(self._uow).record(tg_actor(claimed.telegram_user_id), "sign_in_started", "esia")
        await self._uow.commit()
        return url

    async def complete(
        self, state: str | None, code: str | None, error: str | None = None, error_description: str | None = None
    ) -> LinkOutcome:
        session = self._uow.session
        now = self._now()
        claimed = await EsiaAuthRequestRepository(session, self._cipher).claim(state, now) if state else None
        if claimed is None:
            await self._uow.commit()
            return LinkOutcome(None, None, problem=SignInProblem.LINK_EXPIRED)
        request = claimed.request
        outcome = LinkOutcome(request.telegram_user_id, request.chat_id)
        audit = AuditService(self._uow)
        actor = tg_actor(request.telegram_user_id)

        problem: SignInProblem | None = None
        detail = ""
        if error or not code:
            problem = problem_for_esia_error(error or "invalid_request", error_description or "")
            detail = (error_description or error or "no code").split(":", 1)[0]
        else:
            try:
                identity = await self._esia.exchange_code(code, claimed.code_verifier)
                person = await self._esia.person(identity.oid, identity.access_token)
                problem = self._person_problem(person, identity.confirmed)
                worker = None
                if problem is None:
                    assert person.snils is not None
                    worker = await self._register.find_by_snils(person.snils)
                    if worker is None or not worker.positions:
                        problem = SignInProblem.NOT_MEDICAL_WORKER
            except EsiaUnavailable as exc:
                problem, detail = SignInProblem.UNAVAILABLE, exc.code or exc.error
            except RegisterUnavailable:
                problem, detail = SignInProblem.UNAVAILABLE, "register"
            except EsiaError as exc:
                problem = (
                    SignInProblem.INVALID_RESPONSE
                    if exc.error in ("invalid_token", "invalid_response")
                    else problem_for_esia_error(exc.error, exc.description)
                )
                # The description of our own token checks names the failed check (no token content).
                detail = exc.code or (f"{exc.error}: {exc.description}" if exc.error == "invalid_token" else exc.error)
        if problem is not None:
            return await self._fail(outcome, problem, detail, now)

        assert worker is not None and person.snils is not None
        doctors = DoctorRepository(session)
        accounts = TelegramAccountRepository(session)
        doctor = await doctors.get_by_oid(identity.oid)
        if doctor is not None:
            holder = await accounts.get_by_doctor(doctor.id)
            if holder is not None and holder.telegram_user_id != request.telegram_user_id:
                outcome.notify_holder_chat_id = holder.chat_id
                await audit.record(actor, "link", "doctor", doctor.id, "denied", reason="already_linked")
                await self._uow.commit()
                outcome.problem = SignInProblem.ALREADY_LINKED
                return outcome
        # One Telegram account holds one doctor: a different doctor linked here before is unlinked.
        current = await accounts.get(request.telegram_user_id)
        if current is not None and current.doctor_id is not None and (doctor is None or current.doctor_id != doctor.id):
            await accounts.unlink(request.telegram_user_id)
        snils_hash = doctor_snils_hash(self._index, person.snils)
        if doctor is None:
            doctor = await doctors.add(
                last_name=person.last_name,
                first_name=person.first_name,
                middle_name=person.middle_name,
                specialty=worker.positions[0].specialty or worker.positions[0].position,
                esia_oid=identity.oid,
                snils_hash=snils_hash,
            )
        profiles = DoctorProfileRepository(session)
        await self._store_profile(profiles, doctor.id, person, worker, now)
        await accounts.link_doctor(request.telegram_user_id, doctor.id)
        await EsiaTokenRepository(session, self._cipher).save(
            doctor.id, identity.access_token, identity.sid, identity.expires_at
        )
        await SignInThrottleRepository(session).reset_sign_in_failures(request.telegram_user_id)
        consented = await ConsentRepository(session).has_accepted(doctor.id, CONSENT_KIND, CONSENT_VERSION)
        await audit.record(actor, "link", "doctor", doctor.id, "ok", level=identity.level or "")
        await self._uow.commit()
        outcome.doctor = LinkedDoctor(
            doctor_id=doctor.id,
            short_name=short_name(person.last_name, person.first_name, person.middle_name),
            specialty=worker.positions[0].position,
            organizations=tuple(dict.fromkeys(p.organization_name for p in worker.positions)),
            is_admin=any(p.role == "admin" for p in worker.positions),
        )
        outcome.needs_consent = not consented
        return outcome

    @staticmethod
    def _person_problem(person: EsiaPerson, confirmed: bool) -> SignInProblem | None:
        if person.status == "DELETED":
            return SignInProblem.DELETED
        if person.verifying and not person.trusted:
            return SignInProblem.VERIFYING
        # A simplified account lacks SNILS; adding it is the first step towards confirmation.
        if not person.snils:
            return SignInProblem.NO_SNILS
        if not person.trusted or not confirmed:
            return SignInProblem.UNCONFIRMED
        if person.status != "REGISTERED":
            return SignInProblem.REFUSED
        return None

    async def _store_profile(
        self,
        profiles: DoctorProfileRepository,
        doctor_id: int,
        person: EsiaPerson,
        worker: MedicalWorker,
        now: datetime,
    ) -> None:
        await profiles.update_profile(
            doctor_id,
            last_name=person.last_name,
            first_name=person.first_name,
            middle_name=person.middle_name,
            specialty=worker.positions[0].specialty or worker.positions[0].position,
            register_id=worker.register_id,
            accreditation_kind=worker.accreditation_kind,
            accreditation_specialty=worker.accreditation_specialty,
            accreditation_number=worker.accreditation_number,
            accreditation_valid_until=worker.accreditation_valid_until,
            profile_refreshed_at=now,
            esia_trusted=True,
        )
        await profiles.replace_positions(doctor_id, register_positions(worker))
        await DoctorCertificateRepository(self._uow.session).replace(doctor_id, register_certificates(worker))
        # Positions in our clinics (matched by the organisation's OID) become clinic roles.
        await sync_clinic_roles(self._uow, doctor_id)

    async def _fail(self, outcome: LinkOutcome, problem: SignInProblem, detail: str, now: datetime) -> LinkOutcome:
        assert outcome.telegram_user_id is not None
        outcome.problem = problem
        # Only failures the person can cause count towards the block; an ESIA outage never does.
        if problem not in (SignInProblem.UNAVAILABLE, SignInProblem.INVALID_RESPONSE):
            blocked_until = await SignInThrottleRepository(self._uow.session).record_sign_in_failure(
                outcome.telegram_user_id, now, self._policy.max_failures, self._policy.block_for
            )
            if blocked_until is not None:
                outcome.problem = SignInProblem.BLOCKED
                outcome.problem_params = {"until": blocked_until}
        await AuditService(self._uow).record(
            tg_actor(outcome.telegram_user_id), "sign_in", "esia", None, "failed", problem=problem.value, code=detail
        )
        await self._uow.commit()
        logger.info("sign-in failed: %s (%s)", problem.value, detail)
        return outcome
