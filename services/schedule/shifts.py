"""Shifts from the chat: a doctor plans their own, a clinic administrator manages the clinic's.

A new shift is a draft; publishing makes its slots bookable. Changing or deleting a shift that
has booked appointments does not silently orphan them: the change is refused with the list of
affected appointments (times only — an administrator never sees a patient), and done only when
the caller confirms that those appointments are to be cancelled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.audit import AuditService
from services.errors import N_, DomainError
from services.names import short_name
from services.schedule.access import ClinicInfo, ScheduleActor, ScheduleUseCase
from services.schedule.dates import DateInputError, parse_day, parse_time_range
from services.schedule.slots import shift_slots
from storage.models import Appointment, Shift
from storage.models.appointment import BOOKED, CANCELLED_APPOINTMENT
from storage.models.shift import SHIFT_DRAFT, SHIFT_PUBLISHED
from storage.repositories.schedule import AppointmentRepository, ShiftRepository, clinic_doctors

LIST_DAYS = 14
SLOT_CHOICES = (10, 15, 20, 30, 40, 60)
DEFAULT_SLOT = 30
_INPUT = re.compile(
    r"(?P<day>.+?)\s+(?P<period>\d{1,2}[:.]\d{2}\s*[-–—]\s*\d{1,2}[:.]\d{2})"
    r"(?:\s+(?P<slot>\d{1,3}))?(?:\s+(?:перерыв|break)\s+(?P<pause>\d{1,2}[:.]\d{2}\s*[-–—]\s*\d{1,2}[:.]\d{2}))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ShiftView:
    id: int
    doctor_id: int
    clinic: ClinicInfo
    starts_at: datetime
    ends_at: datetime
    slot_minutes: int
    breaks: list[tuple[datetime, datetime]]
    published: bool
    booked: int
    slots: int


@dataclass(frozen=True)
class DoctorChoice:
    doctor_id: int
    name: str  # «Иванов С. А.»


@dataclass(frozen=True)
class ShiftInput:
    day: date
    start: time
    end: time
    slot_minutes: int
    pause: tuple[time, time] | None


class ShiftHasAppointments(DomainError):
    """The change would leave booked appointments outside any shift; ``starts`` lists their times."""

    def __init__(self, starts: list[datetime], timezone: str) -> None:
        super().__init__(
            N_("This shift has booked appointments ({count}) that the change would leave without a shift."),
            count=len(starts),
        )
        self.starts = starts
        self.timezone = timezone


def parse_shift(text: str, today: date) -> ShiftInput:
    """«25.12 09:00-15:00 30 перерыв 12:00-12:30»: a day, the period, the slot length (minutes,
    default 30) and an optional break; all in the clinic's local time."""
    match = _INPUT.fullmatch(" ".join(text.strip().split()))
    if match is None:
        raise DateInputError(
            N_("Send the shift like this: 25.12 09:00-15:00 30 (day, hours, slot minutes), optionally «перерыв 12:00-12:30».")
        )
    day = parse_day(match["day"], today, allow_past=False)
    start, end = parse_time_range(match["period"])
    slot = int(match["slot"]) if match["slot"] else DEFAULT_SLOT
    if slot not in SLOT_CHOICES:
        raise DateInputError(N_("A slot lasts 10, 15, 20, 30, 40 or 60 minutes."))
    pause = parse_time_range(match["pause"]) if match["pause"] else None
    if pause is not None and not (start <= pause[0] and pause[1] <= end):
        raise DateInputError(N_("The break must be inside the shift."))
    return ShiftInput(day, start, end, slot, pause)


