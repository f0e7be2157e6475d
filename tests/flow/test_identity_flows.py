"""After sign-in: consent, PIN (set, confirm, wrong, lock), idle timeout, profile, logout, roles, audit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import AnswerCallbackQuery, DeleteMessage, EditMessageText, SendDocument, SendMessage
from sqlalchemy import text

from handlers.auth import ConsentAction, ConsentCallback, PinEntry
from services.identity.access import AccessService, PinRequired, SecurityPolicy
from services.identity.linking import CONSENT_KIND, CONSENT_VERSION
from services.uow import UnitOfWork
from storage.models.clinic_role import Role
from storage.repositories.audit import AuditRepository
from storage.repositories.consents import ConsentRepository
from storage.repositories.doctor_profiles import DoctorProfileRepository, PositionData
from storage.repositories.doctors import DoctorRepository
from storage.repositories.security import SecurityRepository
from storage.repositories.telegram_accounts import TelegramAccountRepository
from tests.flow.conftest import Flow
from tests.support import updates

DOCTOR_TG = 3_100
ADMIN_TG = 3_200


async def link_doctor(
    flow: Flow, tg: int, *, role: Role = Role.DOCTOR, consent: bool = False, oid: str = "1000299681"
) -> int:
    async with flow.session_maker() as session:
        doctor = await DoctorRepository(session).add(
            last_name="Иванов", first_name="Сергей", middle_name="Александрович", specialty="Терапия", esia_oid=oid
        )
        profiles = DoctorProfileRepository(session)
        await profiles.update_profile(
            doctor.id,
            register_id="FRMR-77-000123",
            accreditation_kind="periodic",
            accreditation_specialty="Терапия",
            accreditation_number="7722 031234567",
            accreditation_valid_until=date(2029, 3, 31),
            esia_trusted=True,
        )
        await profiles.replace_positions(
            doctor.id,
            [PositionData("1.2.643.5.1.13.13.12.2.77.7701", "ГБУЗ «ГП № 1 ДЗМ»", "врач-терапевт участковый", "Терапия", role)],
        )
        accounts = TelegramAccountRepository(session)
        await accounts.upsert(tg, tg)
        await accounts.link_doctor(tg, doctor.id)
        if consent:
            await ConsentRepository(session).record(doctor.id, CONSENT_KIND, CONSENT_VERSION, True, datetime.now(UTC))
        await session.commit()
        return doctor.id


async def count(flow: Flow, sql: str, **params: object) -> int:
    async with flow.engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def audit_ops(flow: Flow) -> list[tuple[str, str]]:
    async with flow.session_maker() as session:
        return [(e.operation, e.outcome) for e in await AuditRepository(session).recent(100)][::-1]


async def set_pin(flow: Flow, tg: int, pin: str = "2580") -> None:
    await flow.feed(updates.message("/pin", user_id=tg))
    await flow.feed(updates.message(pin, user_id=tg))
    sent = await flow.feed(updates.message(pin, user_id=tg))
    assert sent.texts()[-1] == "✅ PIN-код сохранён. Кабинет готов к работе."


async def test_consent_accept_then_pin_setup_deletes_pin_messages_and_stores_only_a_hash(flow: Flow) -> None:
    doctor_id = await link_doctor(flow, DOCTOR_TG)
    sent = await flow.feed(updates.callback(ConsentCallback(action=ConsentAction.ACCEPT).pack(), user_id=DOCTOR_TG))
    assert "✅ Согласие получено." in sent.sent(EditMessageText)[0].text
    assert sent.sent(AnswerCallbackQuery)
    assert "Придумайте PIN-код" in sent.last_text()

    for bad, reason in (("12", "4–6 цифр"), ("1234", "легко угадать"), ("0000", "легко угадать"), ("12ab", "4–6 цифр")):
        sent = await flow.feed(updates.message(bad, user_id=DOCTOR_TG))
        assert len(sent.deleted()) == 1, "a PIN message must be deleted at once"
        assert reason in sent.last_text()

    sent = await flow.feed(updates.message("2580", user_id=DOCTOR_TG))
    assert len(sent.deleted()) == 1 and "ещё раз" in sent.last_text()
    sent = await flow.feed(updates.message("2581", user_id=DOCTOR_TG))
    assert "не совпали" in sent.last_text()
    await flow.feed(updates.message("2580", user_id=DOCTOR_TG))
    sent = await flow.feed(updates.message("2580", user_id=DOCTOR_TG))
    assert sent.texts()[-1] == "✅ PIN-код сохранён. Кабинет готов к работе."

    async with flow.session_maker() as session:
        security = await SecurityRepository(session).get(doctor_id)
    assert security is not None and security.pin_hash is not None
    assert security.pin_hash.startswith("scrypt$") and "2580" not in security.pin_hash
    # Nothing in FSM storage or any table holds the PIN in clear.
    key = StorageKey(bot_id=flow.bot.id, chat_id=DOCTOR_TG, user_id=DOCTOR_TG)
    assert await flow.storage.get_state(key) is None and await flow.storage.get_data(key) == {}
    assert ("consent", "ok") in await audit_ops(flow) and ("pin_set", "ok") in await audit_ops(flow)


async def test_declining_consent_unlinks_and_deletes_the_doctor(flow: Flow) -> None:
    doctor_id = await link_doctor(flow, DOCTOR_TG)
    sent = await flow.feed(updates.callback(ConsentCallback(action=ConsentAction.DECLINE).pack(), user_id=DOCTOR_TG))
    assert "удалено" in sent.sent(EditMessageText)[0].text
    assert await count(flow, "SELECT count(*) FROM doctors WHERE id = :d", d=doctor_id) == 0
    assert await count(flow, "SELECT count(*) FROM doctor_positions WHERE doctor_id = :d", d=doctor_id) == 0
    assert await count(flow, "SELECT count(*) FROM telegram_accounts WHERE doctor_id IS NOT NULL") == 0
    assert ("consent_declined", "ok") in await audit_ops(flow)


async def test_consent_buttons_from_someone_not_linked_change_nothing(flow: Flow) -> None:
    sent = await flow.feed(updates.callback(ConsentCallback(action=ConsentAction.ACCEPT).pack(), user_id=9_999))
    [alert] = sent.sent(AnswerCallbackQuery)
    assert alert.text == "Сначала войдите через Госуслуги: /login"
    assert await count(flow, "SELECT count(*) FROM consents") == 0


async def test_pin_entry_wrong_five_times_locks_and_is_audited(flow: Flow) -> None:
    await link_doctor(flow, DOCTOR_TG, consent=True)
    await set_pin(flow, DOCTOR_TG)
    key = StorageKey(bot_id=flow.bot.id, chat_id=DOCTOR_TG, user_id=DOCTOR_TG)
    await flow.storage.set_state(key, PinEntry.waiting)
    for left in (4, 3, 2, 1):
        sent = await flow.feed(updates.message("9999", user_id=DOCTOR_TG))
        assert len(sent.deleted()) == 1
        assert sent.last_text() == f"Неверный PIN-код. Осталось попыток: {left}."
    sent = await flow.feed(updates.message("9999", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("Слишком много неверных PIN-кодов. Ввод заблокирован до ")
    assert "(МСК)" in sent.last_text()
    # Locked: even the right PIN is refused until the lock ends.
    await flow.storage.set_state(key, PinEntry.waiting)
    sent = await flow.feed(updates.message("2580", user_id=DOCTOR_TG))
    assert "заблокирован" in sent.last_text()
    ops = await audit_ops(flow)
    assert ops.count(("pin_failed", "failed")) == 4 and ("pin_locked", "denied") in ops


async def test_idle_timeout_asks_for_the_pin_again(flow: Flow) -> None:
    await link_doctor(flow, DOCTOR_TG, consent=True)
    await set_pin(flow, DOCTOR_TG)
    policy = SecurityPolicy(idle_timeout=timedelta(minutes=15))
    async with UnitOfWork(flow.session_maker) as uow:
        access = AccessService(uow, policy)
        context = await access.context_of(DOCTOR_TG)
        assert context is not None
        await access.require_fresh_session(context)  # just confirmed: allowed
        await uow.commit()
    async with flow.session_maker() as session:
        await session.execute(
            text("UPDATE doctor_security SET last_verified_at = :t"), {"t": datetime.now(UTC) - timedelta(minutes=16)}
        )
        await session.commit()
    async with UnitOfWork(flow.session_maker) as uow:
        access = AccessService(uow, policy)
        context = await access.context_of(DOCTOR_TG)
        assert context is not None
        with pytest.raises(PinRequired):
            await access.require_fresh_session(context)
    # The PIN unlocks it again.
    async with UnitOfWork(flow.session_maker) as uow:
        await AccessService(uow, policy).verify_pin(DOCTOR_TG, "2580")
    async with UnitOfWork(flow.session_maker) as uow:
        access = AccessService(uow, policy)
        context = await access.context_of(DOCTOR_TG)
        assert context is not None
        await access.require_fresh_session(context)


async def test_profile_shows_the_register_data(flow: Flow) -> None:
    await link_doctor(flow, DOCTOR_TG, consent=True)
    sent = await flow.feed(updates.message("/profile", user_id=DOCTOR_TG))
    profile = sent.last_text()
    assert "Иванов Сергей Александрович" in profile
    assert "врач-терапевт участковый — ГБУЗ «ГП № 1 ДЗМ»" in profile
    assert "Запись в регистре: FRMR-77-000123" in profile
    assert "Действует до 31 марта 2029" in profile


async def test_profile_refresh_without_a_live_esia_session_explains(flow: Flow) -> None:
    await link_doctor(flow, DOCTOR_TG, consent=True)
    sent = await flow.feed(updates.callback("profile:refresh", user_id=DOCTOR_TG))
    [alert] = sent.sent(AnswerCallbackQuery)
    # No ESIA configured in this flow: the service cannot refresh, and says so; nothing changes.
    assert alert.show_alert
    assert not sent.sent(EditMessageText)


async def test_not_linked_user_asking_for_profile_is_sent_to_login(flow: Flow) -> None:
    sent = await flow.feed(updates.message("/profile", user_id=4_444))
    assert sent.last_text() == "Сначала войдите через Госуслуги: /login"


async def test_logout_unlinks(flow: Flow) -> None:
    doctor_id = await link_doctor(flow, DOCTOR_TG, consent=True)
    sent = await flow.feed(updates.message("/logout", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("Вы вышли: этот аккаунт Telegram больше не связан с кабинетом.")
    assert await count(flow, "SELECT count(*) FROM telegram_accounts WHERE doctor_id = :d", d=doctor_id) == 0
    sent = await flow.feed(updates.message("/logout", user_id=DOCTOR_TG))
    assert sent.last_text() == "Вы не вошли в кабинет. Войти: /login"
    assert ("unlink", "ok") in await audit_ops(flow)


async def test_audit_log_is_for_administrators_only(flow: Flow) -> None:
    await link_doctor(flow, DOCTOR_TG, consent=True)
    await link_doctor(flow, ADMIN_TG, role=Role.ADMIN, consent=True, oid="1000300001")
    sent = await flow.feed(updates.message("/audit", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("У вас нет прав на этот раздел.")
    assert ("audit_view", "denied") in await audit_ops(flow)

    sent = await flow.feed(updates.message("/audit", user_id=ADMIN_TG))
    listing = sent.last_text()
    assert listing.startswith("<b>Журнал аудита</b>")
    assert "⛔" in listing and "audit_view" in listing

    # A forged export button from the doctor: refused, audited, no file.
    sent = await flow.feed(updates.callback("audx:7", user_id=DOCTOR_TG))
    assert not sent.sent(SendDocument)
    assert sent.sent(AnswerCallbackQuery)[0].text.startswith("У вас нет прав")

    sent = await flow.feed(updates.callback("audx:7", user_id=ADMIN_TG))
    [document] = sent.sent(SendDocument)
    csv_bytes = document.document.data  # type: ignore[union-attr]
    assert csv_bytes.startswith("\ufeffid,time_utc,actor".encode())
    assert b"audit_view" in csv_bytes

    sent = await flow.feed(updates.message("/audit_export 01.11.2026 25.11.2026", user_id=ADMIN_TG))
    assert sent.sent(SendDocument)
    sent = await flow.feed(updates.message("/audit_export 31.02.2026 01.03.2026", user_id=ADMIN_TG))
    assert sent.last_text().startswith("Даты пишутся так: 25.11.2026.")
    sent = await flow.feed(updates.message("/audit_export 25.11.2026 01.11.2026", user_id=ADMIN_TG))
    assert sent.last_text() == "Конец периода должен быть позже начала."
    sent = await flow.feed(updates.message("/audit_export", user_id=ADMIN_TG))
    assert "Пример" in sent.last_text()
    assert not [m for m in sent.sent(SendMessage) if "Traceback" in m.text]
    assert not sent.sent(DeleteMessage)
