"""A unit of work per update; a database that stops answering becomes a clear apology.

The session is opened lazily (most updates never need it) and always closed, which rolls back
anything a failing handler left uncommitted: nothing half-written survives an error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.errors import N_, ServiceUnavailable
from services.uow import UnitOfWork

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = N_("The service is temporarily unavailable. Please try again in a few minutes.")


class DatabaseSessionMiddleware(BaseMiddleware):
    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self._session_maker = session_maker

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        uow = UnitOfWork(self._session_maker)
        data["uow"] = uow
        try:
            return await handler(event, data)
        except (OperationalError, InterfaceError) as exc:
            logger.error("database unavailable: %s", type(exc.orig).__name__ if exc.orig else type(exc).__name__)
            raise ServiceUnavailable(DATABASE_UNAVAILABLE) from exc
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            logger.error("database connection lost")
            raise ServiceUnavailable(DATABASE_UNAVAILABLE) from exc
        except (ConnectionError, TimeoutError) as exc:
            # asyncpg reports a refused or dropped connection as a plain OSError.
            if not uow.started:
                raise
            logger.error("database unavailable: %s", type(exc).__name__)
            raise ServiceUnavailable(DATABASE_UNAVAILABLE) from exc
        finally:
            try:
                await uow.close()
            except Exception:
                logger.warning("could not close the database session cleanly")
