"""Patients to pick from without typing a surname: today's schedule and the recently seen.

For the prescription, referral and document conversations (their handlers call
``PatientChoiceService.choices`` and show a button per option, then pass ``patient_id`` on as if
it had been found by the search). Patient data: the doctor role, a fresh PIN and an audit record,
as for the day view; names come masked («Петрова А. В.») with the age, nothing else decrypted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.audit import AuditService
from services.errors import N_, DomainError
from services.patients import full_years, initials
from services.schedule.access import ClinicInfo, ScheduleUseCase
from services.schedule.service import local_day_bounds
from storage.models import Appointment, Patient
from storage.models.appointment import ARRIVED, BOOKED, FULFILLED
from storage.repositories.schedule import AppointmentRepository, patients_by_ids

RECENT_DAYS = 30
RECENT_LIMIT = 10
TODAY_STATUSES = frozenset({BOOKED, ARRIVED, FULFILLED})  # not cancelled, not a no-show
SEEN_STATUSES = frozenset({ARRIVED, FULFILLED})


@dataclass(frozen=True)
class PatientOption:
    patient_id: int
    clinic_id: int
    name: str  # «Петрова А. В.»
    age: int | None
    at: datetime  # today: the appointment's start; recent: the last visit's start (UTC)
    timezone: str  # the clinic's, to show ``at``


@dataclass(frozen=True)
class PatientChoices:
    today: list[PatientOption]  # in appointment order, each patient once (their first appointment)
    recent: list[PatientOption]  # seen in the last 30 days before today, newest first, not today's


class PatientChoiceService(ScheduleUseCase):
    async def choices(self, telegram_user_id: int, clinic_id: int | None = None) -> PatientChoices:
        """Today's patients and the recently seen, in the doctor's clinics (or one of them)."""
        actor = await self._access.doctor(telegram_user_id, "patient_choice")
        if clinic_id is not None and clinic_id not in actor.clinics:
            raise DomainError(N_("You do not work in this clinic. Open the schedule again: /today"))
        clinics = [actor.clinics[clinic_id]] if clinic_id is not None else list(actor.clinics.values())
        now = self._clock()
        repository = AppointmentRepository(self._uow.session)
        todays: list[tuple[Appointment, ClinicInfo]] = []
        earlier: list[tuple[Appointment, ClinicInfo]] = []
        # Each clinic's own "today"; one read spanning all of them, split by clinic below.
        windows = {c.id: local_day_bounds(now.astimezone(ZoneInfo(c.timezone)).date(), c.timezone) for c in clinics}
        low = min(start for start, _ in windows.values()) - timedelta(days=RECENT_DAYS)
        high = max(end for _, end in windows.values())
        rows = await repository.in_period(low, high, doctor_id=actor.doctor_id, clinic_ids=list(windows), active_only=True)
        for a in rows:
            clinic = actor.clinics[a.clinic_id]
            start, end = windows[a.clinic_id]
            if start <= a.starts_at < end and a.status in TODAY_STATUSES:
                todays.append((a, clinic))
            elif start - timedelta(days=RECENT_DAYS) <= a.starts_at < start and a.status in SEEN_STATUSES:
                earlier.append((a, clinic))
        today = _first_per_patient(sorted(todays, key=lambda pair: (pair[0].starts_at, pair[0].id)))
        seen_today = {a.patient_id for a, _ in today}
        recent = [
            pair
            for pair in _first_per_patient(sorted(earlier, key=lambda pair: (pair[0].starts_at, pair[0].id), reverse=True))
            if pair[0].patient_id not in seen_today
        ][:RECENT_LIMIT]
        patients = await patients_by_ids(self._uow.session, {a.patient_id for a, _ in today + recent})
        by_id = {row.id: row for row in patients}
        result = PatientChoices(
            today=[self._option(a, c, by_id[a.patient_id], now) for a, c in today],
            recent=[self._option(a, c, by_id[a.patient_id], now) for a, c in recent],
        )
        await AuditService(self._uow).record(
            actor.actor, "patient_choice", "patient", None, "ok", today=len(result.today), recent=len(result.recent)
        )
        await self._uow.commit()
        return result

    def _option(self, appointment: Appointment, clinic: ClinicInfo, row: Patient, now: datetime) -> PatientOption:
        def plain(column: str, token: str | None) -> str | None:
            return None if token is None else self._cipher.decrypt(token, f"patients.{column}")

        # Only what the mask needs is decrypted (no policy number, no phone).
        last = plain("last_name", row.last_name) or ""
        first = plain("first_name", row.first_name) or ""
        birth = plain("birth_date", row.birth_date)
        today = now.astimezone(ZoneInfo(clinic.timezone)).date()
        age = full_years(date.fromisoformat(birth), today) if birth else None
        name = f"{last} {initials(first, plain('middle_name', row.middle_name))}".strip()
        return PatientOption(row.id, clinic.id, name, age, appointment.starts_at, clinic.timezone)


def _first_per_patient(pairs: Sequence[tuple[Appointment, ClinicInfo]]) -> list[tuple[Appointment, ClinicInfo]]:
    seen: set[int] = set()
    result = []
    for appointment, clinic in pairs:
        if appointment.patient_id not in seen:
            seen.add(appointment.patient_id)
            result.append((appointment, clinic))
    return result
