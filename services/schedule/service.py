"""The doctor's schedule as use cases: day and week views, free slots, booking, status changes,
rescheduling with a version check and undo, the waitlist offer on cancellation.

Times are stored in UTC and every "day" is a day in the clinic's own time zone; a doctor working
in several clinics sees each clinic's local day, merged in time order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import OperationalError

from services.audit import AuditBuffer, AuditService
from services.errors import N_, DomainError
from services.identity.access import SecurityPolicy
from services.patients import InvalidQuery, QueryKind, full_years, initials, parse_query
from services.read_cache import ReadCache
from services.schedule.access import ClinicInfo, ScheduleActor, ScheduleUseCase
from services.schedule.free_time import open_slots
from services.schedule.slots import Slot, free_slots, slot_at
from services.uow import UnitOfWork
from storage.changes import row_key
from storage.crypto import BlindIndex, FieldCipher
from storage.models import Appointment, Patient, Shift
from storage.models.appointment import ARRIVED, BOOKED, CANCELLED_APPOINTMENT, FULFILLED, NOSHOW
from storage.models.waitlist_entry import WAITLIST_BOOKED
from storage.repositories.patients import PatientRecord, PatientRepository
from storage.repositories.schedule import AppointmentRepository, ShiftRepository, SlotTaken, patients_by_ids
from storage.repositories.waitlist import WaitlistRepository

UNDO_WINDOW = timedelta(minutes=5)
MAX_SLOT = timedelta(minutes=240)  # shifts.slot_minutes is at most 240
SLOT_SEARCH_DAYS = 14
MAX_REASON = 200
MAX_PATIENTS = 8
RESCHEDULED = "rescheduled"
UNDONE = "undone"

# status → the statuses it may become
TRANSITIONS: dict[str, frozenset[str]] = {
    BOOKED: frozenset({ARRIVED, FULFILLED, NOSHOW, CANCELLED_APPOINTMENT}),
    ARRIVED: frozenset({FULFILLED, CANCELLED_APPOINTMENT}),
}
NEEDS_START = frozenset({FULFILLED, NOSHOW})  # only once the appointment has begun


class SlotUnavailable(DomainError):
    pass


class Stale(DomainError):
    def __init__(self) -> None:
        super().__init__(
            N_("This appointment has changed since the message was shown (someone else changed it). Here it is now.")
        )


def _encrypt_context(column: str) -> str:
    return f"appointments.{column}"


def local_day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of ``day`` in ``tz``, in UTC (23 or 25 hours long where clocks change)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class PatientMask:
    """«Петрова А. В.» and the age: all a schedule shows of a patient."""

    patient_id: int
    name: str
    age: int | None


@dataclass(frozen=True)
class AppointmentView:
    id: int
    version: int
    clinic: ClinicInfo
    starts_at: datetime
    ends_at: datetime
    status: str
    patient: PatientMask
    reason: str | None
    cancel_reason: str | None = None


@dataclass(frozen=True)
class DayView:
    day: date
    clinic_id: int | None  # None: all the doctor's clinics
    clinics: list[ClinicInfo]  # all the doctor's clinics (for the filter buttons)
    appointments: list[AppointmentView]
    free: int  # free slots left in the day


@dataclass(frozen=True)
class WeekDay:
    day: date
    booked: int
    free: int


@dataclass(frozen=True)
class WeekView:
    start: date
    clinic_id: int | None
    clinics: list[ClinicInfo]  # all the doctor's clinics
    days: list[WeekDay]


@dataclass(frozen=True)
class Moved:
    appointment: AppointmentView
    from_starts_at: datetime
    from_clinic: ClinicInfo  # where it was: another clinic when the move changed it

    @property
    def clinic_changed(self) -> bool:
        return self.from_clinic.id != self.appointment.clinic.id


@dataclass(frozen=True)
class MoveOffer:
    """The next free slots an appointment can be moved to, in time order: in its own clinic and in
    each other clinic of the doctor's where the same patient is registered too."""

    slots: list[Slot]
    clinics: dict[int, ClinicInfo]  # the clinics it may move to, by id (its own first)
    several: bool  # the doctor works in several clinics: a slot says which clinic it is in

    @property
    def other_clinics(self) -> list[ClinicInfo]:
        """Clinics offered besides the appointment's own."""
        return list(self.clinics.values())[1:]


