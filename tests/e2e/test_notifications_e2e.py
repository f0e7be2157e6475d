"""Notifications through the running bot and the Telegram emulator: an announcement with the
administrator's live progress message (one recipient blocked the bot), and the morning brief and
an expiring-accreditation reminder with their snooze buttons."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import select

from emulators.telegram.server import TelegramEmulator
from services.identity.clinic_roles import sync_clinic_roles
from services.uow import UnitOfWork
from storage.db import create_engine, make_session_maker
from storage.models import Doctor, Notification
from storage.models.clinic_role import Role
from storage.repositories.clinics import ClinicRepository
from storage.repositories.doctor_profiles import DoctorProfileRepository, PositionData
from storage.repositories.notification_preferences import NotificationPreferencesRepository
from tests.e2e.conftest import e2e_settings, running_bot
from tests.flow.test_identity_flows import link_doctor

ADMIN, D1, D2, BLOCKED = 710_001, 710_002, 710_003, 710_004
OID = "1.2.643.5.1.13.13.12.2.77.7799"


def midday_zone() -> str:
    """A fixed-offset zone where it is about noon now, so the test does not depend on when it runs
    (quiet hours and the 09:00 reminder time are local)."""
    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12  # −12…+11
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")  # POSIX sign: Etc/GMT-5 is UTC+5


async def seed(database_url: str, *, timezone: str = "Europe/Moscow", brief_time: time | None = None) -> dict[int, int]:
    engine = create_engine(database_url)
    world = SimpleNamespace(session_maker=make_session_maker(engine))
    doctors: dict[int, int] = {}
    try:
        async with world.session_maker() as session:
            await ClinicRepository(session).add("ГБУЗ «ГП № 99»", "ГП № 99", "Europe/Moscow", OID)
            await session.commit()
        for n, tg in enumerate((ADMIN, D1, D2, BLOCKED)):
            role = Role.ADMIN if tg == ADMIN else Role.DOCTOR
            doctor_id = await link_doctor(world, tg, role=role, consent=True, oid=f"71000{n}")  # type: ignore[arg-type]
            async with UnitOfWork(world.session_maker) as uow:
                await DoctorProfileRepository(uow.session).replace_positions(
                    doctor_id, [PositionData(OID, "ГБУЗ «ГП № 99»", "врач", "Терапия", role)]
                )
                await sync_clinic_roles(uow, doctor_id)
                await NotificationPreferencesRepository(uow.session).update(
                    doctor_id, timezone=timezone, brief_time=brief_time
                )
                await uow.commit()
            doctors[tg] = doctor_id
    finally:
        await engine.dispose()
    return doctors


async def outbox(database_url: str) -> list[Notification]:
    engine = create_engine(database_url)
    try:
        async with make_session_maker(engine)() as session:
            return list((await session.scalars(select(Notification).order_by(Notification.id))).all())
    finally:
        await engine.dispose()


async def test_announcement_with_live_progress_and_a_doctor_who_blocked_the_bot(
    emulator: TelegramEmulator, e2e_database_url: str
) -> None:
    # Routine messages wait out the night (quiet hours are local): make it midday for everyone.
    await seed(e2e_database_url, timezone=midday_zone())
    for tg in (ADMIN, D1, D2, BLOCKED):
        emulator.create_user(tg, "Сергей", "Иванов", language_code="ru")
    # Blocked while the bot was not listening: it finds out only when it tries to send.
    emulator.block(BLOCKED, notify=False)

    async with running_bot(e2e_settings(emulator, e2e_database_url), "polling"):
        emulator.user_sends(ADMIN, "/announce")
        await emulator.wait_for_message(ADMIN, lambda m: "текст объявления" in m.text, timeout=10)
        emulator.user_sends(ADMIN, "Планёрка в пятницу в 8:00 <в актовом зале>")
        audience = await emulator.wait_for_message(ADMIN, lambda m: m.text == "Кому отправить?", timeout=10)
        emulator.press_button(ADMIN, audience.message_id, text="Врачам: ГП № 99")
        specialty = await emulator.wait_for_message(ADMIN, lambda m: m.text == "Какой специальности?", timeout=10)
        emulator.press_button(ADMIN, specialty.message_id, text="Все специальности")

        final = await emulator.wait_for_message(ADMIN, lambda m: "Объявление разослано" in m.text, timeout=20)
        assert final.message_id == specialty.message_id  # the same message, edited as delivery went
        assert "Доставлено: 3 из 4" in final.text and "Не доставлено: 1" in final.text

        for tg in (D1, D2, ADMIN):
            got = await emulator.wait_for_message(tg, lambda m: "Объявление клиники" in m.text, timeout=10)
            assert "Планёрка в пятницу в 8:00 <в актовом зале>" in got.text
        notice = await emulator.wait_for_message(ADMIN, lambda m: "заблокировал" in m.text, timeout=10)
        assert "Иванов С. А." in notice.text

    attempts = [c for c in emulator.call_log("sendMessage") if int(c.params["chat_id"]) == BLOCKED]
    assert [c.status for c in attempts] == [403]  # one attempt, never again
    edits = [c for c in emulator.call_log("editMessageText") if int(c.params["chat_id"]) == ADMIN]
    assert len(edits) >= 2  # the audience question → progress → final figures
    rows = await outbox(e2e_database_url)
    # Whichever row met the 403 failed; everything else for that chat was cancelled unsent.
    assert [r.status for r in rows if r.chat_id == BLOCKED].count("failed") == 1
    assert {r.status for r in rows if r.chat_id == BLOCKED} <= {"failed", "cancelled"}
    [to_d1] = [r for r in rows if (r.kind, r.chat_id) == ("announcement", D1)]
    assert to_d1.status == "sent" and to_d1.telegram_message_id is not None


async def test_morning_brief_and_expiry_reminder_arrive_with_snooze_buttons(
    emulator: TelegramEmulator, e2e_database_url: str
) -> None:
    zone = midday_zone()
    doctors = await seed(e2e_database_url, timezone=zone, brief_time=time(0, 0))
    local_today = datetime.now(ZoneInfo(zone)).date()
    engine = create_engine(e2e_database_url)
    async with make_session_maker(engine)() as session:
        doctor = await session.get(Doctor, doctors[D1])
        assert doctor is not None
        doctor.accreditation_valid_until = local_today + timedelta(days=20)
        await session.commit()
    await engine.dispose()
    emulator.create_user(D1, "Сергей", "Иванов", language_code="ru")
    for tg in (ADMIN, D2, BLOCKED):
        emulator.create_user(tg, "Сергей", "Иванов", language_code="ru")

    async with running_bot(e2e_settings(emulator, e2e_database_url), "polling"):
        brief = await emulator.wait_for_message(D1, lambda m: "Доброе утро" in m.text, timeout=15)
        assert "• Аккредитация: осталось дней — 20" in brief.text
        reminder = await emulator.wait_for_message(D1, lambda m: "Скоро истекает аккредитация" in m.text, timeout=15)
        markup = reminder.reply_markup or {}
        labels = [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
        assert labels == ["⏰ Отложить на 15 мин", "⏰ на 1 час", "✅ Готово"]

        emulator.press_button(D1, reminder.message_id, text="⏰ Отложить на 15 мин")
        await emulator.wait_for_calls("answerCallbackQuery", count=1, timeout=10)
        [answer] = [q.answer for q in emulator.callback_queries() if q.answer is not None]
        assert "Напомню" in str(answer)

    rows = [r for r in await outbox(e2e_database_url) if r.chat_id == D1]
    snoozed = [r for r in rows if r.dedup_key.startswith("snooze:")]
    assert len(snoozed) == 1 and snoozed[0].status == "pending" and snoozed[0].kind == "document_expiry"
