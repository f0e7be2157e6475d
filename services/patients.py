"""Finding a patient: the first screen that shows patient data, so every guard applies.

The doctor must be linked, have accepted the consent, hold the doctor role in a clinic (a clinic
administrator sees no patient data), and have confirmed the PIN within the idle timeout. Only the
clinics where the doctor is a doctor are searched; the answer is masked (surname, initials, age)
and every search is audited by its result count alone — never the query or a name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from services.audit import AuditService, doctor_actor
from services.errors import N_, DomainError
from services.identity.access import AccessDenied, AccessService, DoctorContext, NotLinked, SecurityPolicy
from services.names import initials as initials  # re-exported: callers import it from here
from services.uow import UnitOfWork
from storage.crypto import BlindIndex, FieldCipher, normalize_text
from storage.models.clinic_role import Role
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.patients import PatientRecord, PatientRepository

OPERATION = "patient_search"
MAX_RESULTS = 10
MIN_QUERY_LENGTH = 2
MAX_QUERY_LENGTH = 60
POLICY_DIGITS = 16  # the single-format compulsory medical insurance policy (ОМС)

_LETTER = "A-Za-zА-Яа-яЁё"
# A surname: letters, parts joined by a hyphen, a space or an apostrophe («Петрова-Водкина», «О'Нил»).
_SURNAME = re.compile(rf"[{_LETTER}]+(?:(?: ?- ?| |')[{_LETTER}]+)*")
_POLICY = re.compile(r"[0-9][0-9 -]*")
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_APOSTROPHES = re.compile(r"[\u2019\u02bc`]")


class QueryKind(StrEnum):
    SURNAME = "surname"
    POLICY = "policy"


@dataclass(frozen=True)
class PatientQuery:
    kind: QueryKind
    value: str  # the surname with plain hyphens, or the 16 digits


class InvalidQuery(DomainError):
    """The search text is neither a surname nor a policy number; the message says what to send."""


class NoClinic(AccessDenied):
    """A doctor by the register, but none of their organisations is a clinic of this cabinet."""

    def __init__(self) -> None:
        DomainError.__init__(
            self,
            N_(
                "None of your clinics from the register of medical workers is connected to the cabinet yet, "
                "so there are no patients to search. Ask your clinic's administrator."
            ),
        )


def parse_query(text: str) -> PatientQuery:
    """A surname or a policy number from what the doctor typed; InvalidQuery saying what is wrong."""
    value = unicodedata.normalize("NFKC", text).strip()
    value = _APOSTROPHES.sub("'", _DASHES.sub("-", value))
    if not value:
        raise InvalidQuery(N_("Send the patient's surname or the 16-digit policy number."))
    if len(value) > MAX_QUERY_LENGTH:
        raise InvalidQuery(
            N_("That is too long: a surname has at most {limit} characters. Send the surname or the policy number."),
            limit=MAX_QUERY_LENGTH,
        )
    if _POLICY.fullmatch(value):
        digits = re.sub(r"\D", "", value)
        if len(digits) != POLICY_DIGITS:
            raise InvalidQuery(
                N_("A policy number has 16 digits. Check the number and send it again, or send the surname.")
            )
        return PatientQuery(QueryKind.POLICY, digits)
    if not _SURNAME.fullmatch(value):
        raise InvalidQuery(
            N_(
                "A surname is written in letters (a hyphen is allowed), a policy number in 16 digits. "
                "Send one of them, for example: Петрова"
            )
        )
    if len(value) < MIN_QUERY_LENGTH:
        raise InvalidQuery(N_("Send the surname in full: at least 2 letters."))
    return PatientQuery(QueryKind.SURNAME, re.sub(r" ?- ?", "-", value))


def full_years(birth_date: date, today: date) -> int:
    """Age in full years on ``today`` (someone born on 29 February gets a year older on 1 March)."""
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


@dataclass(frozen=True)
class PatientCard:
    """What the search shows of a patient: no first name, no birth date, no contacts."""

    patient_id: int
    last_name: str
    initials: str
    age: int | None  # full years in the clinic's time zone; None when the birth date is unknown
    clinic_short_name: str

    @property
    def display_name(self) -> str:
        """«Петрова А. В.»"""
        return f"{self.last_name} {self.initials}" if self.initials else self.last_name


@dataclass(frozen=True)
class PatientSearchResult:
    cards: list[PatientCard]
    more: bool  # more patients matched than are shown: the doctor should narrow the search


class PatientLookupService:
    def __init__(
        self, uow: UnitOfWork, cipher: FieldCipher, index: BlindIndex, policy: SecurityPolicy | None = None
    ) -> None:
        self._uow = uow
        self._cipher = cipher
        self._index = index
        self._access = AccessService(uow, policy, cipher)

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC)

    async def _authorize(self, telegram_user_id: int) -> tuple[DoctorContext, list[int]]:
        """The doctor and the clinics where they may see patients; every guard but the query."""
        context = await self._access.context_of(telegram_user_id)
        if context is None:
            raise NotLinked()
        if not context.consented:
            raise DomainError(N_("First accept the consent to personal data processing: /login"))
        grants = await ClinicRoleRepository(self._uow.session).roles_of(context.doctor_id)
        clinic_ids = sorted({grant.clinic_id for grant in grants if grant.role == Role.DOCTOR})
        if not clinic_ids:
            await AuditService(self._uow).record(
                doctor_actor(context.doctor_id), OPERATION, "section", Role.DOCTOR.value, "denied"
            )
            await self._uow.commit()
            # A doctor by the register whose clinic is not here yet is told so; anyone else is
            # simply denied (an administrator sees no patient data).
            raise NoClinic() if context.is_doctor else AccessDenied()
        await self._access.require_fresh_session(context)
        return context, clinic_ids

    async def open(self, telegram_user_id: int) -> None:
        """Before asking for a surname: may this person search at all? Raises what stops them."""
        await self._authorize(telegram_user_id)
        await self._uow.commit()  # the idle anchor moved: the doctor is working

    async def search(self, telegram_user_id: int, query: str) -> PatientSearchResult:
        """Patients of the doctor's clinics by surname (in full; case and ё/е do not matter) or by
        the 16-digit policy number: at most ``MAX_RESULTS`` masked cards, and whether there were more."""
        context, clinic_ids = await self._authorize(telegram_user_id)
        parsed = parse_query(query)
        session = self._uow.session
        repository = PatientRepository(session, self._cipher, self._index)
        if parsed.kind is QueryKind.SURNAME:
            records = await repository.search(clinic_ids, last_name=parsed.value, limit=MAX_RESULTS + 1)
        else:
            records = await repository.search(clinic_ids, policy_number=parsed.value, limit=MAX_RESULTS + 1)
        more = len(records) > MAX_RESULTS
        clinics = {
            clinic.id: clinic for clinic in await ClinicRepository(session).by_ids({r.clinic_id for r in records})
        }
        now = self._now()
        cards = []
        for record in records[:MAX_RESULTS]:
            clinic = clinics[record.clinic_id]
            cards.append(self._card(record, clinic.short_name, now.astimezone(ZoneInfo(clinic.timezone)).date()))
        cards.sort(key=lambda c: (normalize_text(c.last_name), c.initials, c.clinic_short_name, c.patient_id))
        # The count only: the query and the names would put patient data into the (unencrypted) log.
        await AuditService(self._uow).record(
            doctor_actor(context.doctor_id), OPERATION, "patient", None, "ok", results=len(cards)
        )
        await self._uow.commit()
        return PatientSearchResult(cards, more)

    @staticmethod
    def _card(record: PatientRecord, clinic_short_name: str, today: date) -> PatientCard:
        return PatientCard(
            patient_id=record.id,
            last_name=record.last_name,
            initials=initials(record.first_name, record.middle_name),
            age=full_years(record.birth_date, today) if record.birth_date is not None else None,
            clinic_short_name=clinic_short_name,
        )
