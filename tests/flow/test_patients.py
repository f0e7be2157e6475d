"""Finding a patient: role, clinic, PIN freshness, masked cards, protected messages, audit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from aiogram.types import Contact
from sqlalchemy import text

from bot.keys import Crypto
from handlers.auth import PinEntry
from handlers.callbacks import MenuAction, MenuCallback
from handlers.patients import PatientSearch
from services.identity.clinic_roles import RoleChanges, sync_clinic_roles
from services.identity.esia_client import EsiaPerson
from services.identity.linking import LinkService
from services.identity.register import MedicalWorker, Position
from services.patients import (
    MAX_RESULTS,
    InvalidQuery,
    PatientLookupService,
    QueryKind,
    full_years,
    initials,
    parse_query,
)
from services.uow import UnitOfWork
from storage.models.clinic_role import Role
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.doctor_profiles import DoctorProfileRepository, PositionData
from storage.repositories.patients import PatientData, PatientRepository
from tests.flow.conftest import Flow, make_test_crypto
from tests.flow.test_identity_flows import audit_ops, link_doctor, set_pin
from tests.support import updates

DOCTOR_TG = 5_100
ADMIN_TG = 5_200
STRANGER_TG = 5_300

MOSCOW_OID = "1.2.643.5.1.13.13.12.2.77.7701"
VLADIVOSTOK_OID = "1.2.643.5.1.13.13.12.2.25.2501"
OTHER_OID = "1.2.643.5.1.13.13.12.2.50.5001"

# 15:30 UTC: still 10 December in Moscow (18:30), already 11 December in Vladivostok (01:30).
NOW = datetime(2026, 12, 10, 15, 30, tzinfo=UTC)

ANNA = PatientData("Петрова", "Анна", "Викторовна", date(1971, 12, 11), "7700 0000 0000 0011", "+7 900 000-00-11")
DARIA = PatientData("Петрова", "Дарья", "Андреевна", date(2010, 12, 11), "2500 0000 0000 0051")
OLGA = PatientData("Петрова", "Ольга", "Сергеевна", date(1980, 5, 5), "5000 0000 0000 0099")  # not the doctor's clinic
FEDOROVA = PatientData("Фёдорова", "Ирина", None, date(1990, 1, 1), "7700 0000 0000 0022")
SECRETS = ("Петрова", "петрова", "Анна", "Дарья", "Фёдорова", "федорова", "7700", "0011", "1971")


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
def pflow(flow: Flow, crypto: Crypto, monkeypatch: pytest.MonkeyPatch) -> Flow:
    """The production dispatcher with keys the test knows (to store patients) and a fixed clock for ages."""
    flow.dp = flow.dispatcher(crypto)
    monkeypatch.setattr(PatientLookupService, "_now", staticmethod(lambda: NOW))
    return flow


async def add_clinic(flow: Flow, short_name: str, timezone: str, oid: str | None) -> int:
    async with flow.session_maker() as session:
        clinic = await ClinicRepository(session).add(f"ГБУЗ «{short_name}»", short_name, timezone, oid)
        await session.commit()
        return clinic.id


async def add_patients(flow: Flow, crypto: Crypto, clinic_id: int, patients: Sequence[PatientData]) -> list[int]:
    async with flow.session_maker() as session:
        repo = PatientRepository(session, crypto.cipher, crypto.index)
        ids = [(await repo.add(clinic_id, patient)).id for patient in patients]
        await session.commit()
        return ids


async def sign_in(flow: Flow, tg: int, positions: Sequence[PositionData], *, esia_oid: str, pin: bool = True) -> int:
    """A linked doctor with consent (and a PIN) whose register positions became clinic roles."""
    doctor_id = await link_doctor(flow, tg, consent=True, oid=esia_oid)
    async with UnitOfWork(flow.session_maker) as uow:
        await DoctorProfileRepository(uow.session).replace_positions(doctor_id, positions)
        await sync_clinic_roles(uow, doctor_id)
        await uow.commit()
    if pin:
        await set_pin(flow, tg)
    return doctor_id


def position(oid: str, role: Role = Role.DOCTOR, name: str = "ГБУЗ") -> PositionData:
    return PositionData(oid, name, "врач-терапевт", "Терапия", role)


class World:
    def __init__(self, moscow: int, vladivostok: int, other: int, anna: int, daria: int, olga: int) -> None:
        self.moscow, self.vladivostok, self.other = moscow, vladivostok, other
        self.anna, self.daria, self.olga = anna, daria, olga


async def world(flow: Flow, crypto: Crypto) -> World:
    moscow = await add_clinic(flow, "Поликлиника № 1", "Europe/Moscow", MOSCOW_OID)
    vladivostok = await add_clinic(flow, "Детская поликлиника № 2", "Asia/Vladivostok", VLADIVOSTOK_OID)
    other = await add_clinic(flow, "Больница № 5", "Europe/Moscow", OTHER_OID)
    [anna, _] = await add_patients(flow, crypto, moscow, [ANNA, FEDOROVA])
    [daria] = await add_patients(flow, crypto, vladivostok, [DARIA])
    [olga] = await add_patients(flow, crypto, other, [OLGA])
    return World(moscow, vladivostok, other, anna, daria, olga)


async def state_of(flow: Flow, tg: int) -> str | None:
    return await flow.storage.get_state(StorageKey(bot_id=flow.bot.id, chat_id=tg, user_id=tg))


async def search(flow: Flow, query: str, tg: int = DOCTOR_TG) -> SendMessage:
    sent = await flow.feed(updates.message(query, user_id=tg))
    [reply] = sent.sent(SendMessage)
    return reply


async def doctor(flow: Flow) -> int:
    return await sign_in(flow, DOCTOR_TG, [position(MOSCOW_OID), position(VLADIVOSTOK_OID)], esia_oid="1000500001")


async def test_doctor_finds_patients_of_own_clinics_masked_and_protected(pflow: Flow, crypto: Crypto) -> None:
    w = await world(pflow, crypto)
    await doctor(pflow)

    sent = await pflow.feed(updates.message("/patients", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("<b>Поиск пациента</b>")
    assert await state_of(pflow, DOCTOR_TG) == PatientSearch.query.state

    reply = await search(pflow, "  пЕТРОВА ")
    assert reply.protect_content is True
    result = reply.text
    assert result.startswith("<b>Найденные пациенты</b>:")
    # Ages in each clinic's own time zone: 54 in Moscow (birthday tomorrow), 16 in Vladivostok (today).
    assert f"<b>Петрова А. В.</b>, 54 г. — Поликлиника № 1, ID пациента {w.anna}" in result
    assert f"<b>Петрова Д. А.</b>, 16 г. — Детская поликлиника № 2, ID пациента {w.daria}" in result
    # Another clinic's patient is not found; nothing beyond the mask is shown.
    assert re.findall(r"ID пациента (\d+)", result) == [str(w.anna), str(w.daria)]
    assert "Петрова О." not in result
    for hidden in ("Анна", "Дарья", "Викторовна", "1971", "2010", "7700", "+7 900"):
        assert hidden not in result
    assert result.count("Петрова") == 2
    assert await state_of(pflow, DOCTOR_TG) == PatientSearch.query.state  # ready for the next one

    reply = await search(pflow, "федорова")  # ё typed as е
    assert "<b>Фёдорова И.</b>, 36 г. — Поликлиника № 1" in reply.text

    reply = await search(pflow, "7700-0000-0000-0011")
    assert reply.protect_content is True
    assert f"<b>Петрова А. В.</b>, 54 г. — Поликлиника № 1, ID пациента {w.anna}" in reply.text
    assert "Д. А." not in reply.text

    reply = await search(pflow, "5000 0000 0000 0099")  # Ольга's policy, at a clinic the doctor does not work in
    assert reply.text.startswith("Никого не нашлось.")
    assert reply.protect_content is True

    reply = await search(pflow, "Сидоров")
    assert reply.text.startswith("Никого не нашлось.")

    ops = await audit_ops(pflow)
    assert ops.count(("patient_search", "ok")) == 5

    sent = await pflow.feed(updates.message("/cancel", user_id=DOCTOR_TG))
    assert sent.texts()[0] == "Действие отменено."
    assert await state_of(pflow, DOCTOR_TG) is None
    # Out of the search, a surname is just text again.
    sent = await pflow.feed(updates.message("Петрова", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("Я не понял сообщение.")


async def test_the_menu_button_opens_the_search(pflow: Flow, crypto: Crypto) -> None:
    await world(pflow, crypto)
    await doctor(pflow)
    sent = await pflow.feed(updates.callback(MenuCallback(action=MenuAction.PATIENTS).pack(), user_id=DOCTOR_TG))
    [edit] = sent.sent(EditMessageText)
    assert edit.text.startswith("<b>Поиск пациента</b>")
    assert sent.sent(AnswerCallbackQuery)
    reply = await search(pflow, "Петрова")
    assert "Петрова А. В." in reply.text


async def test_more_than_ten_are_cut_with_a_note(pflow: Flow, crypto: Crypto) -> None:
    clinic = await add_clinic(pflow, "Поликлиника № 1", "Europe/Moscow", MOSCOW_OID)
    await add_patients(
        pflow, crypto, clinic, [PatientData("Иванова", f"Имя{i}", None, date(1990, 1, 1)) for i in range(12)]
    )
    await sign_in(pflow, DOCTOR_TG, [position(MOSCOW_OID)], esia_oid="1000500002")
    await pflow.feed(updates.message("/patients", user_id=DOCTOR_TG))
    reply = await search(pflow, "Иванова")
    assert reply.text.count("<b>Иванова И.</b>") == MAX_RESULTS
    assert "Показаны только первые 10. Уточните поиск: отправьте номер полиса." in reply.text

    async with pflow.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT details FROM audit_events WHERE operation = 'patient_search'"))).all()
    assert [row[0] for row in rows] == ['{"results":10}']


async def test_administrator_without_the_doctor_role_is_denied_and_audited(pflow: Flow, crypto: Crypto) -> None:
    await world(pflow, crypto)
    await sign_in(pflow, ADMIN_TG, [position(MOSCOW_OID, Role.ADMIN)], esia_oid="1000500003")

    sent = await pflow.feed(updates.message("/patients", user_id=ADMIN_TG))
    assert sent.last_text().startswith("У вас нет прав на этот раздел.")
    assert await state_of(pflow, ADMIN_TG) is None
    sent = await pflow.feed(updates.callback(MenuCallback(action=MenuAction.PATIENTS).pack(), user_id=ADMIN_TG))
    [alert] = sent.sent(AnswerCallbackQuery)
    assert alert.show_alert and alert.text.startswith("У вас нет прав")
    assert not sent.sent(EditMessageText)

    # Even in the search state (forged, or the role taken away meanwhile), the service refuses.
    await pflow.storage.set_state(
        StorageKey(bot_id=pflow.bot.id, chat_id=ADMIN_TG, user_id=ADMIN_TG), PatientSearch.query
    )
    sent = await pflow.feed(updates.message("Петрова", user_id=ADMIN_TG))
    assert sent.last_text().startswith("У вас нет прав")
    assert "Петрова А." not in " ".join(sent.texts())

    assert (await audit_ops(pflow)).count(("patient_search", "denied")) == 3
    assert ("patient_search", "ok") not in await audit_ops(pflow)


async def test_doctor_whose_clinic_is_not_connected_is_told_so(pflow: Flow, crypto: Crypto) -> None:
    await world(pflow, crypto)
    await sign_in(pflow, DOCTOR_TG, [position("1.2.643.5.1.13.13.12.2.99.9999")], esia_oid="1000500004")
    sent = await pflow.feed(updates.message("/patients", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("Ни одна из ваших медицинских организаций")
    assert ("patient_search", "denied") in await audit_ops(pflow)


async def test_not_linked_is_sent_to_login(pflow: Flow) -> None:
    sent = await pflow.feed(updates.message("/patients", user_id=STRANGER_TG))
    assert sent.last_text() == "Сначала войдите через Госуслуги: /login"
    assert await state_of(pflow, STRANGER_TG) is None


async def test_idle_timeout_asks_for_the_pin_then_the_search_works_again(pflow: Flow, crypto: Crypto) -> None:
    await world(pflow, crypto)
    await doctor(pflow)
    await pflow.feed(updates.message("/patients", user_id=DOCTOR_TG))
    assert "Петрова А. В." in (await search(pflow, "Петрова")).text

    async with pflow.session_maker() as session:
        await session.execute(
            text("UPDATE doctor_security SET last_verified_at = :t"), {"t": datetime.now(UTC) - timedelta(minutes=16)}
        )
        await session.commit()
    reply = await search(pflow, "Петрова")
    assert reply.text == "Для защиты данных пациентов введите PIN-код, чтобы продолжить."
    assert "Петрова" not in reply.text
    assert await state_of(pflow, DOCTOR_TG) == PinEntry.waiting.state

    sent = await pflow.feed(updates.message("9999", user_id=DOCTOR_TG))
    assert len(sent.deleted()) == 1
    assert sent.last_text() == "Неверный PIN-код. Осталось попыток: 4."
    sent = await pflow.feed(updates.message("2580", user_id=DOCTOR_TG))
    assert sent.last_text() == "✅ PIN-код принят. Можно продолжать."

    await pflow.feed(updates.message("/patients", user_id=DOCTOR_TG))
    assert "Петрова А. В." in (await search(pflow, "Петрова")).text
    assert ("pin_failed", "failed") in await audit_ops(pflow)

    # Idle again, this time at /patients itself: the PIN is asked before the search even opens.
    async with pflow.session_maker() as session:
        await session.execute(
            text("UPDATE doctor_security SET last_verified_at = :t"), {"t": datetime.now(UTC) - timedelta(minutes=16)}
        )
        await session.commit()
    sent = await pflow.feed(updates.message("/patients", user_id=DOCTOR_TG))
    assert sent.last_text() == "Для защиты данных пациентов введите PIN-код, чтобы продолжить."


async def test_a_doctor_without_a_pin_is_asked_to_set_one(pflow: Flow, crypto: Crypto) -> None:
    await world(pflow, crypto)
    await sign_in(pflow, DOCTOR_TG, [position(MOSCOW_OID)], esia_oid="1000500005", pin=False)
    sent = await pflow.feed(updates.message("/patients", user_id=DOCTOR_TG))
    assert sent.last_text() == "Сначала задайте PIN-код: /pin"


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("12", "В номере полиса ОМС 16 цифр."),
        ("7700 0000 0000 001", "В номере полиса ОМС 16 цифр."),
        ("<b>", "Фамилию пишите буквами (можно через дефис), номер полиса — 16 цифрами."),
        ("а" * 200, "Слишком длинно: в фамилии не больше 60 символов."),
        ("😀", "Фамилию пишите буквами (можно через дефис), номер полиса — 16 цифрами."),
        ("Петрова 😀", "Фамилию пишите буквами (можно через дефис), номер полиса — 16 цифрами."),
        ("П", "Отправьте фамилию полностью — хотя бы 2 буквы."),
        ("Петрова1", "Фамилию пишите буквами (можно через дефис), номер полиса — 16 цифрами."),
    ],
)
async def test_bad_queries_are_answered_clearly_and_the_search_stays_open(
    pflow: Flow, crypto: Crypto, query: str, answer: str
) -> None:
    await world(pflow, crypto)
    await doctor(pflow)
    await pflow.feed(updates.message("/patients", user_id=DOCTOR_TG))
    reply = await search(pflow, query)
    assert reply.text.startswith(answer)
    assert "<b>" not in reply.text and "😀" not in reply.text  # the input is never echoed
    assert await state_of(pflow, DOCTOR_TG) == PatientSearch.query.state
    assert "Петрова А. В." in (await search(pflow, "Петрова")).text
    assert (await audit_ops(pflow)).count(("patient_search", "ok")) == 1  # a rejected query is no search


async def test_non_text_in_the_search_asks_for_text(pflow: Flow, crypto: Crypto) -> None:
    await world(pflow, crypto)
    await doctor(pflow)
    await pflow.feed(updates.message("/patients", user_id=DOCTOR_TG))
    contact = Contact(phone_number="+79000000011", first_name="Анна")
    sent = await pflow.feed(updates.message(None, user_id=DOCTOR_TG, contact=contact))
    assert sent.last_text() == "Отправьте фамилию или номер полиса текстом либо /cancel."
    sent = await pflow.feed(updates.message("/frobnicate", user_id=DOCTOR_TG))
    assert sent.last_text().startswith("Команда /frobnicate мне незнакома.")


async def test_the_audit_log_holds_no_patient_data_or_query(pflow: Flow, crypto: Crypto) -> None:
    await world(pflow, crypto)
    await doctor(pflow)
    await pflow.feed(updates.message("/patients", user_id=DOCTOR_TG))
    for query in ("Петрова", "федорова", "7700 0000 0000 0011", "12", "Сидоров"):
        await pflow.feed(updates.message(query, user_id=DOCTOR_TG))
    async with pflow.engine.connect() as conn:
        # Every column a person could write into (time and hashes are digits that may match by chance).
        rows = (
            (
                await conn.execute(
                    text("SELECT actor, operation, object_type, object_id, outcome, details FROM audit_events")
                )
            )
            .mappings()
            .all()
        )
        searches = (
            await conn.execute(
                text(
                    "SELECT actor, object_type, object_id, outcome, details FROM audit_events "
                    "WHERE operation = 'patient_search' ORDER BY id"
                )
            )
        ).all()
    raw = " ".join(str(value) for row in rows for value in row.values())
    for secret in SECRETS:
        assert secret not in raw
    assert [tuple(row) for row in searches] == [
        (searches[0][0], "patient", None, "ok", '{"results":2}'),
        (searches[0][0], "patient", None, "ok", '{"results":1}'),
        (searches[0][0], "patient", None, "ok", '{"results":1}'),
        (searches[0][0], "patient", None, "ok", '{"results":0}'),
    ]
    assert searches[0][0].startswith("doctor:")


# --- Clinic roles from the register ----------------------------------------------------------


async def test_sync_clinic_roles_follows_the_register(pflow: Flow) -> None:
    moscow = await add_clinic(pflow, "Поликлиника № 1", "Europe/Moscow", MOSCOW_OID)
    vladivostok = await add_clinic(pflow, "Детская поликлиника № 2", "Asia/Vladivostok", VLADIVOSTOK_OID)
    manual = await add_clinic(pflow, "Частная клиника", "Europe/Moscow", None)  # roles granted by hand
    doctor_id = await link_doctor(pflow, DOCTOR_TG, consent=True, oid="1000500006")  # position at 7701 = moscow

    async def sync(positions: Sequence[PositionData] | None = None) -> RoleChanges:
        async with UnitOfWork(pflow.session_maker) as uow:
            if positions is not None:
                await DoctorProfileRepository(uow.session).replace_positions(doctor_id, positions)
            changes = await sync_clinic_roles(uow, doctor_id)
            await uow.commit()
            return changes

    async def roles() -> set[tuple[int, Role]]:
        async with pflow.session_maker() as session:
            return {(r.clinic_id, Role(r.role)) for r in await ClinicRoleRepository(session).roles_of(doctor_id)}

    async with pflow.session_maker() as session:
        await ClinicRoleRepository(session).grant(doctor_id, manual, Role.DOCTOR)
        await ClinicRoleRepository(session).grant(doctor_id, vladivostok, Role.DOCTOR)  # no longer in the register
        await session.commit()

    changes = await sync()
    assert changes == RoleChanges(granted=((moscow, Role.DOCTOR),), revoked=((vladivostok, Role.DOCTOR),))
    assert await roles() == {(moscow, Role.DOCTOR), (manual, Role.DOCTOR)}
    assert await sync() == RoleChanges()  # nothing to do twice

    # Now an administrator in Moscow and a doctor in Vladivostok; unknown organisations are ignored.
    changes = await sync([position(MOSCOW_OID, Role.ADMIN), position(VLADIVOSTOK_OID), position(OTHER_OID)])
    assert changes == RoleChanges(
        granted=((moscow, Role.ADMIN), (vladivostok, Role.DOCTOR)), revoked=((moscow, Role.DOCTOR),)
    )
    assert await roles() == {(moscow, Role.ADMIN), (vladivostok, Role.DOCTOR), (manual, Role.DOCTOR)}
    ops = await audit_ops(pflow)
    assert ops.count(("clinic_role_granted", "ok")) == 3 and ops.count(("clinic_role_revoked", "ok")) == 2


async def test_linking_grants_the_clinic_role(pflow: Flow, crypto: Crypto) -> None:
    """LinkService stores the register's positions and, with them, the roles in matching clinics."""
    moscow = await add_clinic(pflow, "Поликлиника № 1", "Europe/Moscow", MOSCOW_OID)
    doctor_id = await link_doctor(pflow, DOCTOR_TG, consent=True, oid="1000500007")
    person = EsiaPerson("1000500007", "Иванов", "Сергей", "Александрович", "112-233-445 95", True, "REGISTERED", False)
    worker = MedicalWorker(
        "FRMR-1",
        "Иванов",
        "Сергей",
        "Александрович",
        (
            Position(MOSCOW_OID, "ГБУЗ «ГП № 1»", "врач-терапевт участковый", "Терапия", "doctor", None),
            Position(OTHER_OID, "ГБУЗ «ГКБ № 5»", "врач-терапевт", "Терапия", "doctor", None),
        ),
        None,
        None,
        None,
        None,
    )
    async with UnitOfWork(pflow.session_maker) as uow:
        service = LinkService(uow, esia=None, register=None, cipher=crypto.cipher, index=crypto.index)  # type: ignore[arg-type]
        await service._store_profile(
            DoctorProfileRepository(uow.session), doctor_id, person, worker, datetime.now(UTC)
        )
        await uow.commit()
    async with pflow.session_maker() as session:
        assert await ClinicRoleRepository(session).has_role(doctor_id, moscow, Role.DOCTOR)
        assert len(await ClinicRoleRepository(session).roles_of(doctor_id)) == 1


