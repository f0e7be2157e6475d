"""Seed data for ``python -m bot demo``: a clinic, its staff and a few (fictional) patients.

Idempotent: a second demo start finds the clinic and adds nothing.
"""

from __future__ import annotations

from datetime import date

from services.uow import UnitOfWork
from storage.crypto import BlindIndex, FieldCipher
from storage.models.clinic_role import Role
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.doctors import DoctorRepository
from storage.repositories.patients import PatientData, PatientRepository

DEMO_CLINIC = "ГБУЗ «Городская поликлиника № 1» (демо)"

# Invented people: no resemblance to real patients is intended.
_PATIENTS = (
    PatientData("Петрова", "Анна", "Викторовна", date(1971, 3, 14), "7700 0000 0000 0011", "+7 900 000-00-11"),
    PatientData("Смирнов", "Олег", "Игоревич", date(1985, 11, 2), "7700 0000 0000 0022", "+7 900 000-00-22"),
    PatientData("Кузнецова", "Мария", "Сергеевна", date(1959, 6, 30), "7700 0000 0000 0033", None),
    PatientData("Фёдоров", "Илья", None, date(2001, 1, 9), "7700 0000 0000 0044", None),
)


class DemoSeedService:
    def __init__(self, uow: UnitOfWork, cipher: FieldCipher, index: BlindIndex) -> None:
        self._uow = uow
        self._cipher = cipher
        self._index = index

    async def seed(self) -> bool:
        """Create the demo clinic once; True when something was created."""
        session = self._uow.session
        clinics = ClinicRepository(session)
        if await clinics.by_name(DEMO_CLINIC) is not None:
            return False
        clinic = await clinics.add(DEMO_CLINIC, "Поликлиника № 1", "Europe/Moscow")
        doctors = DoctorRepository(session)
        roles = ClinicRoleRepository(session)
        therapist = await doctors.add(
            last_name="Иванов", first_name="Иван", middle_name="Иванович", specialty="врач-терапевт участковый"
        )
        await roles.grant(therapist.id, clinic.id, Role.DOCTOR)
        admin = await doctors.add(last_name="Соколова", first_name="Елена", middle_name="Павловна")
        await roles.grant(admin.id, clinic.id, Role.ADMIN)
        patients = PatientRepository(session, self._cipher, self._index)
        for patient in _PATIENTS:
            await patients.add(clinic.id, patient)
        await self._uow.commit()
        return True
