"""Which rows a committed transaction changed, as keys that read caches can depend on.

A cached read (the doctor's access context, a rendered day) stays valid while nothing it read has
changed since. Sessions made by ``make_session_maker(engine, epochs)`` record, per transaction,
a key for every watched row they write — ``appointments:doctor_id=5`` — from ORM flushes and from
UPDATE/DELETE/INSERT statements alike, and after the commit the keys are bumped in a
``ChangeEpochs``. A statement whose rows cannot be named from its WHERE clause (``… WHERE id = 7``)
bumps the whole table (``appointments:*``), which every reader of the table depends on: the
tracking errs on the side of a cache miss, never of a stale answer.

Epochs are sequence numbers: ``begin()`` before a read gives the current sequence, and the result
is still valid while every key it depends on was last bumped at or before that number. The
in-process store serves one process (SQLite); ``RedisChangeEpochs`` shares them between the
processes of the scale-out mode, so a change committed by one is seen by all.

Writers outside these sessions (an operator's SQL, a migration) are not seen: read caches also
expire after a short time.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, attributes
from sqlalchemy.orm.base import PassiveFlag
from sqlalchemy.sql import operators
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, BooleanClauseList, ClauseElement, TextClause
from sqlalchemy.sql.schema import Column

logger = logging.getLogger(__name__)

# Table → the columns whose values name the rows readers depend on.
WATCHED: dict[str, tuple[str, ...]] = {
    "telegram_accounts": ("telegram_user_id", "doctor_id"),
    "doctors": ("id",),
    "consents": ("doctor_id",),
    "clinic_roles": ("doctor_id",),
    "doctor_security": ("doctor_id",),
    "clinics": ("id",),
    "appointments": ("doctor_id",),
    "shifts": ("doctor_id",),
    "patients": ("clinic_id",),
}

_INFO_KEY = "medcab_changes"
_EPOCHS_KEY = "medcab_epochs"
_TEXT_DML = re.compile(r"^\s*(?:UPDATE|DELETE\s+FROM|INSERT\s+(?:OR\s+\w+\s+)?INTO)\s+\"?(\w+)", re.IGNORECASE)


def row_key(table: str, column: str, value: object) -> str:
    return f"{table}:{column}={value}"


def table_key(table: str) -> str:
    return f"{table}:*"


def dependency_keys(keys: Iterable[str]) -> tuple[str, ...]:
    """``keys`` and the whole-table key of every table they name (sorted, without repeats)."""
    result = set(keys)
    result.update(table_key(key.split(":", 1)[0]) for key in list(result))
    return tuple(sorted(result))


class ChangeEpochs:
    """In-process epochs: the last sequence number at which each key's rows changed."""

    def __init__(self, max_keys: int = 200_000) -> None:
        self._max_keys = max_keys
        self._sequence = 0
        self._floor = 0  # what a forgotten key reports: "changed at most this late"
        self._epochs: dict[str, int] = {}

    def committed(self, keys: Collection[str]) -> None:
        """Called after a commit that wrote these keys (synchronously, inside the commit)."""
        self._sequence += 1
        if len(self._epochs) + len(keys) > self._max_keys:
            # Forgetting is safe: every key then reports the current sequence, so all entries
            # read before now are treated as changed.
            self._epochs.clear()
            self._floor = self._sequence
        for key in keys:
            self._epochs[key] = self._sequence

    async def publish(self) -> None:
        """Make committed keys visible to other processes (nothing to do in one process)."""

    async def begin(self) -> int | None:
        """The sequence number to stamp a read that starts now with; None: cannot cache now."""
        return self._sequence

    async def unchanged(self, keys: Sequence[str], since: int) -> bool:
        """No key changed after ``since``."""
        epochs, floor = self._epochs, self._floor
        return all(epochs.get(key, floor) <= since for key in keys)


# KEYS: the sequence counter, then the keys to bump. Atomic: a reader sees all or none.
_BUMP = """
local sequence = redis.call('INCR', KEYS[1])
for i = 2, #KEYS do redis.call('SET', KEYS[i], sequence) end
return sequence
"""


class RedisChangeEpochs(ChangeEpochs):
    """Epochs shared by every process through Redis; when Redis does not answer, nothing is cached.

    The sequence lives under a run id: if Redis restarts empty, the id changes and every entry
    stamped before is discarded, instead of comparing against counters that started again at 0.
    """

    def __init__(self, redis: Redis, prefix: str = "medcab:epochs:") -> None:
        super().__init__()
        self._redis = redis
        self._prefix = prefix
        self._pending: set[str] = set()
        self._run: str | None = None
        self._bump = redis.register_script(_BUMP)

    def committed(self, keys: Collection[str]) -> None:
        self._pending.update(keys)

    async def publish(self) -> None:
        if not self._pending:
            return
        keys, self._pending = self._pending, set()
        try:
            await self._bump(keys=[self._prefix + "sequence", *(self._prefix + key for key in keys)])
        except RedisError:
            # Kept for the next commit's publish: other processes may serve what these keys named
            # until then (at most the caches' expiry), while Redis does not answer them either.
            self._pending |= keys
            logger.warning("could not publish %d change keys to Redis; will retry", len(keys))

    async def begin(self) -> int | None:
        # One round trip: the run id (made if Redis has none yet) and the sequence.
        run_key = self._prefix + "run"
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(run_key, secrets.token_hex(8), nx=True)
                pipe.get(run_key)
                pipe.get(self._prefix + "sequence")
                _, run, sequence = await pipe.execute()
        except RedisError:
            return None
        self._run = run.decode() if isinstance(run, bytes) else run
        return int(sequence or 0)

    async def unchanged(self, keys: Sequence[str], since: int) -> bool:
        if self._run is None:
            return False
        try:
            values = await self._redis.mget([self._prefix + "run", *(self._prefix + key for key in keys)])
        except RedisError:
            return False
        run, *epochs = values
        if run is None or (run.decode() if isinstance(run, bytes) else run) != self._run:
            return False
        return all(value is None or int(value) <= since for value in epochs)


