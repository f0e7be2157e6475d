"""Producers of routine notifications: expiring documents and the morning brief.

Scans run on a timer and are idempotent: each notification has a de-duplication key, so running
a scan twice (or in two processes) queues nothing twice. The outbox, not the timer, is the
source of truth.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.audit import AuditService, tg_actor
from services.errors import N_, DomainError
from services.uow import UnitOfWork
from storage.repositories.doctor_certificates import CertificateData, DoctorCertificateRepository
from storage.repositories.first_shifts import first_shifts_today
from storage.repositories.outbox import OutboxRepository
from storage.repositories.reminder_targets import ReminderTargetRepository, Target

EXPIRY_THRESHOLDS = (90, 30, 7)  # days ahead, as the brief asks
MORNING = time(9, 0)  # expiry reminders arrive at 09:00 local
DEFAULT_BRIEF = time(8, 0)  # no brief time chosen and no shift today: 08:00 local
BRIEF_BEFORE_SHIFT = timedelta(minutes=30)  # no brief time chosen: this long before the first shift
SNOOZABLE = frozenset({"document_expiry", "cme_deadline", "appointment_reminder", "change_request", "morning_brief"})


def local_moment(day: date, at: time, tz: str) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def threshold_for(days_left: int) -> int | None:
    """The smallest threshold the document is within: one reminder per threshold, never three at once."""
    within = [t for t in EXPIRY_THRESHOLDS if days_left <= t]
    return min(within) if within else None


def superseded(certificate: CertificateData, target: Target, today: date) -> bool:
    """A valid accreditation in the certificate's specialty replaces it (since 2021 accreditation
    supersedes certificates), so an expiring certificate then needs nothing from the doctor."""
    accreditation_until = target.accreditation_valid_until
    return (
        accreditation_until is not None
        and accreditation_until >= today
        and (target.accreditation_specialty or "").strip().casefold() == certificate.specialty.strip().casefold()
    )


@dataclass(frozen=True)
class BriefLine:
    section: str
    params: dict[str, Any]


# A morning-brief section: given the target and its local date, zero or more lines (ids and
# counts only, never patient data). Features register theirs in BRIEF_SECTIONS.
BriefSection = Callable[[UnitOfWork, Target, date], Awaitable[list[BriefLine]]]


async def accreditation_section(uow: UnitOfWork, target: Target, today: date) -> list[BriefLine]:
    if target.accreditation_valid_until is None:
        return []
    days = (target.accreditation_valid_until - today).days
    if days > EXPIRY_THRESHOLDS[0]:
        return []
    return [BriefLine("accreditation", {"days": days, "valid_until": target.accreditation_valid_until.isoformat()})]


BRIEF_SECTIONS: dict[str, BriefSection] = {"accreditation": accreditation_section}


class ReminderScans:
    def __init__(self, uow: UnitOfWork, sections: dict[str, BriefSection] | None = None) -> None:
        self._uow = uow
        self._sections = BRIEF_SECTIONS if sections is None else sections

    async def document_expiry(self, now: datetime) -> int:
        """Queue reminders for accreditations and specialist certificates expiring within 90/30/7
        days (or already expired). A certificate superseded by a valid accreditation in the same
        specialty is not reminded of: the doctor no longer needs it."""
        session = self._uow.session
        outbox = OutboxRepository(session)
        # Local dates are at most a day ahead of UTC: one query covers every zone.
        certificates = await DoctorCertificateRepository(session).expiring_by(
            now.date() + timedelta(days=EXPIRY_THRESHOLDS[0] + 1)
        )
        queued = 0
        for target in await ReminderTargetRepository(session).active_doctors():
            # A kind switched off is not queued (switching it back on brings the next reminder).
            if "document_expiry" in target.disabled_kinds:
                continue
            today = now.astimezone(ZoneInfo(target.timezone)).date()
            due = max(now, local_moment(today, MORNING, target.timezone))
            documents: list[tuple[str, str, str, date]] = []
            if target.accreditation_valid_until is not None:
                documents.append(
                    (
                        "accreditation",
                        "accreditation",
                        target.accreditation_specialty or "",
                        target.accreditation_valid_until,
                    )
                )
            for certificate in certificates.get(target.doctor_id, []):
                assert certificate.valid_until is not None
                if not superseded(certificate, target, today):
                    documents.append(
                        (
                            "certificate",
                            f"certificate:{certificate.number}",
                            certificate.specialty,
                            certificate.valid_until,
                        )
                    )
            for document, key, specialty, valid_until in documents:
                days_left = (valid_until - today).days
                mark = "expired" if days_left < 0 else threshold_for(days_left)
                if mark is None:
                    continue
                created = await outbox.enqueue(
                    target.chat_id,
                    "document_expiry",
                    f"document_expiry:{target.doctor_id}:{key}:{valid_until.isoformat()}:{mark}",
                    due,
                    doctor_id=target.doctor_id,
                    payload={
                        "document": document,
                        "specialty": specialty,
                        "valid_until": valid_until.isoformat(),
                        "days": days_left,
                        "locale": target.locale,
                    },
                )
                queued += created is not None
        await self._uow.commit()
        return queued

    async def morning_briefs(self, now: datetime) -> int:
        """Queue today's brief for every doctor whose brief time has come (once a day)."""
        session = self._uow.session
        outbox = OutboxRepository(session)
        queued = 0
        first_shifts = await first_shifts_today(session, now)
        for target in await ReminderTargetRepository(session).active_doctors():
            if "morning_brief" in target.disabled_kinds:
                continue
            local_now = now.astimezone(ZoneInfo(target.timezone))
            first_shift = first_shifts.get(target.doctor_id)
            if target.brief_time is None and first_shift is not None:
                # The day of the shift's clinic, in its zone (a Vladivostok morning is a Moscow night).
                today, starts_at = first_shift
                if now < starts_at - BRIEF_BEFORE_SHIFT:
                    continue
            else:
                if local_now.time() < (target.brief_time or DEFAULT_BRIEF):
                    continue
                today = local_now.date()
            lines: list[dict[str, Any]] = []
            for name, section in self._sections.items():
                lines += [{"section": name, **line.params} for line in await section(self._uow, target, today)]
            created = await outbox.enqueue(
                target.chat_id,
                "morning_brief",
                f"morning_brief:{target.doctor_id}:{today.isoformat()}",
                now,
                doctor_id=target.doctor_id,
                payload={"date": today.isoformat(), "lines": lines, "locale": target.locale},
            )
            queued += created is not None
        await self._uow.commit()
        return queued