# --- Units -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "kind", "value"),
    [
        ("Петрова", QueryKind.SURNAME, "Петрова"),
        ("  петрова  ", QueryKind.SURNAME, "петрова"),
        ("Петрова-Водкина", QueryKind.SURNAME, "Петрова-Водкина"),
        ("Петрова – Водкина", QueryKind.SURNAME, "Петрова-Водкина"),
        ("О’Нил", QueryKind.SURNAME, "О'Нил"),
        ("Smith", QueryKind.SURNAME, "Smith"),
        ("Ли", QueryKind.SURNAME, "Ли"),
        ("7700 0000 0000 0011", QueryKind.POLICY, "7700000000000011"),
        ("7700-0000-0000-0011", QueryKind.POLICY, "7700000000000011"),
        ("７７００００００００００００１１", QueryKind.POLICY, "7700000000000011"),  # full-width digits
    ],
)
def test_parse_query_accepts(typed: str, kind: QueryKind, value: str) -> None:
    parsed = parse_query(typed)
    assert (parsed.kind, parsed.value) == (kind, value)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "12",
        "1" * 17,
        "<b>",
        "😀",
        "П",
        "а" * 61,
        "Петрова--Водкина",
        "-Петрова",
        "Петрова;DROP",
        "Петрова\nИванова",
    ],
)
def test_parse_query_rejects(typed: str) -> None:
    with pytest.raises(InvalidQuery):
        parse_query(typed)


