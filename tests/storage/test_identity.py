"""ESIA sign-in storage: one-time link tokens, auth requests, ESIA tokens, sign-in throttling.

Single use is checked under real concurrency: on PostgreSQL the losing claim waits on the winner's
row lock, on SQLite on the database write lock; either way exactly one claim gets the row.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.crypto import DecryptionError, FieldCipher
from storage.models import EsiaAuthRequest, LinkToken, SignInFailure
from storage.repositories import (
    DoctorRepository,
    EsiaAuthRequestRepository,
    EsiaTokenRepository,
    LinkTokenRepository,
    SignInThrottleRepository,
    TelegramAccountRepository,
    link_token_hash,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)
USER = 7_000_000_001  # Telegram ids do not fit in 32 bits
CHAT = 7_000_000_002
K1 = bytes(range(32))
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
ACCESS_TOKEN = "eyJhbGciOiJHT1NUMzQxMCJ9.eyJzY29wZSI6ImZ1bGxuYW1lIn0.c2lnbmF0dXJl"


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher({"k1": K1}, "k1")


async def _account(session: AsyncSession, user_id: int = USER) -> int:
    await TelegramAccountRepository(session).upsert(user_id, CHAT)
    return user_id


async def _doctor(session: AsyncSession) -> int:
    return (await DoctorRepository(session).add(last_name="Петрова", first_name="Анна")).id


# --- link tokens --------------------------------------------------------------------------------


def test_link_token_hash_is_sha256_hex() -> None:
    assert link_token_hash("abc") == hashlib.sha256(b"abc").hexdigest()
    assert len(link_token_hash("x" * 43)) == 64


async def test_link_token_is_claimed_once(session: AsyncSession) -> None:
    repo = LinkTokenRepository(session)
    await _account(session)
    token_hash = link_token_hash("one-time-token")
    added = await repo.add(token_hash, USER, CHAT, LATER)
    assert added.id is not None and added.used_at is None and added.created_at.tzinfo is not None
    await session.commit()

    claimed = await repo.claim(token_hash, NOW)
    assert claimed is not None
    assert (claimed.telegram_user_id, claimed.chat_id, claimed.used_at) == (USER, CHAT, NOW)
    assert await repo.claim(token_hash, NOW) is None
    assert await repo.claim(token_hash, NOW + timedelta(seconds=1)) is None
    await session.commit()
    session.expunge_all()
    assert await repo.claim(token_hash, NOW) is None  # and still after a commit, from the database
    assert await repo.claim(link_token_hash("never issued"), NOW) is None


async def test_expired_link_token_is_not_claimed(session: AsyncSession) -> None:
    repo = LinkTokenRepository(session)
    await _account(session)
    await repo.add(link_token_hash("stale"), USER, CHAT, NOW)
    await repo.add(link_token_hash("fresh"), USER, CHAT, NOW + timedelta(microseconds=1))
    assert await repo.claim(link_token_hash("stale"), NOW) is None  # expires_at == now: expired
    assert await repo.claim(link_token_hash("stale"), LATER) is None
    assert await repo.claim(link_token_hash("fresh"), NOW) is not None
    # The expired one was not marked used by the failed claims.
    used = await session.scalar(select(LinkToken.used_at).where(LinkToken.token_hash == link_token_hash("stale")))
    assert used is None


async def test_link_token_hash_is_unique(session: AsyncSession) -> None:
    repo = LinkTokenRepository(session)
    await _account(session)
    await repo.add(link_token_hash("t"), USER, CHAT, LATER)
    await session.commit()
    with pytest.raises(IntegrityError):
        await repo.add(link_token_hash("t"), USER, CHAT, LATER)
    await session.rollback()


async def test_link_token_needs_a_telegram_account(session: AsyncSession) -> None:
    with pytest.raises(IntegrityError):
        await LinkTokenRepository(session).add(link_token_hash("t"), USER, CHAT, LATER)
    await session.rollback()


async def test_link_tokens_purge_expired(session: AsyncSession) -> None:
    repo = LinkTokenRepository(session)
    await _account(session)
    await repo.add(link_token_hash("old"), USER, CHAT, NOW - timedelta(minutes=1))
    await repo.add(link_token_hash("edge"), USER, CHAT, NOW)
    await repo.add(link_token_hash("used but valid"), USER, CHAT, LATER)
    await repo.add(link_token_hash("valid"), USER, CHAT, LATER)
    assert await repo.claim(link_token_hash("used but valid"), NOW) is not None
    assert await repo.purge_expired(NOW) == 2
    await session.commit()
    remaining = (await session.scalars(select(LinkToken.token_hash).order_by(LinkToken.id))).all()
    assert remaining == [link_token_hash("used but valid"), link_token_hash("valid")]
    assert await repo.purge_expired(NOW) == 0


async def test_concurrent_link_token_claims_have_one_winner(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    token_hash = link_token_hash("contested")
    async with session_maker() as setup:
        await _account(setup)
        await LinkTokenRepository(setup).add(token_hash, USER, CHAT, LATER)
        await setup.commit()

    async with session_maker() as first, session_maker() as second:
        assert await LinkTokenRepository(first).claim(token_hash, NOW) is not None
        losing = asyncio.create_task(LinkTokenRepository(second).claim(token_hash, NOW))
        await asyncio.sleep(0.3)
        assert not losing.done()  # waiting for the first transaction (row lock / write lock)
        await first.commit()
        assert await losing is None
        await second.commit()


async def test_many_concurrent_claims_have_one_winner(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    token_hash = link_token_hash("contested by many")
    async with session_maker() as setup:
        await _account(setup)
        await LinkTokenRepository(setup).add(token_hash, USER, CHAT, LATER)
        await setup.commit()

    async def claim() -> bool:
        async with session_maker() as session:
            won = await LinkTokenRepository(session).claim(token_hash, NOW) is not None
            await asyncio.sleep(0.01)  # hold the lock while the others try
            await session.commit()
            return won

    results = await asyncio.gather(*(claim() for _ in range(8)))
    assert results.count(True) == 1


# --- ESIA authorization requests ----------------------------------------------------------------


async def test_auth_request_claim_decrypts_the_verifier_once(session: AsyncSession, cipher: FieldCipher) -> None:
    repo = EsiaAuthRequestRepository(session, cipher)
    await _account(session)
    state = str(uuid.uuid4())
    stored = await repo.add(state, USER, CHAT, VERIFIER, "https://bot.example/esia/callback", LATER)
    assert stored.code_verifier != VERIFIER and stored.code_verifier.startswith("v1.k1.")
    await session.commit()
    session.expunge_all()

    claimed = await repo.claim(state, NOW)
    assert claimed is not None
    request, verifier = claimed
    assert verifier == VERIFIER
    assert (request.state, request.telegram_user_id, request.chat_id) == (state, USER, CHAT)
    assert (request.redirect_uri, request.used_at) == ("https://bot.example/esia/callback", NOW)
    assert await repo.claim(state, NOW) is None
    await session.commit()
    assert await repo.claim(state, NOW) is None
    assert await repo.claim(str(uuid.uuid4()), NOW) is None


async def test_expired_auth_request_is_not_claimed(session: AsyncSession, cipher: FieldCipher) -> None:
    repo = EsiaAuthRequestRepository(session, cipher)
    await _account(session)
    state = str(uuid.uuid4())
    await repo.add(state, USER, CHAT, VERIFIER, "https://bot.example/cb", NOW)
    assert await repo.claim(state, NOW) is None
    assert await repo.claim(state, LATER) is None
    with pytest.raises(ValueError, match="state"):
        await repo.add("x" * 37, USER, CHAT, VERIFIER, "https://bot.example/cb", LATER)


async def test_code_verifier_is_not_stored_in_clear(
    engine: AsyncEngine, session: AsyncSession, cipher: FieldCipher
) -> None:
    await _account(session)
    state = str(uuid.uuid4())
    await EsiaAuthRequestRepository(session, cipher).add(state, USER, CHAT, VERIFIER, "https://bot.example/cb", LATER)
    await session.commit()
    async with engine.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM esia_auth_requests"))).mappings().one()
    assert VERIFIER not in " ".join(str(value) for value in row.values())
    assert str(row["code_verifier"]).startswith("v1.k1.")
    # Bound to its column: the ciphertext does not decrypt as anything else.
    with pytest.raises(DecryptionError):
        cipher.decrypt(str(row["code_verifier"]), "esia_tokens.access_token")


async def test_auth_requests_purge_expired(session: AsyncSession, cipher: FieldCipher) -> None:
    repo = EsiaAuthRequestRepository(session, cipher)
    await _account(session)
    old, valid = str(uuid.uuid4()), str(uuid.uuid4())
    await repo.add(old, USER, CHAT, VERIFIER, "https://bot.example/cb", NOW - timedelta(seconds=1))
    await repo.add(valid, USER, CHAT, VERIFIER, "https://bot.example/cb", LATER)
    assert await repo.purge_expired(NOW) == 1
    assert (await session.scalars(select(EsiaAuthRequest.state))).all() == [valid]


async def test_concurrent_auth_request_claims_have_one_winner(
    session_maker: async_sessionmaker[AsyncSession], cipher: FieldCipher
) -> None:
    state = str(uuid.uuid4())
    async with session_maker() as setup:
        await _account(setup)
        await EsiaAuthRequestRepository(setup, cipher).add(state, USER, CHAT, VERIFIER, "https://bot.example/cb", LATER)
        await setup.commit()

    async def claim() -> str | None:
        async with session_maker() as session:
            claimed = await EsiaAuthRequestRepository(session, cipher).claim(state, NOW)
            await asyncio.sleep(0.01)
            await session.commit()
            return None if claimed is None else claimed.code_verifier

    results = await asyncio.gather(*(claim() for _ in range(6)))
    assert sorted(results, key=lambda r: r is None) == [VERIFIER] + [None] * 5


# --- ESIA tokens --------------------------------------------------------------------------------


async def test_esia_token_is_encrypted_at_rest(engine: AsyncEngine, session: AsyncSession, cipher: FieldCipher) -> None:
    repo = EsiaTokenRepository(session, cipher)
    doctor_id = await _doctor(session)
    stored = await repo.save(doctor_id, ACCESS_TOKEN, "sid-1", LATER)
    assert stored.access_token.startswith("v1.k1.") and stored.id_token_sid == "sid-1"
    await session.commit()

    async with engine.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM esia_tokens"))).mappings().one()
    raw = " ".join(str(value) for value in row.values())
    for secret in (ACCESS_TOKEN, *ACCESS_TOKEN.split(".")):
        assert secret not in raw
    assert str(row["access_token"]).startswith("v1.k1.")

    session.expunge_all()
    access = await repo.get(doctor_id)
    assert access == (ACCESS_TOKEN, LATER)
    assert access is not None and access.expires_at.tzinfo is not None


async def test_esia_token_save_replaces_and_delete(session: AsyncSession, cipher: FieldCipher) -> None:
    repo = EsiaTokenRepository(session, cipher)
    doctor_id = await _doctor(session)
    assert await repo.get(doctor_id) is None
    await repo.save(doctor_id, "first", "sid-1", NOW)
    await session.commit()
    await repo.save(doctor_id, "second", None, LATER)
    await session.commit()
    assert await repo.get(doctor_id) == ("second", LATER)
    row = await repo.row(doctor_id)
    assert row is not None and row.id_token_sid is None
    assert await repo.delete(doctor_id)
    assert not await repo.delete(doctor_id)
    assert await repo.get(doctor_id) is None


# --- sign-in throttling -------------------------------------------------------------------------


async def test_sign_in_failures_block_at_max(session: AsyncSession) -> None:
    repo = SignInThrottleRepository(session)
    await _account(session)
    block = timedelta(minutes=15)
    assert await repo.sign_in_blocked_until(USER) is None
    for n in range(4):
        assert await repo.record_sign_in_failure(USER, NOW + timedelta(seconds=n), 5, block) is None
    fifth = NOW + timedelta(seconds=4)
    assert await repo.record_sign_in_failure(USER, fifth, 5, block) == fifth + block
    await session.commit()
    session.expunge_all()
    assert await repo.sign_in_blocked_until(USER) == fifth + block
    assert await repo.sign_in_blocked_until(USER, now=fifth) == fifth + block
    assert await repo.sign_in_blocked_until(USER, now=fifth + block) is None
    assert await repo.sign_in_blocked_until(USER, now=fifth + block) is None
    # The counter started again with the block: a failure during it reports the block in force.
    assert await repo.record_sign_in_failure(USER, fifth, 5, block) == fifth + block
    row = await session.get(SignInFailure, USER)
    assert row is not None and row.failed_count == 1
    # After the block: four more failures are allowed before the next one.
    after = fifth + block
    for n in range(3):
        assert await repo.record_sign_in_failure(USER, after + timedelta(seconds=n), 5, block) is None
    assert (
        await repo.record_sign_in_failure(USER, after + timedelta(seconds=9), 5, block)
        == after + timedelta(seconds=9) + block
    )


async def test_sign_in_failures_reset(session: AsyncSession) -> None:
    repo = SignInThrottleRepository(session)
    await _account(session)
    await _account(session, USER + 1)
    block = timedelta(minutes=5)
    await repo.record_sign_in_failure(USER, NOW, 2, block)
    await repo.record_sign_in_failure(USER + 1, NOW, 2, block)
    await repo.reset_sign_in_failures(USER)
    assert await repo.record_sign_in_failure(USER, NOW, 2, block) is None  # counting from zero again
    assert await repo.record_sign_in_failure(USER + 1, NOW, 2, block) == NOW + block  # others unaffected
    await repo.reset_sign_in_failures(USER + 1)
    assert await repo.sign_in_blocked_until(USER + 1) is None
    await repo.reset_sign_in_failures(USER + 2)  # nothing recorded: not an error
    # One allowed failure only: the first blocks at once.
    assert await repo.record_sign_in_failure(USER + 1, NOW, 1, block) == NOW + block
    for bad in ((0, block), (3, timedelta(0))):
        with pytest.raises(ValueError):
            await repo.record_sign_in_failure(USER, NOW, *bad)


async def test_concurrent_sign_in_failures_are_all_counted(session_maker: async_sessionmaker[AsyncSession]) -> None:
    async with session_maker() as setup:
        await _account(setup)
        await setup.commit()

    async def fail() -> datetime | None:
        async with session_maker() as session:
            blocked = await SignInThrottleRepository(session).record_sign_in_failure(USER, NOW, 100, timedelta(hours=1))
            await asyncio.sleep(0.01)
            await session.commit()
            return blocked

    assert await asyncio.gather(*(fail() for _ in range(10))) == [None] * 10
    async with session_maker() as session:
        assert await session.scalar(select(func.sum(SignInFailure.failed_count))) == 10
