"""Notifications as doctors and administrators use them: the settings screen, snooze and done,
announcements to an audience, doctors who blocked the bot — through the production dispatcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiogram.methods import AnswerCallbackQuery, EditMessageReplyMarkup, EditMessageText, SendMessage
from sqlalchemy import select, update

from handlers.announcements import AnnounceFlow, AudienceCallback, SpecialtyCallback
from handlers.notifications import NotifyCallback, NotifySetting, ReminderAction, ReminderCallback
from storage.models import Doctor, Notification, NotificationPreferences, TelegramAccount
from storage.models.clinic_role import Role
from storage.repositories.doctor_profiles import PositionData
from storage.repositories.outbox import OutboxRepository
from tests.flow.conftest import Flow
from tests.flow.test_identity_flows import audit_ops
from tests.flow.test_patients import add_clinic, sign_in, state_of
from tests.support import updates

DOCTOR_TG = 6_100
OTHER_TG = 6_200
ADMIN_TG = 6_300
FAR_TG = 6_400

CLINIC_OID = "1.2.643.5.1.13.13.12.2.77.7788"
FAR_OID = "1.2.643.5.1.13.13.12.2.25.2588"


def _position(oid: str, specialty: str, role: Role = Role.DOCTOR) -> PositionData:
    return PositionData(oid, "ГБУЗ", "врач", specialty, role)


async def notifications(flow: Flow) -> list[Notification]:
    async with flow.session_maker() as session:
        return list((await session.scalars(select(Notification).order_by(Notification.id))).all())


async def preferences(flow: Flow, doctor_id: int) -> NotificationPreferences | None:
    async with flow.session_maker() as session:
        return await session.get(NotificationPreferences, doctor_id)


def buttons(call: SendMessage | EditMessageText) -> list[str]:
    markup = call.reply_markup
    assert markup is not None
    return [button.text for row in markup.inline_keyboard for button in row]  # type: ignore[union-attr]


def last_screen(sent: object) -> SendMessage | EditMessageText:
    calls = [c for c in sent.calls if isinstance(c, SendMessage | EditMessageText)]  # type: ignore[attr-defined]
    assert calls, "the bot showed nothing"
    return calls[-1]


def alert(sent: object) -> str:
    [answer] = sent.sent(AnswerCallbackQuery)  # type: ignore[attr-defined]
    return str(answer.text or "")


# --- the settings screen -----------------------------------------------------------------------


async def test_settings_screen_switches_kinds_quiet_hours_brief_time_and_sound(flow: Flow) -> None:
    await add_clinic(flow, "ГП № 25", "Asia/Vladivostok", FAR_OID)
    doctor_id = await sign_in(flow, DOCTOR_TG, [_position(FAR_OID, "Терапия")], esia_oid="6100", pin=False)

    sent = await flow.feed(updates.message("/notifications", user_id=DOCTOR_TG))
    screen = last_screen(sent)
    assert "Тихие часы: с 21:00 до 08:00" in screen.text
    assert "Обычные сообщения без звука: нет" in screen.text
    assert "🔔 Утренняя сводка" in buttons(screen)
    assert "Напоминание о приёме: за 30 мин" in screen.text
    # Never chosen: the clinic's time zone (Vladivostok), taken when the register roles arrived.
    assert "Часовой пояс: Asia/Vladivostok" in screen.text

    press = NotifyCallback(setting=NotifySetting.KIND, value="morning_brief").pack()
    sent = await flow.feed(updates.callback(press, user_id=DOCTOR_TG))
    assert "🔕 Утренняя сводка" in buttons(last_screen(sent)) and alert(sent) == "Сохранено."
    prefs = await preferences(flow, doctor_id)
    assert prefs is not None and "morning_brief" in prefs.disabled_kinds

    sent = await flow.feed(updates.callback(NotifyCallback(setting=NotifySetting.QUIET, value="off").pack(), user_id=DOCTOR_TG))
    assert "Тихие часы: выключены" in last_screen(sent).text
    sent = await flow.feed(updates.callback(NotifyCallback(setting=NotifySetting.QUIET, value="22-07").pack(), user_id=DOCTOR_TG))
    assert "Тихие часы: с 22:00 до 07:00" in last_screen(sent).text
    sent = await flow.feed(updates.callback(NotifyCallback(setting=NotifySetting.BRIEF, value="07.30").pack(), user_id=DOCTOR_TG))
    assert "Утренняя сводка: 07:30" in last_screen(sent).text
    sent = await flow.feed(updates.callback(NotifyCallback(setting=NotifySetting.SILENT).pack(), user_id=DOCTOR_TG))
    assert "Обычные сообщения без звука: да" in last_screen(sent).text
    sent = await flow.feed(updates.callback(NotifyCallback(setting=NotifySetting.LEAD, value="60").pack(), user_id=DOCTOR_TG))
    assert "Напоминание о приёме: за 60 мин" in last_screen(sent).text and "✓ 60 мин" in buttons(last_screen(sent))

    prefs = await preferences(flow, doctor_id)
    assert prefs is not None
    assert (prefs.quiet_start.strftime("%H:%M"), prefs.quiet_end.strftime("%H:%M")) == ("22:00", "07:00")
    assert prefs.brief_time is not None and prefs.brief_time.strftime("%H:%M") == "07:30"
    assert prefs.silent_routine is True and prefs.reminder_lead_minutes == 60

    # Pressing the kind again switches it back on.
    sent = await flow.feed(updates.callback(press, user_id=DOCTOR_TG))
    assert "🔔 Утренняя сводка" in buttons(last_screen(sent))


async def test_forged_settings_buttons_change_nothing(flow: Flow) -> None:
    doctor_id = await sign_in(flow, DOCTOR_TG, [_position(CLINIC_OID, "Терапия")], esia_oid="6101", pin=False)
    forged = [
        NotifyCallback(setting=NotifySetting.KIND, value="payroll").pack(),
        NotifyCallback(setting=NotifySetting.KIND, value="announcement_progress").pack(),
        NotifyCallback(setting=NotifySetting.QUIET, value="25-99").pack(),
        NotifyCallback(setting=NotifySetting.BRIEF, value="03.17").pack(),
        NotifyCallback(setting=NotifySetting.LEAD, value="7").pack(),
        NotifyCallback(setting=NotifySetting.LEAD, value="-15").pack(),
        "ntf:nonsense:x",
    ]
    for data in forged:
        sent = await flow.feed(updates.callback(data, user_id=DOCTOR_TG))
        said = " ".join(sent.texts()) + " ".join(str(a.text) for a in sent.sent(AnswerCallbackQuery))
        assert "устарела" in said, data
    assert await preferences(flow, doctor_id) is None

    # Someone who never signed in is sent to sign in, and nothing is stored for them.
    sent = await flow.feed(updates.callback(NotifyCallback(setting=NotifySetting.SILENT).pack(), user_id=FAR_TG))
    assert "/login" in " ".join(sent.texts()) + " ".join(str(a.text) for a in sent.sent(AnswerCallbackQuery))


# --- snooze and done ---------------------------------------------------------------------------


async def _reminder(flow: Flow, chat_id: int, doctor_id: int, kind: str = "document_expiry") -> int:
    async with flow.session_maker() as session:
        notification_id = await OutboxRepository(session).enqueue(
            chat_id, kind, f"{kind}:test:{chat_id}", datetime.now(UTC), doctor_id=doctor_id,
            payload={"document": "accreditation", "specialty": "Терапия", "valid_until": "2027-01-01", "days": 30, "locale": "ru"},
        )
        await session.commit()
    assert notification_id is not None
    return notification_id


async def test_snooze_queues_the_same_reminder_once_and_done_removes_the_buttons(flow: Flow) -> None:
    doctor_id = await sign_in(flow, DOCTOR_TG, [_position(CLINIC_OID, "Терапия")], esia_oid="6102", pin=False)
    original = await _reminder(flow, DOCTOR_TG, doctor_id)
    before = datetime.now(UTC)

    snooze = ReminderCallback(action=ReminderAction.SNOOZE, notification_id=original, minutes=15).pack()
    sent = await flow.feed(updates.callback(snooze, user_id=DOCTOR_TG, message_id=77))
    assert alert(sent).startswith("Напомню ")
    assert sent.sent(EditMessageReplyMarkup), "the pressed message loses its buttons"
    rows = await notifications(flow)
    [again] = [r for r in rows if r.id != original]
    assert again.kind == "document_expiry" and again.chat_id == DOCTOR_TG and again.payload == rows[0].payload
    assert timedelta(minutes=14) <= again.due_at - before <= timedelta(minutes=16)

    # A double tap (or the hour button afterwards) does not queue it twice.
    hour = ReminderCallback(action=ReminderAction.SNOOZE, notification_id=original, minutes=60).pack()
    sent = await flow.feed(updates.callback(hour, user_id=DOCTOR_TG, message_id=77))
    assert "уже отложено" in " ".join(sent.texts()) + alert(sent)
    assert len(await notifications(flow)) == 2

    # The snoozed copy can itself be snoozed; a made-up interval cannot.
    odd = ReminderCallback(action=ReminderAction.SNOOZE, notification_id=again.id, minutes=1).pack()
    sent = await flow.feed(updates.callback(odd, user_id=DOCTOR_TG))
    assert "устарела" in " ".join(sent.texts()) + alert(sent)
    assert len(await notifications(flow)) == 2

    sent = await flow.feed(updates.callback(ReminderCallback(action=ReminderAction.DONE, notification_id=again.id).pack(), user_id=DOCTOR_TG))
    assert alert(sent) == "Готово." and sent.sent(EditMessageReplyMarkup)


async def test_snoozing_someone_elses_reminder_is_refused_and_audited(flow: Flow) -> None:
    doctor_id = await sign_in(flow, DOCTOR_TG, [_position(CLINIC_OID, "Терапия")], esia_oid="6103", pin=False)
    await sign_in(flow, OTHER_TG, [_position(CLINIC_OID, "Терапия")], esia_oid="6203", pin=False)
    theirs = await _reminder(flow, DOCTOR_TG, doctor_id)

    forged = ReminderCallback(action=ReminderAction.SNOOZE, notification_id=theirs, minutes=15).pack()
    sent = await flow.feed(updates.callback(forged, user_id=OTHER_TG))
    assert "устарела" in " ".join(sent.texts()) + " ".join(str(a.text) for a in sent.sent(AnswerCallbackQuery))
    assert len(await notifications(flow)) == 1
    assert ("notification_snooze", "denied") in await audit_ops(flow)

    # A reminder that never existed is just out of date.
    sent = await flow.feed(updates.callback(ReminderCallback(action=ReminderAction.SNOOZE, notification_id=999_999, minutes=15).pack(), user_id=OTHER_TG))
    assert "устарела" in " ".join(sent.texts()) + " ".join(str(a.text) for a in sent.sent(AnswerCallbackQuery))


# --- announcements -----------------------------------------------------------------------------


async def _clinic_with_staff(flow: Flow) -> tuple[int, int]:
    clinic = await add_clinic(flow, "ГП № 88", "Europe/Moscow", CLINIC_OID)
    far = await add_clinic(flow, "ГП № 25", "Asia/Vladivostok", FAR_OID)
    staff = {
        await sign_in(flow, DOCTOR_TG, [_position(CLINIC_OID, "Терапия")], esia_oid="6110", pin=False): "Терапия",
        await sign_in(flow, OTHER_TG, [_position(CLINIC_OID, "Кардиология")], esia_oid="6210", pin=False): "Кардиология",
        await sign_in(flow, FAR_TG, [_position(FAR_OID, "терапия ")], esia_oid="6410", pin=False): "Терапия",
        await sign_in(
            flow, ADMIN_TG, [_position(CLINIC_OID, "Организация здравоохранения", Role.ADMIN)], esia_oid="6310", pin=False
        ): "Организация здравоохранения",
    }
    async with flow.session_maker() as session:
        for doctor_id, specialty in staff.items():
            await session.execute(update(Doctor).where(Doctor.id == doctor_id).values(specialty=specialty))
        await session.commit()
    return clinic, far


async def test_administrator_announces_to_one_clinic_and_specialty(flow: Flow) -> None:
    clinic, far = await _clinic_with_staff(flow)

    sent = await flow.feed(updates.message("/announce", user_id=ADMIN_TG))
    assert "Отправьте текст объявления" in sent.last_text()
    for bad, says in (("   ", "пустое"), ("я" * 3501, "слишком длинное")):
        sent = await flow.feed(updates.message(bad, user_id=ADMIN_TG))
        assert says in sent.last_text()
    sent = await flow.feed(updates.message(None, user_id=ADMIN_TG, sticker=None, contact={"phone_number": "1", "first_name": "x"}))
    assert "текстом" in sent.last_text()
    assert await state_of(flow, ADMIN_TG) == AnnounceFlow.text.state

    sent = await flow.feed(updates.message("С 1 декабря приём <b>до 20:00</b>", user_id=ADMIN_TG))
    assert sent.last_text() == "Кому отправить?"
    assert buttons(last_screen(sent)) == ["Всем врачам", "Врачам: ГП № 88"]

    # A forged audience naming a clinic the administrator does not manage.
    sent = await flow.feed(updates.callback(AudienceCallback(clinic_id=far).pack(), user_id=ADMIN_TG))
    assert "только в свои клиники" in " ".join(sent.texts()) + alert(sent)
    assert await notifications(flow) == []

    sent = await flow.feed(updates.callback(AudienceCallback(clinic_id=clinic).pack(), user_id=ADMIN_TG))
    assert last_screen(sent).text == "Какой специальности?"
    choices = buttons(last_screen(sent))
    assert choices[0] == "Все специальности" and "Кардиология" in choices and "Терапия" in choices

    # An index past the list is refused, nothing queued.
    sent = await flow.feed(updates.callback(SpecialtyCallback(index=len(choices) + 5).pack(), user_id=ADMIN_TG))
    assert "устарела" in alert(sent) and await notifications(flow) == []

    therapy = choices.index("Терапия") - 1
    sent = await flow.feed(updates.callback(SpecialtyCallback(index=therapy).pack(), user_id=ADMIN_TG, message_id=501))
    progress = last_screen(sent).text
    assert "Рассылаю объявление" in progress and "Доставлено: 0 из 1" in progress

    rows = await notifications(flow)
    assert [(r.kind, r.chat_id) for r in rows] == [("announcement", DOCTOR_TG)]  # not the cardiologist, not the far clinic
    assert rows[0].payload["text"] == "С 1 декабря приём <b>до 20:00</b>"
    assert await state_of(flow, ADMIN_TG) is None
    assert ("announcement", "ok") in await audit_ops(flow)

    # The old buttons after the announcement went out.
    sent = await flow.feed(updates.callback(SpecialtyCallback(index=therapy).pack(), user_id=ADMIN_TG))
    assert "устарела" in alert(sent) and len(await notifications(flow)) == 1


async def test_announce_to_everyone_reaches_every_consenting_doctor(flow: Flow) -> None:
    await _clinic_with_staff(flow)
    await flow.feed(updates.message("/announce", user_id=ADMIN_TG))
    await flow.feed(updates.message("Собрание в пятницу", user_id=ADMIN_TG))
    await flow.feed(updates.callback(AudienceCallback(clinic_id=0).pack(), user_id=ADMIN_TG))
    sent = await flow.feed(updates.callback(SpecialtyCallback(index=-1).pack(), user_id=ADMIN_TG))
    assert "Доставлено: 0 из 4" in last_screen(sent).text
    assert sorted(r.chat_id for r in await notifications(flow)) == sorted([DOCTOR_TG, OTHER_TG, FAR_TG, ADMIN_TG])


async def test_a_doctor_cannot_announce(flow: Flow) -> None:
    await _clinic_with_staff(flow)
    sent = await flow.feed(updates.message("/announce", user_id=DOCTOR_TG))
    assert "нет прав" in sent.last_text()
    assert await state_of(flow, DOCTOR_TG) is None
    assert ("announcement", "denied") in await audit_ops(flow)
    # Buttons of the flow pressed by a doctor are refused the same way.
    sent = await flow.feed(updates.callback(AudienceCallback(clinic_id=0).pack(), user_id=DOCTOR_TG))
    assert "устарела" in alert(sent)
    assert await notifications(flow) == []


# --- a doctor blocks the bot -------------------------------------------------------------------


async def test_blocking_the_bot_informs_the_administrator_and_restarting_resumes(flow: Flow) -> None:
    await _clinic_with_staff(flow)

    sent = await flow.feed(updates.my_chat_member(DOCTOR_TG, blocked=True))
    assert sent.calls == []  # nothing can be said to someone who blocked the bot
    async with flow.session_maker() as session:
        account = await session.get(TelegramAccount, DOCTOR_TG)
    assert account is not None and account.unreachable_since is not None

    [notice] = await notifications(flow)
    assert (notice.kind, notice.chat_id) == ("doctor_unreachable", ADMIN_TG)
    assert notice.payload["doctor"] == "Иванов С. А."
    # Told once, however often Telegram repeats it.
    await flow.feed(updates.my_chat_member(DOCTOR_TG, blocked=True))
    assert len(await notifications(flow)) == 1

    sent = await flow.feed(updates.message("/unreachable", user_id=ADMIN_TG))
    assert "Врачи, заблокировавшие бота" in sent.last_text() and "Иванов С. А., Терапия" in sent.last_text()
    sent = await flow.feed(updates.message("/unreachable", user_id=OTHER_TG))
    assert "нет прав" in sent.last_text()
    assert ("unreachable_view", "denied") in await audit_ops(flow)

    await flow.feed(updates.my_chat_member(DOCTOR_TG, blocked=False))
    sent = await flow.feed(updates.message("/unreachable", user_id=ADMIN_TG))
    assert sent.last_text() == "Все врачи ваших клиник получают сообщения бота."
