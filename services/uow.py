"""Unit of work: one database session per update, opened only when a service needs it.

Most updates (menus, help) never touch the database, so the session is created lazily; the
service, not the middleware, decides when to commit.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.changes import epochs_of


class UnitOfWork:
    def __init__(self, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self._session_maker = session_maker
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._session_maker()
        return self._session

    @property
    def started(self) -> bool:
        return self._session is not None

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()
            # Other processes learn what this commit changed before the caller answers anyone.
            epochs = epochs_of(self._session.info)
            if epochs is not None:
                await epochs.publish()

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            # Closing rolls back whatever was not committed: nothing half-written survives.
            await session.close()
