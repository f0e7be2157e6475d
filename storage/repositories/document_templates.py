"""Document templates: the clinic's own version of a code wins over the shipped default."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DocumentTemplate, utcnow


class DocumentTemplateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def for_clinic(
        self, clinic_id: int, *, defaults: Sequence[dict[str, Any]] | None = None
    ) -> list[DocumentTemplate]:
        """The clinic's templates (its own version of a code replaces the shipped one). With
        ``defaults``: installed first if no shipped template is there yet — found in the same read,
        so the common case costs one query."""
        statement = (
            select(DocumentTemplate)
            .where(or_(DocumentTemplate.clinic_id == clinic_id, DocumentTemplate.clinic_id.is_(None)))
            .order_by(DocumentTemplate.id)
        )
        rows = list(await self._session.scalars(statement))
        if defaults is not None and not any(row.clinic_id is None for row in rows):
            await self.add_defaults(defaults)
            rows = list(await self._session.scalars(statement))
        chosen: dict[str, DocumentTemplate] = {}
        for row in rows:
            if row.code not in chosen or row.clinic_id is not None:
                chosen[row.code] = row
        return list(chosen.values())

    async def get(self, template_id: int) -> DocumentTemplate | None:
        return await self._session.get(DocumentTemplate, template_id)

    async def has_defaults(self) -> bool:
        return (await self._session.scalar(select(DocumentTemplate.id).where(DocumentTemplate.clinic_id.is_(None))
                                           .limit(1))) is not None

    async def add_defaults(self, templates: Sequence[dict[str, Any]]) -> None:
        """Insert the shipped defaults once (another process doing the same at once is fine)."""
        try:
            async with self._session.begin_nested():
                for t in templates:
                    self._session.add(DocumentTemplate(clinic_id=None, code=t["code"], title=t["title"],
                                                       fields=t["fields"], body=t["body"]))
        except IntegrityError:
            pass

    async def save_for_clinic(
        self, clinic_id: int, code: str, title: str, fields: list[dict[str, Any]], body: str
    ) -> DocumentTemplate:
        row = await self._session.scalar(
            select(DocumentTemplate).where(DocumentTemplate.clinic_id == clinic_id, DocumentTemplate.code == code)
        )
        if row is None:
            row = DocumentTemplate(clinic_id=clinic_id, code=code, title=title, fields=fields, body=body)
            self._session.add(row)
        else:
            row.title, row.fields, row.body, row.updated_at = title, fields, body, utcnow()
        await self._session.flush()
        return row

    async def delete_for_clinic(self, clinic_id: int, code: str) -> int | None:
        """Remove a clinic's own version (the default shows again); the removed row's id, if any."""
        removed = await self._session.scalar(
            delete(DocumentTemplate)
            .where(DocumentTemplate.clinic_id == clinic_id, DocumentTemplate.code == code)
            .returning(DocumentTemplate.id)
        )
        return int(removed) if removed is not None else None
