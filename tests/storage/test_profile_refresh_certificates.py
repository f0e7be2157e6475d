"""Refreshing the profile from ESIA and the register replaces the stored certificates with the
register's current list (a renewed, added or withdrawn certificate shows at once)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.identity.esia_client import EsiaClient, EsiaPerson
from services.identity.profile import ProfileCertificate, ProfileService
from services.identity.register import Certificate, MedicalWorker, RegisterClient
from services.uow import UnitOfWork
from storage.crypto import FieldCipher
from storage.repositories.doctor_certificates import CertificateData, DoctorCertificateRepository
from storage.repositories.doctors import DoctorRepository
from storage.repositories.esia_tokens import EsiaTokenRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository

TG = 5_501
CIPHER = FieldCipher({"k1": bytes(32)}, "k1")
PERSON = EsiaPerson("1000299681", "Иванов", "Сергей", "Александрович", "112-233-445 95", True, "REGISTERED", False)


class StubEsia:
    async def person(self, oid: str, access_token: str) -> EsiaPerson:
        return PERSON


class StubRegister:
    def __init__(self, certificates: tuple[Certificate, ...]) -> None:
        self.certificates = certificates

    async def find_by_snils(self, snils: str) -> MedicalWorker:
        return MedicalWorker("r-1", "Иванов", "Сергей", None, (), None, None, None, None, self.certificates)


async def test_refresh_replaces_the_certificates(session_maker: async_sessionmaker[AsyncSession]) -> None:
    async with session_maker() as session:
        doctor = await DoctorRepository(session).add(last_name="Иванов", first_name="Сергей", esia_oid=PERSON.oid)
        await TelegramAccountRepository(session).upsert(TG, TG)
        await TelegramAccountRepository(session).link_doctor(TG, doctor.id)
        await EsiaTokenRepository(session, CIPHER).save(
            doctor.id, "access", "sid", datetime.now(UTC) + timedelta(hours=1)
        )
        await DoctorCertificateRepository(session).replace(
            doctor.id, [CertificateData("OLD-1", "Терапия", date(2024, 3, 29))]
        )
        await session.commit()
        doctor_id = doctor.id

    renewed = Certificate("NEW-2", "Кардиология", date(2021, 1, 1), date(2026, 1, 1))
    async with UnitOfWork(session_maker) as uow:
        register = cast(RegisterClient, StubRegister((renewed,)))
        service = ProfileService(uow, CIPHER, cast(EsiaClient, StubEsia()), register)
        profile = await service.refresh(TG)
    assert profile.certificates == (ProfileCertificate("Кардиология", "NEW-2", date(2026, 1, 1)),)
    async with session_maker() as session:
        assert await DoctorCertificateRepository(session).of_doctor(doctor_id) == [
            CertificateData("NEW-2", "Кардиология", date(2026, 1, 1))
        ]