def test_full_years_and_initials() -> None:
    assert full_years(date(1971, 12, 11), date(2026, 12, 10)) == 54
    assert full_years(date(1971, 12, 11), date(2026, 12, 11)) == 55
    assert full_years(date(2000, 2, 29), date(2025, 2, 28)) == 24
    assert full_years(date(2000, 2, 29), date(2025, 3, 1)) == 25
    assert initials("анна", "Викторовна") == "А. В."
    assert initials("Илья", None) == "И."


# --- Demo data ---------------------------------------------------------------------------------


def register_positions(key: str) -> list[PositionData]:
    """The positions the ФРМР emulator lists for a persona, as linking stores them."""
    from emulators.common.people import PEOPLE
    from emulators.egisz.register import default_register

    [entry] = [p for p in default_register() if p.snils == PEOPLE[key].snils]
    return [
        PositionData(p.organization.oid, p.organization.name, p.position, p.specialty, Role(p.role))
        for p in entry.positions
    ]


async def test_demo_clinics_match_the_register_emulator(pflow: Flow, crypto: Crypto) -> None:
    from services.demo_seed import DEMO_CLINIC, DEMO_CLINICS, DemoSeedService

    async with UnitOfWork(pflow.session_maker) as uow:
        assert await DemoSeedService(uow, crypto.cipher, crypto.index).seed()
    async with UnitOfWork(pflow.session_maker) as uow:
        # As in a demo folder seeded before clinics had OIDs: the next start gives it back.
        clinic = await ClinicRepository(uow.session).by_name(DEMO_CLINIC)
        assert clinic is not None
        await ClinicRepository(uow.session).set_organization_oid(clinic.id, None)
        await uow.commit()
    async with UnitOfWork(pflow.session_maker) as uow:
        assert not await DemoSeedService(uow, crypto.cipher, crypto.index).seed()
    async with pflow.session_maker() as session:
        clinics = await ClinicRepository(session).list()
    assert {(c.name, c.organization_oid, c.timezone) for c in clinics} == {
        (spec.name, spec.organization_oid, spec.timezone) for spec in DEMO_CLINICS
    }

    # "ivanov" works in the first clinic only; "petrova" in both; "volkova" administers the first.
    await sign_in(pflow, DOCTOR_TG, register_positions("petrova"), esia_oid="1000500008")
    await sign_in(pflow, ADMIN_TG, register_positions("volkova"), esia_oid="1000500009", pin=False)
    await pflow.feed(updates.message("/patients", user_id=DOCTOR_TG))
    result = (await search(pflow, "Петрова")).text
    assert "<b>Петрова А. В.</b>" in result and "— Поликлиника № 1" in result
    assert "<b>Петрова Д. А.</b>" in result and "— Детская поликлиника № 2" in result
    sent = await pflow.feed(updates.message("/patients", user_id=ADMIN_TG))
    assert sent.last_text().startswith("У вас нет прав")
    ivanov = {p.organization_oid for p in register_positions("ivanov")}
    assert ivanov == {DEMO_CLINICS[0].organization_oid}
