"""Small query helpers shared by the repositories."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def one_or_none(session: AsyncSession, statement: Select[tuple[T]]) -> T | None:
    """The single matching object or None; MultipleResultsFound if a lookup meant to be unique is not.

    (Also keeps mypy precise: ``AsyncSession.scalar`` loses the type in a return context.)
    """
    return (await session.execute(statement)).scalar_one_or_none()
