"""Seed data for ``python -m bot demo``: two clinics, staff and a few (fictional) patients.

The clinics carry the organisation OIDs that the ФРМР emulator lists for its personas, so signing
in as "ivanov" makes him a doctor of the first clinic, and "petrova" (who works in both
organisations) a doctor of both: she sees patients of Moscow and of Vladivostok, each aged in its
own time zone. (The OIDs are written out, not imported: the application never imports the
emulators.)

Idempotent: a second demo start finds the clinics and adds nothing; a demo folder seeded before
clinics had OIDs gets them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.demo_documents import seed_demo_queue
from services.schedule.demo import seed_demo_schedule
from services.uow import UnitOfWork
from storage.crypto import BlindIndex, FieldCipher
from storage.models.clinic_role import Role
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.doctors import DoctorRepository
from storage.repositories.patients import PatientData, PatientRepository

DEMO_CLINIC = "ГБУЗ «Городская поликлиника № 1» (демо)"
DEMO_CLINIC_OID = "1.2.643.5.1.13.13.12.2.77.7801"  # ФРМР emulator: "ivanov", "petrova" (2nd position), "volkova"
SECOND_CLINIC = "ГБУЗ «Детская городская поликлиника № 2» (демо, Владивосток)"
SECOND_CLINIC_OID = "1.2.643.5.1.13.13.12.2.77.7802"  # ФРМР emulator: "petrova" (1st position), "kozlov"


@dataclass(frozen=True)
class DemoClinic:
    name: str
    short_name: str
    timezone: str
    organization_oid: str
    patients: tuple[PatientData, ...]


# Invented people: no resemblance to real patients is intended.
DEMO_CLINICS = (
    DemoClinic(
        DEMO_CLINIC,
        "Поликлиника № 1",
        "Europe/Moscow",
        DEMO_CLINIC_OID,
        (
            PatientData("Петрова", "Анна", "Викторовна", date(1971, 3, 14), "7700 0000 0000 0011", "+7 900 000-00-11"),
            PatientData("Смирнов", "Олег", "Игоревич", date(1985, 11, 2), "7700 0000 0000 0022", "+7 900 000-00-22"),
            PatientData("Кузнецова", "Мария", "Сергеевна", date(1959, 6, 30), "7700 0000 0000 0033", None),
            PatientData("Фёдоров", "Илья", None, date(2001, 1, 9), "7700 0000 0000 0044", None),
        ),
    ),
    DemoClinic(
        SECOND_CLINIC,
        "Детская поликлиника № 2",
        "Asia/Vladivostok",
        SECOND_CLINIC_OID,
        (
            PatientData("Петрова", "Дарья", "Андреевна", date(2014, 9, 1), "2500 0000 0000 0051", "+7 900 000-00-51"),
            PatientData("Ким", "Артём", "Вячеславович", date(2018, 4, 23), "2500 0000 0000 0062", "+7 900 000-00-62"),
            PatientData("Соловьёва", "Полина", "Игоревна", date(2011, 12, 5), "2500 0000 0000 0073", None),
        ),
    ),
)


class DemoSeedService:
    def __init__(self, uow: UnitOfWork, cipher: FieldCipher, index: BlindIndex) -> None:
        self._uow = uow
        self._cipher = cipher
        self._index = index

    async def seed(self) -> bool:
        """Create the demo clinics once; True when something was created."""
        session = self._uow.session
        clinics = ClinicRepository(session)
        patients = PatientRepository(session, self._cipher, self._index)
        created = False
        for spec in DEMO_CLINICS:
            clinic = await clinics.by_name(spec.name)
            if clinic is not None:
                if clinic.organization_oid is None and await clinics.by_organization_oid(spec.organization_oid) is None:
                    await clinics.set_organization_oid(clinic.id, spec.organization_oid)
                continue
            clinic = await clinics.add(spec.name, spec.short_name, spec.timezone, spec.organization_oid)
            if spec.name == DEMO_CLINIC:
                await self._staff(clinic.id)
            for patient in spec.patients:
                await patients.add(clinic.id, patient)
            created = True
        await self._uow.commit()
        await seed_demo_queue(self._uow, self._cipher, self._index, DEMO_CLINIC)
        await seed_demo_schedule(self._uow, self._cipher, self._index, [spec.name for spec in DEMO_CLINICS])
        return created

    async def _staff(self, clinic_id: int) -> None:
        # Not linked to anyone: the doctors who sign in through the emulators get roles from the register.
        doctors = DoctorRepository(self._uow.session)
        roles = ClinicRoleRepository(self._uow.session)
        therapist = await doctors.add(
            last_name="Иванов", first_name="Иван", middle_name="Иванович", specialty="врач-терапевт участковый"
        )
        await roles.grant(therapist.id, clinic_id, Role.DOCTOR)
        admin = await doctors.add(last_name="Соколова", first_name="Елена", middle_name="Павловна")
        await roles.grant(admin.id, clinic_id, Role.ADMIN)