@dataclass(frozen=True)
class Cancelled:
    appointment: AppointmentView
    waiting: int  # patients on the waitlist who could take the freed slot


def _day_depends_on(actor: ScheduleActor) -> list[str]:
    doctor = actor.doctor_id
    return [
        row_key("appointments", "doctor_id", doctor),
        row_key("shifts", "doctor_id", doctor),
        row_key("clinic_roles", "doctor_id", doctor),
        *(row_key("clinics", "id", clinic) for clinic in actor.clinics),
        *(row_key("patients", "clinic_id", clinic) for clinic in actor.clinics),
    ]


class ScheduleService(ScheduleUseCase):
    def __init__(
        self,
        uow: UnitOfWork,
        cipher: FieldCipher,
        index: BlindIndex,
        policy: SecurityPolicy | None = None,
        now: Callable[[], datetime] | None = None,
        *,
        cache: ReadCache | None = None,
        audit: AuditBuffer | None = None,
    ) -> None:
        super().__init__(uow, cipher, policy, now, cache=cache)
        self._index = index
        self._cache = cache
        self._audit = audit

    def now(self) -> datetime:
        return self._clock()

    # --- helpers -----------------------------------------------------------------------------

    def _patients(self) -> PatientRepository:
        return PatientRepository(self._uow.session, self._cipher, self._index)

    def _mask_fields(self, row: Patient) -> PatientRecord:
        def plain(column: str, token: str | None) -> str | None:
            return None if token is None else self._cipher.decrypt(token, f"patients.{column}")

        birth = plain("birth_date", row.birth_date)
        return PatientRecord(
            id=row.id,
            clinic_id=row.clinic_id,
            last_name=plain("last_name", row.last_name) or "",
            first_name=plain("first_name", row.first_name) or "",
            middle_name=plain("middle_name", row.middle_name),
            birth_date=date.fromisoformat(birth) if birth is not None else None,
            policy_number=None,
            phone=None,
            created_at=row.created_at,
        )

    def _mask(self, record: PatientRecord, clinic: ClinicInfo) -> PatientMask:
        today = self.now().astimezone(ZoneInfo(clinic.timezone)).date()
        shown = f"{record.last_name} {initials(record.first_name, record.middle_name)}".strip()
        age = full_years(record.birth_date, today) if record.birth_date is not None else None
        return PatientMask(record.id, shown, age)

    def _decrypt(self, column: str, token: str | None) -> str | None:
        return None if token is None else self._cipher.decrypt(token, _encrypt_context(column))

    def _encrypt(self, column: str, value: str | None) -> str | None:
        return None if value is None else self._cipher.encrypt(value, _encrypt_context(column))

    async def _views(self, actor: ScheduleActor, appointments: Sequence[Appointment]) -> list[AppointmentView]:
        rows = await patients_by_ids(self._uow.session, {a.patient_id for a in appointments})
        # Only what the mask needs is decrypted (no policy number, no phone).
        records = {row.id: self._mask_fields(row) for row in rows}
        views = []
        for appointment in appointments:
            clinic = actor.clinics[appointment.clinic_id]
            record = records[appointment.patient_id]
            views.append(
                AppointmentView(
                    id=appointment.id,
                    version=appointment.version,
                    clinic=clinic,
                    starts_at=appointment.starts_at,
                    ends_at=appointment.ends_at,
                    status=appointment.status,
                    patient=self._mask(record, clinic),
                    reason=self._decrypt("reason", appointment.reason),
                    cancel_reason=self._decrypt("cancel_reason", appointment.cancel_reason),
                )
            )
        return views

    async def _view(self, actor: ScheduleActor, appointment: Appointment) -> AppointmentView:
        [view] = await self._views(actor, [appointment])
        return view

    def _clinic_ids(self, actor: ScheduleActor, clinic_id: int | None) -> list[int]:
        if clinic_id is None:
            return sorted(actor.clinics)
        if clinic_id not in actor.clinics:
            raise DomainError(N_("You do not work in this clinic. Open the schedule again: /today"))
        return [clinic_id]

    async def _free_in(
        self,
        actor: ScheduleActor,
        clinic_ids: Sequence[int],
        start: datetime,
        end: datetime,
        exclude: int | None = None,
    ) -> list[Slot]:
        return await open_slots(self._uow.session, actor.doctor_id, clinic_ids, start, end, self.now(), exclude=exclude)

    def today(self, actor: ScheduleActor, clinic_id: int | None = None) -> date:
        clinic = actor.home if clinic_id is None else actor.clinics.get(clinic_id, actor.home)
        return self.now().astimezone(ZoneInfo(clinic.timezone)).date()

    # --- views -------------------------------------------------------------------------------

    async def actor(self, telegram_user_id: int) -> ScheduleActor:
        actor = await self._access.doctor(telegram_user_id, "schedule_view")
        await self._uow.commit()
        return actor

    async def local_today(self, telegram_user_id: int) -> date:
        actor = await self._access.doctor(telegram_user_id, "schedule_view", patient_data=False)
        return self.today(actor)

    async def _occupancy(
        self, actor: ScheduleActor, windows: Sequence[tuple[int, datetime, datetime]]
    ) -> tuple[list[list[Appointment]], list[int], datetime | None]:
        """For each (clinic, start, end) window: its appointments (any status) and its free slots
        count, and when the counts next change by the clock alone (the first free slot begins).
        Two queries whatever the number of windows (a week of three clinics too)."""
        low = min(start for _, start, _ in windows)
        high = max(end for _, _, end in windows)
        session = self._uow.session
        # Busy in any clinic counts (a doctor is in one place at a time), and an appointment that
        # began before the first window may still run into it.
        rows = await AppointmentRepository(session).in_period(low - MAX_SLOT, high, doctor_id=actor.doctor_id)
        shifts = await ShiftRepository(session).overlapping(
            low, high, doctor_id=actor.doctor_id, clinic_ids=list(actor.clinics), published_only=True
        )
        busy = [(a.starts_at, a.ends_at) for a in rows if a.status != CANCELLED_APPOINTMENT]
        free = free_slots(shifts, busy, self.now()) if shifts else []
        listed = [[a for a in rows if a.clinic_id == c and s <= a.starts_at < e] for c, s, e in windows]
        counts = [sum(1 for slot in free if slot.clinic_id == c and s <= slot.starts_at < e) for c, s, e in windows]
        return listed, counts, (free[0].starts_at if free else None)

    async def day(self, telegram_user_id: int, day: date | None = None, clinic_id: int | None = None) -> DayView:
        """The day with its patients masked, from the read cache while nothing in it changed.

        Every call is audited, cached or not (a read of patient data)."""
        actor = await self._access.doctor(telegram_user_id, "schedule_view")
        clinic_ids = self._clinic_ids(actor, clinic_id)
        day = day or self.today(actor, clinic_id)
        now = self.now()
        key = ("schedule_day", actor.doctor_id, tuple(sorted(actor.clinics)), day, clinic_id)
        view: DayView | None = await self._cache.get(key, now) if self._cache is not None else None
        if view is None:
            since = await self._cache.begin() if self._cache is not None else None
            view, valid_until = await self._read_day(actor, clinic_ids, clinic_id, day, now)
            if self._cache is not None:
                self._cache.put(key, view, _day_depends_on(actor), since, valid_until)
        await self._record_read(
            actor.actor, "schedule_view", "day", day.isoformat(), appointments=len(view.appointments)
        )
        await self._uow.commit()  # the idle anchor, when it moved
        return view

    async def _read_day(
        self, actor: ScheduleActor, clinic_ids: Sequence[int], clinic_id: int | None, day: date, now: datetime
    ) -> tuple[DayView, datetime]:
        """The day and the moment it stops being true by the clock alone: the first free slot
        begins (the count drops) or a new day begins somewhere (the patients' ages)."""
        windows = [(cid, *local_day_bounds(day, actor.clinics[cid].timezone)) for cid in clinic_ids]
        listed, counts, next_free = await self._occupancy(actor, windows)
        appointments = sorted((a for group in listed for a in group), key=lambda a: (a.starts_at, a.id))
        views = await self._views(actor, appointments)
        midnights = [
            local_day_bounds(now.astimezone(ZoneInfo(c.timezone)).date(), c.timezone)[1] for c in actor.clinics.values()
        ]
        valid_until = min([*midnights, *([next_free] if next_free is not None else [])])
        return DayView(day, clinic_id, _all(actor), views, sum(counts)), valid_until

    async def _record_read(self, actor: str, operation: str, object_type: str, object_id: str, **details: int) -> None:
        if self._audit is not None:
            self._audit.add(actor, operation, object_type, object_id, "ok", **details)
        else:
            await AuditService(self._uow).record(actor, operation, object_type, object_id, "ok", **details)

    async def week(self, telegram_user_id: int, start: date | None = None, clinic_id: int | None = None) -> WeekView:
        """Counts only (no patient data): booked and free per day, Monday to Sunday."""
        actor = await self._access.doctor(telegram_user_id, "schedule_week", patient_data=False)
        clinic_ids = self._clinic_ids(actor, clinic_id)
        anchor = start or self.today(actor, clinic_id)
        monday = anchor - timedelta(days=anchor.weekday())
        days = [monday + timedelta(days=offset) for offset in range(7)]
        windows = [(cid, *local_day_bounds(day, actor.clinics[cid].timezone)) for day in days for cid in clinic_ids]
        listed, counts, _ = await self._occupancy(actor, windows)
        per_day = len(clinic_ids)
        result = []
        for index, day in enumerate(days):
            groups = listed[index * per_day : (index + 1) * per_day]
            booked = sum(1 for group in groups for a in group if a.status != CANCELLED_APPOINTMENT)
            result.append(WeekDay(day, booked, sum(counts[index * per_day : (index + 1) * per_day])))
        return WeekView(monday, clinic_id, _all(actor), result)

    async def card(self, telegram_user_id: int, appointment_id: int) -> AppointmentView:
        actor = await self._access.doctor(telegram_user_id, "appointment_view")
        appointment = await self._access.appointment(actor, appointment_id, "appointment_view")
        view = await self._view(actor, appointment)
        await AuditService(self._uow).record(actor.actor, "appointment_view", "appointment", appointment_id, "ok")
        await self._uow.commit()
        return view

    async def free_slots_on(self, telegram_user_id: int, clinic_id: int, day: date) -> list[Slot]:
        actor = await self._access.doctor(telegram_user_id, "schedule_slots", patient_data=False)
        [cid] = self._clinic_ids(actor, clinic_id)
        start, end = local_day_bounds(day, actor.clinics[cid].timezone)
        return await self._free_in(actor, [cid], start, end)

    # --- status ------------------------------------------------------------------------------

    async def set_status(
        self, telegram_user_id: int, appointment_id: int, version: int, status: str, reason: str | None = None
    ) -> AppointmentView | Cancelled:
        actor = await self._access.doctor(telegram_user_id, "appointment_status")
        appointment = await self._access.appointment(actor, appointment_id, "appointment_status")
        if appointment.version != version:
            raise Stale()
        if status not in TRANSITIONS.get(appointment.status, frozenset()):
            raise DomainError(N_("This appointment can no longer be changed this way."))
        if status in NEEDS_START and self.now() < appointment.starts_at:
            raise DomainError(
                N_("The appointment has not started yet: it can be completed or marked a no-show after it begins.")
            )
        values: dict[str, object] = {"status": status}
        if status == CANCELLED_APPOINTMENT:
            text = (reason or "").strip()
            if not text:
                raise DomainError(N_("Say why the appointment is cancelled."))
            if len(text) > MAX_REASON:
                raise DomainError(N_("The reason is too long: at most {limit} characters."), limit=MAX_REASON)
            values["cancel_reason"] = self._encrypt("cancel_reason", text)
        repository = AppointmentRepository(self._uow.session)
        if not await repository.change(appointment_id, version, actor=actor.actor, event=status, **values):
            raise Stale()
        await AuditService(self._uow).record(
            actor.actor, "appointment_status", "appointment", appointment_id, "ok", status=status
        )
        updated = await repository.get(appointment_id)
        assert updated is not None
        waiting = 0
        if status == CANCELLED_APPOINTMENT and updated.starts_at > self.now():
            waiting = await WaitlistRepository(self._uow.session).waiting_count(actor.doctor_id, updated.clinic_id)
        await self._uow.commit()
        view = await self._view(actor, updated)
        return Cancelled(view, waiting) if status == CANCELLED_APPOINTMENT else view

    # --- rescheduling ------------------------------------------------------------------------

    async def _move_targets(self, actor: ScheduleActor, appointment: Appointment) -> dict[int, int]:
        """Where this appointment may be moved: clinic → the patient's record there, its own clinic
        first. A patient belongs to one clinic, so another of the doctor's clinics counts only when
        the same person is registered there too (the same policy number, by its blind index)."""
        others = [c for c in sorted(actor.clinics) if c != appointment.clinic_id]
        found = await self._patients().same_person_in(appointment.patient_id, others) if others else {}
        return {appointment.clinic_id: appointment.patient_id, **found}

    async def next_slots(self, telegram_user_id: int, appointment_id: int, limit: int = 6) -> MoveOffer:
        """The next free slots for moving this appointment, at most ``limit``, in time order across
        the clinics it may move to (the doctor is busy in every clinic at once)."""
        actor = await self._access.doctor(telegram_user_id, "appointment_reschedule")
        appointment = await self._access.appointment(actor, appointment_id, "appointment_reschedule")
        targets = await self._move_targets(actor, appointment)
        now = self.now()
        slots = await self._free_in(
            actor, list(targets), now, now + timedelta(days=SLOT_SEARCH_DAYS), exclude=appointment.id
        )
        here = (appointment.clinic_id, appointment.starts_at)
        offered = [s for s in slots if (s.clinic_id, s.starts_at) != here][:limit]
        return MoveOffer(offered, {c: actor.clinics[c] for c in targets}, len(actor.clinics) > 1)

    async def _published_slot(self, actor: ScheduleActor, clinic_id: int, starts_at: datetime) -> Slot:
        if starts_at <= self.now():
            raise SlotUnavailable(N_("This time has already passed. Choose a later slot."))
        shifts: Sequence[Shift] = await ShiftRepository(self._uow.session).overlapping(
            starts_at,
            starts_at + timedelta(seconds=1),
            doctor_id=actor.doctor_id,
            clinic_ids=[clinic_id],
            published_only=True,
        )
        slot = slot_at(shifts, starts_at)
        if slot is None:
            raise SlotUnavailable(
                N_("There is no slot at this time: it is outside your published shifts or in a break.")
            )
        return slot

    async def _refuse_move(self, actor: ScheduleActor, appointment_id: int, refused: str) -> None:
        """A move the offer never made (a forged or outdated button): audited as denied, nothing changed."""
        await AuditService(self._uow).record(
            actor.actor, "appointment_reschedule", "appointment", appointment_id, "denied", refused=refused
        )
        await self._uow.commit()

    async def reschedule(
        self,
        telegram_user_id: int,
        appointment_id: int,
        version: int,
        starts_at: datetime,
        clinic_id: int | None = None,
    ) -> Moved:
        """Move to the slot at ``starts_at`` in ``clinic_id`` (None: the appointment's own clinic).

        In another clinic the appointment takes that clinic's record of the patient: allowed only
        where the doctor holds the doctor role and the same person is registered."""
        actor = await self._access.doctor(telegram_user_id, "appointment_reschedule")
        appointment = await self._access.appointment(actor, appointment_id, "appointment_reschedule")
        if appointment.version != version:
            raise Stale()
        if appointment.status != BOOKED:
            raise DomainError(N_("Only a booked appointment can be moved."))
        from_clinic = actor.clinics[appointment.clinic_id]
        target = appointment.clinic_id if clinic_id is None else clinic_id
        values: dict[str, object] = {}
        if target != appointment.clinic_id:
            if target not in actor.clinics:
                await self._refuse_move(actor, appointment_id, "clinic")
                raise DomainError(N_("You do not work in this clinic. Open the schedule again: /today"))
            patient_id = (await self._move_targets(actor, appointment)).get(target)
            if patient_id is None:
                await self._refuse_move(actor, appointment_id, "patient")
                raise DomainError(
                    N_("The patient is not registered in that clinic, so the appointment cannot be moved there.")
                )
            values = {"clinic_id": target, "patient_id": patient_id}
        try:
            slot = await self._published_slot(actor, target, starts_at)
        except SlotUnavailable:
            await self._refuse_move(actor, appointment_id, "slot")
            raise
        from_start = appointment.starts_at
        repository = AppointmentRepository(self._uow.session)
        try:
            changed = await repository.change(
                appointment_id,
                version,
                actor=actor.actor,
                event=RESCHEDULED,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                **values,
            )
        except SlotTaken:
            await self._uow.rollback()
            raise _taken() from None
        if not changed:
            raise Stale()
        clinics = {"from_clinic": from_clinic.id, "to_clinic": target} if values else {}
        await AuditService(self._uow).record(
            actor.actor, "appointment_reschedule", "appointment", appointment_id, "ok", **clinics
        )
        updated = await repository.get(appointment_id)
        assert updated is not None
        await self._uow.commit()
        return Moved(await self._view(actor, updated), from_start, from_clinic)

    async def undo(self, telegram_user_id: int, appointment_id: int, version: int) -> Moved:
        """Move the appointment back where it was — its time, and its clinic and patient record when
        the move changed them — within ``UNDO_WINDOW`` and only if nothing changed since."""
        actor = await self._access.doctor(telegram_user_id, "appointment_reschedule")
        appointment = await self._access.appointment(actor, appointment_id, "appointment_reschedule")
        repository = AppointmentRepository(self._uow.session)
        events = await repository.events(appointment_id)
        last = events[-1] if events else None
        if (
            appointment.version != version
            or last is None
            or last.event != RESCHEDULED
            or last.from_starts_at is None
            or last.from_ends_at is None
        ):
            raise DomainError(N_("There is nothing to undo: the appointment has changed since."))
        if self.now() - last.at > UNDO_WINDOW:
            raise DomainError(N_("It is too late to undo: the move was made more than 5 minutes ago."))
        values: dict[str, object] = {}
        # None: a move recorded before the clinic was (always within the clinic then).
        if last.from_clinic_id is not None and last.from_clinic_id != appointment.clinic_id:
            if last.from_clinic_id not in actor.clinics or last.from_patient_id is None:
                raise DomainError(
                    N_(
                        "The move cannot be undone: you no longer work in the clinic it came from, "
                        "or the patient is no longer registered there."
                    )
                )
            values = {"clinic_id": last.from_clinic_id, "patient_id": last.from_patient_id}
        from_start, from_clinic = appointment.starts_at, actor.clinics[appointment.clinic_id]
        try:
            changed = await repository.change(
                appointment_id,
                version,
                actor=actor.actor,
                event=UNDONE,
                starts_at=last.from_starts_at,
                ends_at=last.from_ends_at,
                **values,
            )
        except SlotTaken:
            await self._uow.rollback()
            raise DomainError(N_("The old time has been taken meanwhile, so the move cannot be undone.")) from None
        if not changed:
            raise Stale()
        await AuditService(self._uow).record(actor.actor, "appointment_undo", "appointment", appointment_id, "ok")
        updated = await repository.get(appointment_id)
        assert updated is not None
        await self._uow.commit()
        return Moved(await self._view(actor, updated), from_start, from_clinic)

    # --- booking -----------------------------------------------------------------------------

    async def find_patients(self, telegram_user_id: int, clinic_id: int, query: str) -> list[PatientMask]:
        """Patients of this clinic by full surname or policy number (the patients search's rules)."""
        actor = await self._access.doctor(telegram_user_id, "patient_search")
        [cid] = self._clinic_ids(actor, clinic_id)
        parsed = parse_query(query)
        repository = self._patients()
        if parsed.kind is QueryKind.SURNAME:
            records = await repository.search([cid], last_name=parsed.value, limit=MAX_PATIENTS)
        else:
            records = await repository.search([cid], policy_number=parsed.value, limit=MAX_PATIENTS)
        await AuditService(self._uow).record(actor.actor, "patient_search", "patient", None, "ok", results=len(records))
        await self._uow.commit()
        return [self._mask(record, actor.clinics[cid]) for record in records]

    async def book(
        self,
        telegram_user_id: int,
        clinic_id: int,
        patient_id: int,
        starts_at: datetime,
        reason: str | None = None,
        *,
        waitlist_entry_id: int | None = None,
    ) -> AppointmentView:
        """Book a free slot. The database has the last word on overlaps: of two concurrent bookings
        one wins, the other is told the slot was just taken."""
        if reason is not None and len(reason) > MAX_REASON:
            raise DomainError(N_("The reason is too long: at most {limit} characters."), limit=MAX_REASON)
        for attempt in range(3):
            try:
                return await self._book(telegram_user_id, clinic_id, patient_id, starts_at, reason, waitlist_entry_id)
            except OperationalError as exc:
                # SQLite: another booking wrote since this transaction read; read again and retry
                # (the retry sees the other booking, and the database refuses an overlap).
                await self._uow.rollback()
                if "locked" not in str(exc.orig) or attempt == 2:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _book(
        self,
        telegram_user_id: int,
        clinic_id: int,
        patient_id: int,
        starts_at: datetime,
        reason: str | None,
        waitlist_entry_id: int | None,
    ) -> AppointmentView:
        actor = await self._access.doctor(telegram_user_id, "appointment_book")
        [cid] = self._clinic_ids(actor, clinic_id)
        record = await self._patients().get(patient_id)
        if record is None or record.clinic_id != cid:
            await AuditService(self._uow).record(actor.actor, "appointment_book", "patient", patient_id, "denied")
            await self._uow.commit()
            raise DomainError(N_("This patient is not registered in this clinic: book them where they are registered."))
        slot = await self._published_slot(actor, cid, starts_at)
        repository = AppointmentRepository(self._uow.session)
        try:
            appointment = await repository.add(
                actor.doctor_id,
                cid,
                patient_id,
                slot.starts_at,
                slot.ends_at,
                reason=self._encrypt("reason", reason.strip() if reason and reason.strip() else None),
                actor=actor.actor,
            )
        except SlotTaken:
            await self._uow.rollback()
            raise _taken() from None
        if waitlist_entry_id is not None:
            entry = await WaitlistRepository(self._uow.session).get(waitlist_entry_id)
            if entry is not None and entry.doctor_id == actor.doctor_id:
                entry.status = WAITLIST_BOOKED
                entry.appointment_id = appointment.id
        await AuditService(self._uow).record(actor.actor, "appointment_book", "appointment", appointment.id, "ok")
        await self._uow.commit()
        return await self._view(actor, appointment)

    # --- waitlist ----------------------------------------------------------------------------

    async def add_to_waitlist(self, telegram_user_id: int, clinic_id: int, patient_id: int) -> int:
        actor = await self._access.doctor(telegram_user_id, "waitlist_add")
        [cid] = self._clinic_ids(actor, clinic_id)
        record = await self._patients().get(patient_id)
        if record is None or record.clinic_id != cid:
            await AuditService(self._uow).record(actor.actor, "waitlist_add", "patient", patient_id, "denied")
            await self._uow.commit()
            raise DomainError(N_("This patient is not registered in this clinic: book them where they are registered."))
        entry = await WaitlistRepository(self._uow.session).add(actor.doctor_id, cid, patient_id)
        await AuditService(self._uow).record(actor.actor, "waitlist_add", "waitlist", entry.id, "ok")
        await self._uow.commit()
        return entry.id

    async def fill_from_waitlist(self, telegram_user_id: int, cancelled_appointment_id: int) -> AppointmentView:
        """Book the first patient waiting into the time a cancelled appointment freed."""
        actor = await self._access.doctor(telegram_user_id, "waitlist_fill")
        cancelled = await self._access.appointment(actor, cancelled_appointment_id, "waitlist_fill")
        if cancelled.status != CANCELLED_APPOINTMENT:
            raise DomainError(N_("This slot is no longer free."))
        entry = await WaitlistRepository(self._uow.session).first_waiting(actor.doctor_id, cancelled.clinic_id)
        if entry is None:
            raise DomainError(N_("Nobody is waiting for an earlier slot in this clinic."))
        return await self.book(
            telegram_user_id, cancelled.clinic_id, entry.patient_id, cancelled.starts_at, waitlist_entry_id=entry.id
        )


def _all(actor: ScheduleActor) -> list[ClinicInfo]:
    return [actor.clinics[c] for c in sorted(actor.clinics)]


def _taken() -> SlotUnavailable:
    return SlotUnavailable(N_("This slot has just been taken by another booking. Choose another time."))


__all__ = [
    "DayView",
    "InvalidQuery",
    "MoveOffer",
    "WeekView",
]
