"""Patients: every personal field encrypted on the way in, decrypted on the way out.

Lookups go through blind indexes only; the database never sees a name or a number in clear.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.crypto import BlindIndex, FieldCipher
from storage.models import Patient

LAST_NAME_PURPOSE = "patients.last_name"
POLICY_PURPOSE = "patients.policy_number"
SNILS_PURPOSE = "patients.snils"

_ENCRYPTED = ("last_name", "first_name", "middle_name", "birth_date", "policy_number", "phone")


@dataclass(frozen=True, slots=True)
class PatientData:
    """What a new patient record is made of (plaintext; lives only in memory)."""

    last_name: str
    first_name: str
    middle_name: str | None = None
    birth_date: date | None = None
    policy_number: str | None = None
    phone: str | None = None
    snils: str | None = None  # stored only as a keyed hash: it can be matched, never read back


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """A stored patient, decrypted."""

    id: int
    clinic_id: int
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date | None
    policy_number: str | None
    phone: str | None
    created_at: datetime


class PatientRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher, index: BlindIndex) -> None:
        self._session = session
        self._cipher = cipher
        self._index = index

    @staticmethod
    def _context(column: str) -> str:
        # The associated data: a token moved to another column (or table) no longer decrypts.
        return f"patients.{column}"

    def _encrypt(self, column: str, value: str | None) -> str | None:
        return None if value is None else self._cipher.encrypt(value, self._context(column))

    def _decrypt(self, column: str, token: str | None) -> str | None:
        return None if token is None else self._cipher.decrypt(token, self._context(column))

    async def add(self, clinic_id: int, data: PatientData) -> Patient:
        """A new patient, flushed (id assigned). Returns the stored (encrypted) row."""
        birth_date = data.birth_date.isoformat() if data.birth_date is not None else None
        plain = {
            "last_name": data.last_name,
            "first_name": data.first_name,
            "middle_name": data.middle_name,
            "birth_date": birth_date,
            "policy_number": data.policy_number,
            "phone": data.phone,
        }
        patient = Patient(
            clinic_id=clinic_id,
            **{column: self._encrypt(column, plain[column]) for column in _ENCRYPTED},
            last_name_index=self._index.digest(LAST_NAME_PURPOSE, data.last_name),
            policy_index=self._policy_index(data.policy_number) if data.policy_number is not None else None,
            snils_hash=self._snils_hash(data.snils) if data.snils is not None else None,
        )
        self._session.add(patient)
        await self._session.flush()
        return patient

    def _policy_index(self, policy: str) -> str:
        return self._index.digest(POLICY_PURPOSE, policy, number=True)

    def _snils_hash(self, snils: str) -> str:
        return self._index.digest(SNILS_PURPOSE, snils, number=True)

    def decrypt(self, patient: Patient) -> PatientRecord:
        birth_date = self._decrypt("birth_date", patient.birth_date)
        return PatientRecord(
            id=patient.id,
            clinic_id=patient.clinic_id,
            last_name=self._cipher.decrypt(patient.last_name, self._context("last_name")),
            first_name=self._cipher.decrypt(patient.first_name, self._context("first_name")),
            middle_name=self._decrypt("middle_name", patient.middle_name),
            birth_date=date.fromisoformat(birth_date) if birth_date is not None else None,
            policy_number=self._decrypt("policy_number", patient.policy_number),
            phone=self._decrypt("phone", patient.phone),
            created_at=patient.created_at,
        )

    async def get(self, patient_id: int) -> PatientRecord | None:
        patient = await self._session.get(Patient, patient_id)
        return None if patient is None else self.decrypt(patient)

    async def get_many(self, patient_ids: Collection[int]) -> dict[int, PatientRecord]:
        """The patients with these ids, decrypted, by id, in one query (missing ids are left out)."""
        if not patient_ids:
            return {}
        rows = await self._session.scalars(select(Patient).where(Patient.id.in_(patient_ids)))
        return {patient.id: self.decrypt(patient) for patient in rows}

    async def _find(self, clinic_id: int, condition: ColumnElement[bool]) -> Sequence[PatientRecord]:
        rows = await self._session.scalars(
            select(Patient).where(Patient.clinic_id == clinic_id, condition).order_by(Patient.id)
        )
        return [self.decrypt(patient) for patient in rows]

    async def find_by_last_name(self, clinic_id: int, last_name: str) -> Sequence[PatientRecord]:
        """Exact surname match, ignoring case, ё/е and stray spaces."""
        return await self._find(clinic_id, Patient.last_name_index == self._index.digest(LAST_NAME_PURPOSE, last_name))

    async def find_by_policy(self, clinic_id: int, policy_number: str) -> Sequence[PatientRecord]:
        return await self._find(clinic_id, Patient.policy_index == self._policy_index(policy_number))

    async def find_by_snils(self, clinic_id: int, snils: str) -> Sequence[PatientRecord]:
        return await self._find(clinic_id, Patient.snils_hash == self._snils_hash(snils))

    async def search(
        self,
        clinic_ids: Collection[int],
        *,
        last_name: str | None = None,
        policy_number: str | None = None,
        limit: int,
    ) -> Sequence[PatientRecord]:
        """Patients of any of ``clinic_ids`` with this surname (as ``find_by_last_name`` matches it)
        or this policy number; at most ``limit``, by clinic and id. Only those rows are decrypted."""
        if (last_name is None) == (policy_number is None):
            raise ValueError("search by exactly one of last_name and policy_number")
        if not clinic_ids or limit < 1:
            return []
        condition = (
            Patient.last_name_index == self._index.digest(LAST_NAME_PURPOSE, last_name)
            if last_name is not None
            else Patient.policy_index == self._policy_index(policy_number or "")
        )
        rows = await self._session.scalars(
            select(Patient)
            .where(Patient.clinic_id.in_(set(clinic_ids)), condition)
            .order_by(Patient.clinic_id, Patient.id)
            .limit(limit)
        )
        return [self.decrypt(patient) for patient in rows]

    async def same_person_in(self, patient_id: int, clinic_ids: Collection[int]) -> dict[int, int]:
        """The records of this patient in other clinics: clinic id → patient id, for each of
        ``clinic_ids`` holding exactly one record with the same policy number.

        Matched on the stored policy digests (one blind-index key for every clinic), so nothing is
        decrypted and no number reaches the database. A record without a policy number matches
        nothing; a clinic with two records of that number is left out (which one would it be?)."""
        others = set(clinic_ids)
        if not others:
            return {}
        source = aliased(Patient)
        rows = await self._session.execute(
            select(Patient.clinic_id, Patient.id)
            .join(source, and_(source.id == patient_id, source.policy_index == Patient.policy_index))
            .where(Patient.clinic_id.in_(others), Patient.id != patient_id)
        )
        found: dict[int, list[int]] = {}
        for clinic_id, other_id in rows:
            found.setdefault(clinic_id, []).append(other_id)
        return {clinic_id: ids[0] for clinic_id, ids in found.items() if len(ids) == 1}

    async def reencrypt(self, patient_id: int) -> bool:
        """Re-encrypt the row's fields under the active key; True when something changed.

        Run over all rows after adding a new active key, before retiring the old one.
        """
        patient = await self._session.get(Patient, patient_id)
        if patient is None:
            return False
        changed = False
        for column in _ENCRYPTED:
            token = getattr(patient, column)
            if token is not None and self._cipher.needs_rotation(token):
                setattr(patient, column, self._cipher.reencrypt(token, self._context(column)))
                changed = True
        if changed:
            await self._session.flush()
        return changed
