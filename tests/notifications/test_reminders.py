"""Reminder producers (expiring accreditation 90/30/7 days ahead, the morning brief once a day)
and how each kind reads in Russian and English."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from aiogram.types import InlineKeyboardButton
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import make_i18n
from handlers.notifications import BRIEF_BUTTONS, BRIEF_LINE_RENDERERS, register_brief_line, render_notification
from services.reminders import BriefLine, ReminderScans
from services.uow import UnitOfWork
from storage.models import Notification
from storage.repositories.consents import ConsentRepository
from storage.repositories.doctors import DoctorRepository
from storage.repositories.notification_preferences import NotificationPreferencesRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository
from tests.flow.conftest import LOCALES

# 05:00 UTC = 08:00 in Moscow, 15:00 in Vladivostok.
NOW = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
TODAY = date(2026, 11, 26)


async def doctor(
    session_maker: async_sessionmaker[AsyncSession],
    tg: int,
    valid_until: date | None,
    *,
    timezone: str = "Europe/Moscow",
    consent: bool = True,
    locale: str = "ru",
    **prefs: object,
) -> int:
    async with session_maker() as session:
        d = await DoctorRepository(session).add(last_name="Смирнова", first_name="Ольга", middle_name=None, specialty="Терапия")
        d.accreditation_valid_until = valid_until
        d.accreditation_specialty = "Терапия"
        accounts = TelegramAccountRepository(session)
        await accounts.upsert(tg, tg)
        await accounts.link_doctor(tg, d.id)
        await accounts.set_locale(tg, locale)
        if consent:
            await ConsentRepository(session).record(d.id, "personal_data", "1", True, NOW - timedelta(days=30))
        await NotificationPreferencesRepository(session).update(d.id, timezone=timezone, **prefs)  # type: ignore[arg-type]
        await session.commit()
        return d.id


async def rows(session_maker: async_sessionmaker[AsyncSession], kind: str) -> list[Notification]:
    async with session_maker() as session:
        statement = select(Notification).where(Notification.kind == kind).order_by(Notification.chat_id, Notification.id)
        return list((await session.scalars(statement)).all())


async def expiry_scan(session_maker: async_sessionmaker[AsyncSession], now: datetime) -> int:
    async with UnitOfWork(session_maker) as uow:
        return await ReminderScans(uow).document_expiry(now)


async def brief_scan(session_maker: async_sessionmaker[AsyncSession], now: datetime, sections: dict | None = None) -> int:  # type: ignore[type-arg]
    async with UnitOfWork(session_maker) as uow:
        return await ReminderScans(uow, sections).morning_briefs(now)


async def test_accreditation_reminders_at_90_30_7_days_and_after_expiry_each_once(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    far = await doctor(session_maker, 9001, TODAY + timedelta(days=91))
    in_90 = await doctor(session_maker, 9002, TODAY + timedelta(days=90))
    in_31 = await doctor(session_maker, 9003, TODAY + timedelta(days=31))
    in_7 = await doctor(session_maker, 9004, TODAY + timedelta(days=7))
    expired = await doctor(session_maker, 9005, TODAY - timedelta(days=1))
    await doctor(session_maker, 9006, TODAY + timedelta(days=7), consent=False)  # never consented: nothing
    await doctor(session_maker, 9007, TODAY + timedelta(days=7), disabled_kinds=["document_expiry"])
    await doctor(session_maker, 9008, None)

    assert await expiry_scan(session_maker, NOW) == 4
    queued = {r.doctor_id: r for r in await rows(session_maker, "document_expiry")}
    assert set(queued) == {in_90, in_31, in_7, expired} and far not in queued
    assert {d: r.payload["days"] for d, r in queued.items()} == {in_90: 90, in_31: 31, in_7: 7, expired: -1}
    assert queued[in_31].dedup_key.endswith(":90")  # within 90 days, not yet within 30
    assert queued[expired].dedup_key.endswith(":expired")

    # The scan runs every half hour: nothing is queued twice.
    assert await expiry_scan(session_maker, NOW + timedelta(minutes=30)) == 0
    # A day later the 31-day doctor crosses the 30-day mark and the 91-day one the 90-day mark.
    assert await expiry_scan(session_maker, NOW + timedelta(days=1)) == 2
    assert [r.payload["days"] for r in await rows(session_maker, "document_expiry") if r.doctor_id == far] == [90]
    assert [r.payload["days"] for r in await rows(session_maker, "document_expiry") if r.doctor_id == in_31] == [31, 30]


async def test_reminders_wait_for_the_local_morning(session_maker: async_sessionmaker[AsyncSession]) -> None:
    # 23:00 UTC is 02:00 in Moscow: the reminder is due at 09:00 local, not at night.
    await doctor(session_maker, 9011, TODAY + timedelta(days=30))
    night = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
    assert await expiry_scan(session_maker, night) == 1
    [row] = await rows(session_maker, "document_expiry")
    assert row.due_at.astimezone(UTC) > night and row.due_at.astimezone(UTC).hour >= 5


async def test_morning_brief_once_a_day_at_the_doctors_time_in_their_zone(session_maker: async_sessionmaker[AsyncSession]) -> None:
    moscow = await doctor(session_maker, 9021, None)  # default 08:00
    early = await doctor(session_maker, 9022, None, brief_time=time(7, 0))
    late = await doctor(session_maker, 9023, None, brief_time=time(9, 30))
    off = await doctor(session_maker, 9024, None, disabled_kinds=["morning_brief"])
    vladivostok = await doctor(session_maker, 9025, None, timezone="Asia/Vladivostok")

    assert await brief_scan(session_maker, NOW - timedelta(minutes=1)) == 2  # 07:59 Moscow: the 07:00 one and Vladivostok
    assert await brief_scan(session_maker, NOW) == 1  # 08:00 Moscow
    assert await brief_scan(session_maker, NOW + timedelta(minutes=5)) == 0
    briefs = {r.doctor_id: r for r in await rows(session_maker, "morning_brief")}
    assert set(briefs) == {moscow, early, vladivostok} and late not in briefs and off not in briefs
    assert briefs[moscow].payload["date"] == "2026-11-26"
    assert await brief_scan(session_maker, NOW + timedelta(hours=3)) == 1  # 11:00: the 09:30 one
    assert await brief_scan(session_maker, NOW + timedelta(days=1)) == 3  # the next day at 08:00: all but the 09:30 one


async def test_brief_sections_are_pluggable_and_rendered_with_buttons(session_maker: async_sessionmaker[AsyncSession]) -> None:
    await doctor(session_maker, 9031, TODAY + timedelta(days=20))

    async def queue(uow: UnitOfWork, target: object, today: date) -> list[BriefLine]:
        return [BriefLine("test_queue", {"count": 3})]

    sections = {"test_queue": queue}
    register_brief_line(
        "test_queue",
        lambda line, locale: f"• queue {line['count']}",
        lambda line: InlineKeyboardButton(text="open", callback_data="q:open"),
    )
    try:
        assert await brief_scan(session_maker, NOW, sections) == 1
        [brief] = await rows(session_maker, "morning_brief")
        assert brief.payload["lines"] == [{"section": "test_queue", "count": 3}]
        i18n = make_i18n(LOCALES)
        text, markup = render_notification(i18n, brief.id, brief.kind, dict(brief.payload))
        assert "Доброе утро" in text and "• queue 3" in text
        assert markup is not None
        assert markup.inline_keyboard[0][0].callback_data == "q:open"
        assert [b.text for b in markup.inline_keyboard[-1]] == ["✅ Готово"]
    finally:
        BRIEF_LINE_RENDERERS.pop("test_queue", None)
        BRIEF_BUTTONS.pop("test_queue", None)


def test_each_kind_reads_well_in_russian_and_english() -> None:
    i18n = make_i18n(LOCALES)
    expiring = {"document": "accreditation", "specialty": "Терапия", "valid_until": "2026-12-26", "days": 30}
    text, markup = render_notification(i18n, 7, "document_expiry", {**expiring, "locale": "ru"})
    assert "аккредитация" in text and "26 декабря 2026" in text and "30" in text
    assert markup is not None and [b.text for b in markup.inline_keyboard[0]] == ["⏰ Отложить на 15 мин", "⏰ на 1 час"]
    text, _ = render_notification(i18n, 7, "document_expiry", {**expiring, "locale": "en"})
    assert "Accreditation expires soon" in text and "December 26, 2026" in text
    text, _ = render_notification(i18n, 7, "document_expiry", {**expiring, "days": -3, "locale": "ru"})
    assert "истёк" in text

    text, markup = render_notification(i18n, 8, "announcement", {"text": "Приём <b>до 20:00</b> & всё", "locale": "ru"})
    assert "Объявление клиники" in text and "&lt;b&gt;до 20:00&lt;/b&gt; &amp; всё" in text and markup is None

    brief = {"date": "2026-11-26", "lines": [], "locale": "en"}
    text, _ = render_notification(i18n, 9, "morning_brief", brief)
    assert "Good morning" in text and "Thursday, November 26, 2026" in text and "Nothing needs your attention" in text

    notice = {"doctor": "Иванов С. А.", "specialty": "Терапия", "since": "2026-11-26T09:15:00+00:00", "locale": "ru"}
    text, markup = render_notification(i18n, 10, "doctor_unreachable", notice)
    assert "Иванов С. А." in text and "заблокировал" in text and "26 ноября 2026, 12:15" in text and markup is None
    text, _ = render_notification(i18n, 10, "doctor_unreachable", {**notice, "locale": "en"})
    assert "blocked the bot" in text