class ShiftService(ScheduleUseCase):
    async def _actor(self, telegram_user_id: int, operation: str) -> tuple[ScheduleActor, bool]:
        """The doctor (own shifts) or, failing that, the administrator (the clinics' shifts)."""
        return await self._access.doctor_or_admin(telegram_user_id, operation)

    async def _shift(self, telegram_user_id: int, shift_id: int, operation: str) -> tuple[ScheduleActor, bool, Shift]:
        actor, admin = await self._actor(telegram_user_id, operation)
        shift = await ShiftRepository(self._uow.session).get(shift_id)
        allowed = shift is not None and shift.clinic_id in actor.clinics and (admin or shift.doctor_id == actor.doctor_id)
        if not allowed or shift is None:
            await AuditService(self._uow).record(actor.actor, operation, "shift", shift_id, "denied")
            await self._uow.commit()
            raise DomainError(N_("This shift is not yours to change. Open the list again: /shifts"))
        return actor, admin, shift

    async def _view(self, actor: ScheduleActor, shift: Shift) -> ShiftView:
        [view] = await self._views(actor, [shift])
        return view

    async def _views(self, actor: ScheduleActor, shifts: Sequence[Shift]) -> list[ShiftView]:
        """The shifts with how many of their slots are booked: one read of the appointments for all."""
        if not shifts:
            return []
        booked = await AppointmentRepository(self._uow.session).in_period(
            min(s.starts_at for s in shifts),
            max(s.ends_at for s in shifts),
            clinic_ids={s.clinic_id for s in shifts},
            active_only=True,
        )
        return [
            self._shift_view(
                actor,
                shift,
                sum(
                    1
                    for a in booked
                    if a.doctor_id == shift.doctor_id
                    and a.clinic_id == shift.clinic_id
                    and shift.starts_at <= a.starts_at < shift.ends_at
                ),
            )
            for shift in shifts
        ]

    @staticmethod
    def _shift_view(actor: ScheduleActor, shift: Shift, booked: int) -> ShiftView:
        breaks = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in shift.breaks or []]
        return ShiftView(
            shift.id,
            shift.doctor_id,
            actor.clinics[shift.clinic_id],
            shift.starts_at,
            shift.ends_at,
            shift.slot_minutes,
            breaks,
            shift.status == SHIFT_PUBLISHED,
            booked,
            len(shift_slots(shift)),
        )

    async def upcoming(self, telegram_user_id: int) -> tuple[bool, list[ShiftView]]:
        """(is the caller an administrator, the next two weeks' shifts with their occupancy)."""
        actor, admin = await self._actor(telegram_user_id, "shift_list")
        now = self._clock()
        repository = ShiftRepository(self._uow.session)
        shifts = await repository.overlapping(
            now - timedelta(hours=12),
            now + timedelta(days=LIST_DAYS),
            doctor_id=None if admin else actor.doctor_id,
            clinic_ids=list(actor.clinics),
        )
        return admin, await self._views(actor, shifts)

    async def view(self, telegram_user_id: int, shift_id: int) -> ShiftView | None:
        """One shift of the list; None when it is gone — or is not the caller's, which is audited
        and answered the same way (a forged button learns nothing)."""
        actor, admin = await self._actor(telegram_user_id, "shift_view")
        shift = await ShiftRepository(self._uow.session).get(shift_id)
        if shift is None:
            return None
        if shift.clinic_id not in actor.clinics or not (admin or shift.doctor_id == actor.doctor_id):
            await AuditService(self._uow).record(actor.actor, "shift_view", "shift", shift_id, "denied")
            await self._uow.commit()
            return None
        return await self._view(actor, shift)

    async def clinics(self, telegram_user_id: int) -> tuple[bool, list[ClinicInfo]]:
        """(is the caller an administrator, the clinics where they may create shifts)."""
        actor, admin = await self._actor(telegram_user_id, "shift_create")
        return admin, [actor.clinics[c] for c in sorted(actor.clinics)]

    async def doctors(self, telegram_user_id: int, clinic_id: int) -> list[DoctorChoice]:
        """For an administrator: the clinic's doctors to plan a shift for (names only)."""
        actor, admin = await self._actor(telegram_user_id, "shift_create")
        if not admin or clinic_id not in actor.clinics:
            raise DomainError(N_("You do not work in this clinic. Open the schedule again: /today"))
        return [
            DoctorChoice(d.id, short_name(d.last_name, d.first_name, d.middle_name))
            for d in await clinic_doctors(self._uow.session, clinic_id)
        ]

    async def create(self, telegram_user_id: int, clinic_id: int, text: str, doctor_id: int | None = None) -> ShiftView:
        """A draft shift: the doctor's own, or (an administrator) for a doctor of the clinic."""
        actor, admin = await self._actor(telegram_user_id, "shift_create")
        if clinic_id not in actor.clinics:
            raise DomainError(N_("You do not work in this clinic. Open the schedule again: /today"))
        if admin:
            allowed = {d.id for d in await clinic_doctors(self._uow.session, clinic_id)}
            if doctor_id not in allowed:
                await AuditService(self._uow).record(actor.actor, "shift_create", "doctor", doctor_id, "denied")
                await self._uow.commit()
                raise DomainError(N_("Choose a doctor of this clinic."))
        owner = doctor_id if admin and doctor_id is not None else actor.doctor_id
        clinic = actor.clinics[clinic_id]
        zone = ZoneInfo(clinic.timezone)
        today = self._clock().astimezone(zone).date()
        data = parse_shift(text, today)

        def at(moment: time) -> datetime:
            return datetime.combine(data.day, moment, tzinfo=zone).astimezone(UTC)

        starts_at, ends_at = at(data.start), at(data.end)
        if starts_at <= self._clock():
            raise DateInputError(N_("That date has already passed. Choose today or a later day."))
        repository = ShiftRepository(self._uow.session)
        if await repository.overlapping(starts_at, ends_at, doctor_id=owner):
            raise DomainError(N_("You already have a shift at this time (in this or another clinic)."))
        breaks = [(at(data.pause[0]), at(data.pause[1]))] if data.pause else []
        shift = await repository.add(owner, clinic_id, starts_at, ends_at, data.slot_minutes, breaks, SHIFT_DRAFT)
        await AuditService(self._uow).record(actor.actor, "shift_create", "shift", shift.id, "ok")
        await self._uow.commit()
        return await self._view(actor, shift)

    async def set_published(self, telegram_user_id: int, shift_id: int, published: bool) -> ShiftView:
        """Publishing opens the slots; withdrawing closes them to new bookings (booked ones stay)."""
        actor, _, shift = await self._shift(telegram_user_id, shift_id, "shift_publish")
        await ShiftRepository(self._uow.session).update(shift, status=SHIFT_PUBLISHED if published else SHIFT_DRAFT)
        await AuditService(self._uow).record(actor.actor, "shift_publish", "shift", shift_id, "ok", published=published)
        await self._uow.commit()
        return await self._view(actor, shift)

    async def _affected(self, shift: Shift, keep: tuple[datetime, datetime] | None) -> list[Appointment]:
        booked = await AppointmentRepository(self._uow.session).in_period(
            shift.starts_at, shift.ends_at, doctor_id=shift.doctor_id, clinic_ids=[shift.clinic_id], active_only=True
        )
        # Only what is still to come: an arrived, fulfilled or no-show visit is history and stays.
        upcoming = [a for a in booked if a.status == BOOKED]
        if keep is None:
            return upcoming
        return [a for a in upcoming if a.starts_at < keep[0] or a.ends_at > keep[1]]

    async def _cancel(self, actor: ScheduleActor, appointments: list[Appointment], cipher_reason: str) -> int:
        """Cancel each at the version it was listed with; how many really were (one changed meanwhile is left)."""
        repository = AppointmentRepository(self._uow.session)
        cancelled = 0
        for appointment in appointments:
            cancelled += await repository.change(
                appointment.id, appointment.version, actor=actor.actor, event=CANCELLED_APPOINTMENT,
                status=CANCELLED_APPOINTMENT, cancel_reason=cipher_reason,
            )
        return cancelled

    async def delete(self, telegram_user_id: int, shift_id: int, *, cancel_appointments: bool = False) -> int:
        """Delete the shift; with booked appointments only when ``cancel_appointments`` (returns how
        many were cancelled), else ``ShiftHasAppointments`` lists them."""
        actor, _, shift = await self._shift(telegram_user_id, shift_id, "shift_delete")
        affected = await self._affected(shift, None)
        if affected and not cancel_appointments:
            raise ShiftHasAppointments([a.starts_at for a in affected], actor.clinics[shift.clinic_id].timezone)
        cancelled = await self._cancel(actor, affected, self._reason())
        await ShiftRepository(self._uow.session).delete(shift)
        await AuditService(self._uow).record(actor.actor, "shift_delete", "shift", shift_id, "ok", cancelled=cancelled)
        await self._uow.commit()
        return cancelled

    async def change_hours(
        self, telegram_user_id: int, shift_id: int, text: str, *, cancel_appointments: bool = False
    ) -> ShiftView:
        """New hours («10:00-14:00») for the same day; appointments left outside are listed first."""
        actor, _, shift = await self._shift(telegram_user_id, shift_id, "shift_change")
        zone = ZoneInfo(actor.clinics[shift.clinic_id].timezone)
        day = shift.starts_at.astimezone(zone).date()
        start, end = parse_time_range(text)
        new = (datetime.combine(day, start, tzinfo=zone).astimezone(UTC), datetime.combine(day, end, tzinfo=zone).astimezone(UTC))
        affected = await self._affected(shift, new)
        if affected and not cancel_appointments:
            raise ShiftHasAppointments([a.starts_at for a in affected], str(zone))
        others = [
            s for s in await ShiftRepository(self._uow.session).overlapping(*new, doctor_id=shift.doctor_id) if s.id != shift.id
        ]
        if others:
            raise DomainError(N_("You already have a shift at this time (in this or another clinic)."))
        cancelled = await self._cancel(actor, affected, self._reason())
        breaks = [[a, b] for a, b in shift.breaks or [] if new[0] <= datetime.fromisoformat(a) and datetime.fromisoformat(b) <= new[1]]
        await ShiftRepository(self._uow.session).update(shift, starts_at=new[0], ends_at=new[1], breaks=breaks)
        await AuditService(self._uow).record(actor.actor, "shift_change", "shift", shift_id, "ok", cancelled=cancelled)
        await self._uow.commit()
        return await self._view(actor, shift)

    def _reason(self) -> str:
        # A fixed code, encrypted like any cancellation reason (the column holds ciphertext only).
        return self._cipher.encrypt("shift changed", "appointments.cancel_reason")