# --- what a session wrote ------------------------------------------------------------------------


def _pending(session: Session) -> set[str] | None:
    if _EPOCHS_KEY not in session.info:
        return None
    pending: set[str] = session.info.setdefault(_INFO_KEY, set())
    return pending


def _object_keys(instance: Any) -> Iterable[str]:
    table = getattr(getattr(instance, "__table__", None), "name", None)
    columns = WATCHED.get(table or "")
    if not columns:
        return ()
    keys = []
    for column in columns:
        # The value now and the value before this flush: a row moved between doctors changes both.
        history = attributes.get_history(instance, column, passive=PassiveFlag.PASSIVE_NO_INITIALIZE)
        for value in (*history.added, *history.unchanged, *history.deleted):
            if value is not None:
                keys.append(row_key(table or "", column, value))
    return keys or (table_key(table or ""),)


def _equalities(clause: ClauseElement | None, table: str, columns: Sequence[str]) -> dict[str, list[Any]]:
    """Column → values from ``column = :value`` and ``column IN (:values)`` joined by AND."""
    found: dict[str, list[Any]] = {}
    if clause is None:
        return found
    if isinstance(clause, BooleanClauseList) and clause.operator is operators.and_:
        for part in clause.clauses:
            for column, values in _equalities(part, table, columns).items():
                found.setdefault(column, []).extend(values)
        return found
    if (
        isinstance(clause, BinaryExpression)
        and isinstance(clause.left, Column)
        and isinstance(clause.right, BindParameter)
    ):
        left = clause.left
        if left.table is not None and getattr(left.table, "name", None) == table and left.name in columns:
            value = clause.right.effective_value
            if clause.operator is operators.eq and value is not None:
                found[left.name] = [value]
            elif clause.operator is operators.in_op and isinstance(value, (list, tuple)):
                found[left.name] = list(value)
    return found


def _statement_keys(statement: Any) -> Iterable[str]:
    if isinstance(statement, TextClause):
        match = _TEXT_DML.match(statement.text)
        if match and match.group(1) in WATCHED:
            return (table_key(match.group(1)),)
        return ()
    if not isinstance(statement, (Update, Delete, Insert)):
        return ()
    table = getattr(statement.table, "name", None)
    columns = WATCHED.get(table or "")
    if not table or not columns:
        return ()
    if isinstance(statement, Insert):
        values = getattr(statement, "_values", None) or {}
        named = {getattr(column, "key", column): value for column, value in values.items()}
        keys = []
        for column in columns:
            value = named.get(column)
            value = value.effective_value if isinstance(value, BindParameter) else None
            if value is not None:
                keys.append(row_key(table, column, value))
        return keys or (table_key(table),)
    found = _equalities(statement.whereclause, table, columns)
    keys = [row_key(table, column, value) for column, values in found.items() for value in values]
    # A row's other key columns may change too (UPDATE … SET doctor_id = …): then the whole table.
    if isinstance(statement, Update):
        changed = {getattr(column, "key", column) for column in (getattr(statement, "_values", None) or {})}
        if changed & set(columns):
            return (table_key(table),)
    return keys or (table_key(table),)


class TrackingSession(Session):
    """A Session that records the watched rows it writes and bumps them after commit."""


@event.listens_for(TrackingSession, "after_flush")
def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    pending = _pending(session)
    if pending is None:
        return
    for instance in (*session.new, *session.dirty, *session.deleted):
        pending.update(_object_keys(instance))


@event.listens_for(TrackingSession, "do_orm_execute")
def _do_orm_execute(state: ORMExecuteState) -> None:
    if state.is_select:
        return
    pending = _pending(state.session)
    if pending is not None:
        pending.update(_statement_keys(state.statement))


@event.listens_for(TrackingSession, "after_commit")
def _after_commit(session: Session) -> None:
    # Kept across rollbacks on purpose: bumping a key that did not change costs a cache miss,
    # forgetting one that did would serve a stale answer.
    pending = session.info.pop(_INFO_KEY, None)
    if pending:
        epochs: ChangeEpochs = session.info[_EPOCHS_KEY]
        epochs.committed(pending)


def session_info(epochs: ChangeEpochs) -> dict[str, Any]:
    """What ``make_session_maker`` puts in every session's ``info`` to track its changes."""
    return {_EPOCHS_KEY: epochs}


def epochs_of(session_info_: dict[str, Any]) -> ChangeEpochs | None:
    epochs: ChangeEpochs | None = session_info_.get(_EPOCHS_KEY)
    return epochs
