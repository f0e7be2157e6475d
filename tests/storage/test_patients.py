"""Patients: encrypted at rest, found through blind indexes only."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from storage.crypto import BlindIndex, DecryptionError, FieldCipher
from storage.models import Patient
from storage.repositories import ClinicRepository, PatientData, PatientRepository

K1, K2, INDEX_KEY = bytes(range(32)), bytes(range(1, 33)), bytes(range(2, 34))

ANNA = PatientData(
    last_name="Семёнова",
    first_name="Анна",
    middle_name="Викторовна",
    birth_date=date(1984, 2, 29),
    policy_number="7755 4400 1122 3344",
    phone="+7 912 345-67-89",
    snils="112-233-445 95",
)
PLAINTEXTS = [
    "Семёнова",
    "Анна",
    "Викторовна",
    "1984-02-29",
    "7755 4400 1122 3344",
    "7755440011223344",
    "+7 912 345-67-89",
    "112-233-445 95",
    "11223344595",
]


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher({"k1": K1}, "k1")


@pytest.fixture
def index() -> BlindIndex:
    return BlindIndex(INDEX_KEY)


async def _clinic(session: AsyncSession, name: str = "ГБ1") -> int:
    return (await ClinicRepository(session).add(name, name, "Europe/Moscow")).id


async def test_add_and_get(session: AsyncSession, cipher: FieldCipher, index: BlindIndex) -> None:
    repo = PatientRepository(session, cipher, index)
    clinic_id = await _clinic(session)
    stored = await repo.add(clinic_id, ANNA)
    await session.commit()
    session.expunge_all()
    record = await repo.get(stored.id)
    assert record is not None
    assert (record.id, record.clinic_id) == (stored.id, clinic_id)
    assert (record.last_name, record.first_name, record.middle_name) == ("Семёнова", "Анна", "Викторовна")
    assert (record.birth_date, record.policy_number, record.phone) == (
        date(1984, 2, 29),
        "7755 4400 1122 3344",
        "+7 912 345-67-89",
    )
    assert await repo.get(stored.id + 1000) is None

    minimal = await repo.add(clinic_id, PatientData(last_name="Ли", first_name="Ван"))
    got = await repo.get(minimal.id)
    assert got is not None and got.middle_name is got.birth_date is got.policy_number is got.phone is None


async def test_no_plaintext_in_the_database(
    engine: AsyncEngine, session: AsyncSession, cipher: FieldCipher, index: BlindIndex, database_url: str
) -> None:
    clinic_id = await _clinic(session)
    await PatientRepository(session, cipher, index).add(clinic_id, ANNA)
    await session.commit()

    async with engine.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM patients"))).mappings().one()
    raw = " ".join(str(value) for value in row.values())
    for secret in [*PLAINTEXTS, "Семенова", "семёнова", "семенова"]:
        assert secret not in raw
    assert str(row["last_name"]).startswith("v1.k1.")

    if database_url.startswith("sqlite"):
        await engine.dispose()  # checkpoint the WAL so that everything is in the files now
        folder = Path(database_url.removeprefix("sqlite+aiosqlite:///")).parent
        blob = b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("medcab.db"))
        assert b"v1.k1." in blob  # sanity: the row is there
        for secret in PLAINTEXTS:
            assert secret.encode() not in blob
            assert secret.encode("utf-16-le") not in blob


async def test_find_by_blind_indexes(session: AsyncSession, cipher: FieldCipher, index: BlindIndex) -> None:
    repo = PatientRepository(session, cipher, index)
    clinic_id, other_clinic = await _clinic(session), await _clinic(session, "ГБ2")
    anna = await repo.add(clinic_id, ANNA)
    namesake = await repo.add(clinic_id, PatientData(last_name="Семенова", first_name="Ольга"))
    await repo.add(other_clinic, ANNA)  # same person registered elsewhere: not this clinic's
    await repo.add(clinic_id, PatientData(last_name="Семёнов", first_name="Пётр"))
    await session.commit()

    by_name = await repo.find_by_last_name(clinic_id, "  семенова ")
    assert [p.id for p in by_name] == [anna.id, namesake.id]
    assert {p.first_name for p in by_name} == {"Анна", "Ольга"}
    assert await repo.find_by_last_name(clinic_id, "Семёнова-Петрова") == []

    assert [p.id for p in await repo.find_by_policy(clinic_id, "7755-4400-1122-3344")] == [anna.id]
    assert [p.id for p in await repo.find_by_policy(clinic_id, "7755440011223344")] == [anna.id]
    assert await repo.find_by_policy(clinic_id, "7755440011223345") == []
    assert [p.id for p in await repo.find_by_snils(clinic_id, "11223344595")] == [anna.id]


async def test_ciphertext_moved_to_another_column_does_not_decrypt(
    session: AsyncSession, cipher: FieldCipher, index: BlindIndex
) -> None:
    repo = PatientRepository(session, cipher, index)
    stored = await repo.add(await _clinic(session), ANNA)
    await session.commit()
    stored.first_name = stored.last_name
    await session.commit()
    session.expunge_all()
    with pytest.raises(DecryptionError, match=r"patients\.first_name"):
        await repo.get(stored.id)


async def test_key_rotation(session: AsyncSession, index: BlindIndex) -> None:
    old = PatientRepository(session, FieldCipher({"k1": K1}, "k1"), index)
    clinic_id = await _clinic(session)
    first = await old.add(clinic_id, ANNA)
    await session.commit()

    rotated = PatientRepository(session, FieldCipher({"k1": K1, "k2": K2}, "k2"), index)
    second = await rotated.add(clinic_id, PatientData(last_name="Иванов", first_name="Иван"))
    assert second.last_name.startswith("v1.k2.")
    assert (await rotated.get(first.id)).last_name == "Семёнова"  # type: ignore[union-attr]
    assert await rotated.reencrypt(first.id)
    assert not await rotated.reencrypt(first.id)
    await session.commit()
    session.expunge_all()

    row = (await session.execute(select(Patient).where(Patient.id == first.id))).scalar_one()
    assert all(
        token.startswith("v1.k2.")
        for token in (row.last_name, row.first_name, row.middle_name, row.birth_date, row.policy_number, row.phone)
        if token is not None
    )
    retired = PatientRepository(session, FieldCipher({"k2": K2}, "k2"), index)
    assert (await retired.get(first.id)).birth_date == date(1984, 2, 29)  # type: ignore[union-attr]
    # Lookups do not depend on the encryption key.
    assert [p.id for p in await retired.find_by_last_name(clinic_id, "Семёнова")] == [first.id]
