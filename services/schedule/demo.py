"""Demo schedule: published shifts and appointments around today for the demo doctors, so /today
shows a real day in the demo.

The doctors are created with the ESIA oids of the emulator's personas ("ivanov", "petrova"):
signing in through the emulator finds them by oid and links them, and their clinic roles follow
from the register as usual. Seeded again on a later start only when the doctor has no shift in the
coming days (the demo folder survives restarts).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.uow import UnitOfWork
from storage.crypto import BlindIndex, FieldCipher
from storage.models import Clinic, Doctor
from storage.models.change_request import REQUEST_MOVE
from storage.repositories.change_requests import ChangeRequestRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.doctors import DoctorRepository
from storage.repositories.schedule import AppointmentRepository, ShiftRepository, patient_ids_of_clinic

# (persona oid, names, specialty)
DEMO_DOCTORS = (
    ("1000400001", ("Иванов", "Сергей", "Александрович"), "врач-терапевт участковый"),
    ("1000400002", ("Петрова", "Анна", "Викторовна"), "врач-педиатр"),
)
REASONS = ("Повторный приём", "Давление", "Справка", "Осмотр", None)


async def _doctor(doctors: DoctorRepository, oid: str, names: tuple[str, str, str], specialty: str) -> Doctor:
    doctor = await doctors.get_by_oid(oid)
    if doctor is None:
        doctor = await doctors.add(
            last_name=names[0], first_name=names[1], middle_name=names[2], specialty=specialty, esia_oid=oid
        )
    return doctor


async def seed_demo_schedule(
    uow: UnitOfWork, cipher: FieldCipher, index: BlindIndex, clinic_names: list[str], now: datetime | None = None
) -> int:
    """Shifts for today and the next two days and a few appointments; the number of appointments made."""
    moment = now or datetime.now(UTC)
    session = uow.session
    clinics: list[Clinic] = [c for name in clinic_names if (c := await ClinicRepository(session).by_name(name))]
    if not clinics:
        return 0
    doctors = DoctorRepository(session)
    shifts = ShiftRepository(session)
    appointments = AppointmentRepository(session)
    made = 0
    # (doctor, [(clinic, local start hour, local end hour)]): Petrova's two clinics are seven
    # hours apart, so her Vladivostok morning and her Moscow afternoon never overlap.
    plans = [
        (DEMO_DOCTORS[0], [(clinics[0], 8, 14)]),
        (DEMO_DOCTORS[1], [(clinics[0], 14, 18), *((clinics[1], 9, 13) for _ in clinics[1:2])]),
    ]
    for (oid, names, specialty), where in plans:
        doctor = await _doctor(doctors, oid, names, specialty)
        if await shifts.overlapping(moment, moment + timedelta(days=2), doctor_id=doctor.id):
            continue
        for number, (clinic, start_hour, end_hour) in enumerate(where):
            zone = ZoneInfo(clinic.timezone)
            today = moment.astimezone(zone).date()
            ids = await patient_ids_of_clinic(session, clinic.id)
            for offset in range(3):
                day = today + timedelta(days=offset)
                start = datetime.combine(day, time(start_hour), tzinfo=zone).astimezone(UTC)
                end = datetime.combine(day, time(end_hour), tzinfo=zone).astimezone(UTC)
                await shifts.add(doctor.id, clinic.id, start, end, 20, [(start + timedelta(hours=3), start + timedelta(hours=3, minutes=20))])
                for i, patient_id in enumerate(ids):
                    slot_start = start + timedelta(minutes=40 * i + 20 * offset)
                    if slot_start + timedelta(minutes=20) > end:
                        break
                    reason = REASONS[(i + offset) % len(REASONS)]
                    appointment = await appointments.add(
                        doctor.id, clinic.id, patient_id, slot_start, slot_start + timedelta(minutes=20),
                        reason=cipher.encrypt(reason, "appointments.reason") if reason else None,
                        actor="demo",
                    )
                    made += 1
                    if offset == 1 and i == 0 and number == 0:
                        # A pending request from the registry, decided with the buttons.
                        await ChangeRequestRepository(session).add(
                            appointment.id, doctor.id, requested_by="registry", kind=REQUEST_MOVE,
                            appointment_version=1, expires_at=moment + timedelta(days=1),
                            proposed_starts_at=appointment.starts_at + timedelta(hours=2),
                            proposed_ends_at=appointment.ends_at + timedelta(hours=2),
                        )
    await uow.commit()
    return made

