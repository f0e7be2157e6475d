"""The doctor's own profile: the data that confirms specialist status, refreshable from ESIA and ФРМР."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from services.audit import AuditService, doctor_actor
from services.errors import N_, DomainError
from services.identity.access import NotLinked
from services.identity.clinic_roles import sync_clinic_roles
from services.identity.esia_client import EsiaClient, EsiaError, EsiaUnavailable
from services.identity.linking import register_certificates, register_positions
from services.identity.register import RegisterClient, RegisterUnavailable
from services.uow import UnitOfWork
from storage.crypto import FieldCipher
from storage.repositories.doctor_certificates import DoctorCertificateRepository
from storage.repositories.doctor_profiles import DoctorProfileRepository
from storage.repositories.doctors import DoctorRepository
from storage.repositories.esia_tokens import EsiaTokenRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository


@dataclass(frozen=True)
class ProfilePosition:
    organization: str
    position: str
    role: str


@dataclass(frozen=True)
class ProfileCertificate:
    specialty: str
    number: str
    valid_until: date | None

    @property
    def expired(self) -> bool:
        return self.valid_until is not None and self.valid_until < datetime.now(UTC).date()


@dataclass(frozen=True)
class Profile:
    full_name: str
    specialty: str | None
    positions: tuple[ProfilePosition, ...]
    register_id: str | None
    accreditation_kind: str | None
    accreditation_specialty: str | None
    accreditation_number: str | None
    accreditation_valid_until: date | None
    refreshed_at: datetime | None
    certificates: tuple[ProfileCertificate, ...] = ()

    @property
    def accreditation_expired(self) -> bool:
        return self.accreditation_valid_until is not None and self.accreditation_valid_until < datetime.now(UTC).date()


class ProfileService:
    def __init__(
        self,
        uow: UnitOfWork,
        cipher: FieldCipher | None = None,
        esia: EsiaClient | None = None,
        register: RegisterClient | None = None,
    ) -> None:
        self._uow = uow
        self._cipher = cipher
        self._esia = esia
        self._register = register

    async def _doctor_id(self, telegram_user_id: int) -> int:
        account = await TelegramAccountRepository(self._uow.session).get(telegram_user_id)
        if account is None or account.doctor_id is None:
            raise NotLinked()
        return account.doctor_id

    async def profile(self, telegram_user_id: int) -> Profile:
        doctor_id = await self._doctor_id(telegram_user_id)
        doctor = await DoctorRepository(self._uow.session).get(doctor_id)
        assert doctor is not None
        positions = await DoctorProfileRepository(self._uow.session).positions(doctor_id)
        certificates = await DoctorCertificateRepository(self._uow.session).of_doctor(doctor_id)
        return Profile(
            full_name=" ".join(p for p in (doctor.last_name, doctor.first_name, doctor.middle_name) if p),
            specialty=doctor.specialty,
            positions=tuple(ProfilePosition(p.organization_name, p.position, str(p.role)) for p in positions),
            register_id=doctor.register_id,
            accreditation_kind=doctor.accreditation_kind,
            accreditation_specialty=doctor.accreditation_specialty,
            accreditation_number=doctor.accreditation_number,
            accreditation_valid_until=doctor.accreditation_valid_until,
            refreshed_at=doctor.profile_refreshed_at,
            certificates=tuple(ProfileCertificate(c.specialty, c.number, c.valid_until) for c in certificates),
        )

    async def refresh(self, telegram_user_id: int) -> Profile:
        """Fetch the person from ESIA and the register again (needs a live ESIA session)."""
        if self._cipher is None or self._esia is None or self._register is None:
            raise DomainError(N_("Sign-in with Gosuslugi is not configured on this server. Contact the administrator."))
        session = self._uow.session
        doctor_id = await self._doctor_id(telegram_user_id)
        doctor = await DoctorRepository(session).get(doctor_id)
        assert doctor is not None and doctor.esia_oid is not None
        access = await EsiaTokenRepository(session, self._cipher).get(doctor_id)
        now = datetime.now(UTC)
        if access is None or access.expires_at <= now:
            raise DomainError(N_("Your Gosuslugi session has ended. Sign in again to refresh the data: /login"))
        try:
            person = await self._esia.person(doctor.esia_oid, access.access_token)
            worker = await self._register.find_by_snils(person.snils) if person.snils else None
        except (EsiaUnavailable, RegisterUnavailable) as exc:
            raise DomainError(
                N_("Gosuslugi or the register is not answering right now. Nothing was changed; try again later.")
            ) from exc
        except EsiaError as exc:
            raise DomainError(
                N_("Your Gosuslugi session has ended. Sign in again to refresh the data: /login")
            ) from exc
        profiles = DoctorProfileRepository(session)
        await profiles.update_profile(
            doctor_id,
            last_name=person.last_name,
            first_name=person.first_name,
            middle_name=person.middle_name,
            profile_refreshed_at=now,
        )
        if worker is not None:
            await profiles.update_profile(
                doctor_id,
                register_id=worker.register_id,
                accreditation_kind=worker.accreditation_kind,
                accreditation_specialty=worker.accreditation_specialty,
                accreditation_number=worker.accreditation_number,
                accreditation_valid_until=worker.accreditation_valid_until,
            )
            await profiles.replace_positions(doctor_id, register_positions(worker))
            await DoctorCertificateRepository(session).replace(doctor_id, register_certificates(worker))
            await sync_clinic_roles(self._uow, doctor_id)
        await AuditService(self._uow).record(doctor_actor(doctor_id), "profile_refresh", "doctor", doctor_id)
        await self._uow.commit()
        return await self.profile(telegram_user_id)