class ReminderActions:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def snooze(self, chat_id: int, notification_id: int, minutes: int) -> datetime:
        """Queue the same reminder again in ``minutes``; only for the chat it was sent to."""
        if minutes not in (15, 60):
            raise DomainError(N_("This button is out of date. Open the menu again: /start"))
        outbox = OutboxRepository(self._uow.session)
        original = await outbox.get(notification_id)
        if original is not None and original.chat_id != chat_id:
            # Not a stale button: the id names someone else's notification (a forged callback).
            await AuditService(self._uow).record(
                tg_actor(chat_id), "notification_snooze", "notification", original.id, "denied"
            )
            await self._uow.commit()
            raise DomainError(N_("This button is out of date. Open the menu again: /start"))
        if original is None or original.kind not in SNOOZABLE:
            raise DomainError(N_("This button is out of date. Open the menu again: /start"))
        now = datetime.now(UTC)
        due = now + timedelta(minutes=minutes)
        # One snooze per message: a second press (or a double tap) finds the first one's row.
        created = await outbox.enqueue(
            chat_id,
            original.kind,
            f"snooze:{original.id}",
            due,
            doctor_id=original.doctor_id,
            payload=original.payload,
        )
        if created is None:
            raise DomainError(N_("This reminder is already snoozed."))
        await self._uow.commit()
        return due
