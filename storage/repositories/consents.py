"""Doctors' answers to versioned consent texts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialects import upsert_insert
from storage.models import Consent
from storage.repositories._query import one_or_none


class ConsentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, doctor_id: int, kind: str, version: str, accepted: bool, at: datetime) -> Consent:
        """The doctor's answer to this version of the text; answering again replaces the answer."""
        accepted_at, declined_at = (at, None) if accepted else (None, at)
        insert = upsert_insert(self._session, Consent).values(
            doctor_id=doctor_id, kind=kind, version=version, accepted_at=accepted_at, declined_at=declined_at
        )
        statement = insert.on_conflict_do_update(
            index_elements=[Consent.doctor_id, Consent.kind, Consent.version],
            set_={"accepted_at": insert.excluded.accepted_at, "declined_at": insert.excluded.declined_at},
        ).returning(Consent)
        result = await self._session.scalars(statement, execution_options={"populate_existing": True})
        return result.one()

    async def current(self, doctor_id: int, kind: str) -> Consent | None:
        """The latest answer of this kind (any version), or None if the doctor never answered."""
        answered = func.coalesce(Consent.accepted_at, Consent.declined_at, Consent.created_at)
        return await one_or_none(
            self._session,
            select(Consent)
            .where(Consent.doctor_id == doctor_id, Consent.kind == kind)
            .order_by(answered.desc(), Consent.id.desc())
            .limit(1),
        )

    async def has_accepted(self, doctor_id: int, kind: str, version: str) -> bool:
        """True when this exact version is accepted (and not declined since)."""
        accepted = exists().where(
            Consent.doctor_id == doctor_id,
            Consent.kind == kind,
            Consent.version == version,
            Consent.accepted_at.is_not(None),
        )
        return bool(await self._session.scalar(select(accepted)))
