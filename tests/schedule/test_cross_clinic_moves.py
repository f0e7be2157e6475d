"""Moving an appointment to another of the doctor's clinics, on SQLite and PostgreSQL.

A patient belongs to one clinic, so a move to another clinic is allowed only where the same person
is registered too (the same policy number, matched by its blind index): the appointment then takes
that clinic's record. Everything a move within the clinic guarantees still holds (version check,
published slots, the database's overlap guard across clinics, audit), and undo puts back the time,
the clinic and the patient record. Forged buttons are refused, audited and change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.keys import Crypto
from services.errors import DomainError
from services.schedule.service import Moved, MoveOffer, SlotUnavailable, Stale
from storage.models.clinic_role import Role
from storage.models.shift import SHIFT_DRAFT
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.patients import PatientData, PatientRepository
from storage.repositories.schedule import AppointmentRepository
from tests.flow.conftest import make_test_crypto
from tests.schedule.support import (
    ANNA,
    DOCTOR_TG,
    IVAN,
    OTHER_TG,
    World,
    add_shift,
    local,
    make_world,
    register_patient,
)
from tests.schedule.test_service import DAY, KGD, MSK, VVO, audit, call


@pytest.fixture
def crypto() -> Crypto:
    return make_test_crypto()


@pytest.fixture
async def world(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto) -> World:
    return await make_world(session_maker, crypto)


async def anna_in_vladivostok(session_maker: async_sessionmaker[AsyncSession], crypto: Crypto, world: World) -> int:
    """Anna (a Moscow patient) is registered in Vladivostok too: the same policy number."""
    return await register_patient(session_maker, crypto, world.vladivostok, ANNA)


async def three_shifts(session_maker: async_sessionmaker[AsyncSession], world: World) -> None:
    """On DAY: Vladivostok 13:00–14:30 (03:00 UTC), Moscow 9:00–12:00 (06:00 UTC), Kaliningrad
    12:00–13:00 (10:00 UTC); 30-minute slots, no two at the same time."""
    await add_shift(session_maker, world.doctor, world.vladivostok, DAY, VVO, (13, 0), (14, 30))
    await add_shift(session_maker, world.doctor, world.moscow, DAY, MSK, (9, 0), (12, 0))
    await add_shift(session_maker, world.doctor, world.kaliningrad, DAY, KGD, (12, 0), (13, 0))


async def stored(
    session_maker: async_sessionmaker[AsyncSession], appointment_id: int
) -> tuple[int, int, datetime, int]:
    async with session_maker() as session:
        row = await AppointmentRepository(session).get(appointment_id)
        assert row is not None
        return row.clinic_id, row.patient_id, row.starts_at, row.version


async def audit_details(
    session_maker: async_sessionmaker[AsyncSession], operation: str
) -> list[tuple[str, dict[str, Any] | None]]:
    async with session_maker() as session:
        rows = await session.execute(
            text("SELECT outcome, details FROM audit_events WHERE operation = :o ORDER BY id"), {"o": operation}
        )
        return [(outcome, json.loads(details) if details else None) for outcome, details in rows]


async def test_slots_of_the_clinics_where_the_patient_is_registered_too_are_offered_in_time_order(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    await anna_in_vladivostok(session_maker, crypto, world)
    await three_shifts(session_maker, world)
    anna = await call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, local(DAY, 9, 0, MSK))
    ivan = await call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.ivan, local(DAY, 11, 30, MSK))

    offer = await call(session_maker, crypto, "next_slots", DOCTOR_TG, anna.id)
    assert isinstance(offer, MoveOffer)
    # Vladivostok's afternoon comes before Moscow's morning; six buttons as before; no Kaliningrad
    # (she is not registered there).
    assert [(s.clinic_id, s.starts_at) for s in offer.slots] == [
        (world.vladivostok, local(DAY, 13, 0, VVO)),
        (world.vladivostok, local(DAY, 13, 30, VVO)),
        (world.vladivostok, local(DAY, 14, 0, VVO)),
        (world.moscow, local(DAY, 9, 30, MSK)),
        (world.moscow, local(DAY, 10, 0, MSK)),
        (world.moscow, local(DAY, 10, 30, MSK)),
    ]
    assert list(offer.clinics) == [world.moscow, world.vladivostok] and offer.several
    assert [c.short_name for c in offer.other_clinics] == ["ДП № 2"]

    # Ivan is registered in Moscow only: Moscow's slots only, as before.
    offer = await call(session_maker, crypto, "next_slots", DOCTOR_TG, ivan.id)
    assert {s.clinic_id for s in offer.slots} == {world.moscow} and list(offer.clinics) == [world.moscow]
    assert [s.starts_at for s in offer.slots] == [
        local(DAY, h, m, MSK) for h, m in ((9, 30), (10, 0), (10, 30), (11, 0))
    ]


async def test_a_move_to_another_clinic_takes_that_clinics_record_and_undo_brings_both_back(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    anna_vvo = await anna_in_vladivostok(session_maker, crypto, world)
    await three_shifts(session_maker, world)
    booked = await call(
        session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, local(DAY, 9, 0, MSK), "Давление"
    )

    moved = await call(
        session_maker,
        crypto,
        "reschedule",
        DOCTOR_TG,
        booked.id,
        booked.version,
        local(DAY, 13, 30, VVO),
        world.vladivostok,
    )
    assert isinstance(moved, Moved) and moved.clinic_changed
    view = moved.appointment
    assert view.clinic.id == world.vladivostok and view.patient.patient_id == anna_vvo
    assert view.patient.name == "Петрова А. В." and view.reason == "Давление"
    assert moved.from_clinic.id == world.moscow and moved.from_starts_at == local(DAY, 9, 0, MSK)
    assert await stored(session_maker, booked.id) == (world.vladivostok, anna_vvo, local(DAY, 13, 30, VVO), 2)
    async with session_maker() as session:
        last = (await AppointmentRepository(session).events(booked.id))[-1]
    assert (last.event, last.from_clinic_id, last.from_patient_id) == ("rescheduled", world.moscow, world.anna)
    assert last.from_starts_at == local(DAY, 9, 0, MSK)
    assert (await audit_details(session_maker, "appointment_reschedule"))[-1] == (
        "ok",
        {"from_clinic": world.moscow, "to_clinic": world.vladivostok},
    )

    # Each clinic's day shows it where it now is.
    moscow_day = await call(session_maker, crypto, "day", DOCTOR_TG, DAY, world.moscow)
    vladivostok_day = await call(session_maker, crypto, "day", DOCTOR_TG, DAY, world.vladivostok)
    assert moscow_day.appointments == []
    assert [(a.id, a.patient.patient_id) for a in vladivostok_day.appointments] == [(booked.id, anna_vvo)]
    # From Vladivostok, Moscow (her other clinic) is offered back, Moscow 9:00 free again.
    offer = await call(session_maker, crypto, "next_slots", DOCTOR_TG, booked.id)
    assert list(offer.clinics) == [world.vladivostok, world.moscow]
    assert (world.moscow, local(DAY, 9, 0, MSK)) in [(s.clinic_id, s.starts_at) for s in offer.slots]

    with pytest.raises(Stale):  # the old card's slot button
        await call(
            session_maker,
            crypto,
            "reschedule",
            DOCTOR_TG,
            booked.id,
            booked.version,
            local(DAY, 14, 0, VVO),
            world.vladivostok,
        )

    back = await call(session_maker, crypto, "undo", DOCTOR_TG, booked.id, view.version, now=datetime.now(UTC))
    assert isinstance(back, Moved) and back.clinic_changed and back.from_clinic.id == world.vladivostok
    assert back.appointment.clinic.id == world.moscow and back.appointment.patient.patient_id == world.anna
    assert await stored(session_maker, booked.id) == (world.moscow, world.anna, local(DAY, 9, 0, MSK), 3)
    moscow_day = await call(session_maker, crypto, "day", DOCTOR_TG, DAY, world.moscow)
    assert [a.id for a in moscow_day.appointments] == [booked.id]


async def test_forged_moves_are_refused_audited_and_change_nothing(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    await anna_in_vladivostok(session_maker, crypto, world)
    async with session_maker() as session:  # a clinic the doctor does not work in; Anna is registered there too
        elsewhere = (await ClinicRepository(session).add("П № 4", "П № 4", "Europe/Moscow")).id
        await session.commit()
    await register_patient(session_maker, crypto, elsewhere, ANNA)
    await add_shift(session_maker, world.other_doctor, elsewhere, DAY, MSK, (13, 0), (14, 0))
    await three_shifts(session_maker, world)
    await add_shift(session_maker, world.doctor, world.vladivostok, DAY, VVO, (16, 0), (17, 0), status=SHIFT_DRAFT)
    booked = await call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, local(DAY, 9, 0, MSK))

    forged = [
        (elsewhere, local(DAY, 13, 0, MSK), "You do not work in this clinic"),
        (world.kaliningrad, local(DAY, 12, 0, KGD), "not registered in that clinic"),  # the doctor's, not hers
        (world.vladivostok, local(DAY, 16, 0, VVO), "There is no slot at this time"),  # a draft shift
        (world.vladivostok, local(DAY, 20, 0, VVO), "There is no slot at this time"),  # no shift at all
        (world.vladivostok, local(DAY, 13, 10, VVO), "There is no slot at this time"),  # off the grid
        (world.moscow, local(DAY, 13, 0, VVO), "There is no slot at this time"),  # Vladivostok's time, Moscow named
    ]
    for clinic, starts_at, answer in forged:
        with pytest.raises(DomainError, match=answer):
            await call(session_maker, crypto, "reschedule", DOCTOR_TG, booked.id, booked.version, starts_at, clinic)
    refused = [d for outcome, d in await audit_details(session_maker, "appointment_reschedule") if outcome == "denied"]
    assert [d and d["refused"] for d in refused] == ["clinic", "patient", "slot", "slot", "slot", "slot"]
    assert await stored(session_maker, booked.id) == (world.moscow, world.anna, local(DAY, 9, 0, MSK), 1)
    async with session_maker() as session:
        assert [e.event for e in await AppointmentRepository(session).events(booked.id)] == ["booked"]

    # Another doctor naming a clinic of theirs: the appointment is not theirs, whatever the clinic.
    with pytest.raises(DomainError, match="not in your schedule"):
        await call(
            session_maker,
            crypto,
            "reschedule",
            OTHER_TG,
            booked.id,
            booked.version,
            local(DAY, 9, 30, MSK),
            world.moscow,
        )
    assert ("appointment_reschedule", str(booked.id), "denied") in await audit(session_maker)
    assert await stored(session_maker, booked.id) == (world.moscow, world.anna, local(DAY, 9, 0, MSK), 1)


async def test_busy_in_one_clinic_is_busy_in_all_on_a_move_across_clinics(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    await anna_in_vladivostok(session_maker, crypto, world)
    # Moscow 9:00–9:30 (06:00 UTC), Vladivostok 16:30–17:30 (06:30 UTC), Kaliningrad 9:00–10:00 (07:00 UTC).
    await add_shift(session_maker, world.doctor, world.moscow, DAY, MSK, (9, 0), (9, 30))
    await add_shift(session_maker, world.doctor, world.vladivostok, DAY, VVO, (16, 30), (17, 30))
    await add_shift(session_maker, world.doctor, world.kaliningrad, DAY, KGD, (9, 0), (10, 0))
    booked = await call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, local(DAY, 9, 0, MSK))
    await call(session_maker, crypto, "book", DOCTOR_TG, world.kaliningrad, world.oleg, local(DAY, 9, 0, KGD))

    offer = await call(session_maker, crypto, "next_slots", DOCTOR_TG, booked.id)
    # Vladivostok 17:00 is Kaliningrad 9:00, where the doctor sees Oleg.
    assert [(s.clinic_id, s.starts_at) for s in offer.slots] == [(world.vladivostok, local(DAY, 16, 30, VVO))]
    with pytest.raises(SlotUnavailable, match="just been taken"):  # the database's guard, across clinics
        await call(
            session_maker,
            crypto,
            "reschedule",
            DOCTOR_TG,
            booked.id,
            booked.version,
            local(DAY, 17, 0, VVO),
            world.vladivostok,
        )
    assert await stored(session_maker, booked.id) == (world.moscow, world.anna, local(DAY, 9, 0, MSK), 1)


async def test_undo_across_clinics_needs_the_old_clinic_and_old_events_still_undo(
    session_maker: async_sessionmaker[AsyncSession], world: World, crypto: Crypto
) -> None:
    anna_vvo = await anna_in_vladivostok(session_maker, crypto, world)
    await three_shifts(session_maker, world)
    booked = await call(session_maker, crypto, "book", DOCTOR_TG, world.moscow, world.anna, local(DAY, 9, 0, MSK))
    moved = await call(
        session_maker, crypto, "reschedule", DOCTOR_TG, booked.id, 1, local(DAY, 13, 0, VVO), world.vladivostok
    )
    async with session_maker() as session:
        await ClinicRoleRepository(session).revoke(world.doctor, world.moscow, Role.DOCTOR)
        await session.commit()
    with pytest.raises(DomainError, match="cannot be undone"):
        await call(
            session_maker, crypto, "undo", DOCTOR_TG, booked.id, moved.appointment.version, now=datetime.now(UTC)
        )
    assert await stored(session_maker, booked.id) == (world.vladivostok, anna_vvo, local(DAY, 13, 0, VVO), 2)

    # A move recorded before the clinic was (revision 0010): undone within its clinic, as before.
    moved = await call(session_maker, crypto, "reschedule", DOCTOR_TG, booked.id, 2, local(DAY, 14, 0, VVO))
    assert not moved.clinic_changed
    async with session_maker() as session:
        await session.execute(text("UPDATE appointment_events SET from_clinic_id = NULL, from_patient_id = NULL"))
        await session.commit()
    back = await call(session_maker, crypto, "undo", DOCTOR_TG, booked.id, 3, now=datetime.now(UTC))
    assert not back.clinic_changed
    assert await stored(session_maker, booked.id) == (world.vladivostok, anna_vvo, local(DAY, 13, 0, VVO), 4)


async def test_the_same_person_is_found_by_the_policy_digest_only(
    session_maker: async_sessionmaker[AsyncSession], engine: AsyncEngine, world: World, crypto: Crypto
) -> None:
    anna_vvo = await anna_in_vladivostok(session_maker, crypto, world)
    for _ in range(2):  # registered twice in Kaliningrad: which record would it be? Neither.
        await register_patient(session_maker, crypto, world.kaliningrad, ANNA)
    no_policy = PatientData("Иванова", "Мария", None, None, None)
    nobody = await register_patient(session_maker, crypto, world.moscow, no_policy)
    await register_patient(session_maker, crypto, world.vladivostok, no_policy)
    others = [world.vladivostok, world.kaliningrad]

    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, parameters: object, *_: object) -> None:
        seen.append(f"{statement} {parameters}")

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with session_maker() as session:
            patients = PatientRepository(session, crypto.cipher, crypto.index)
            assert await patients.same_person_in(world.anna, others) == {world.vladivostok: anna_vvo}
            assert await patients.same_person_in(world.ivan, others) == {}  # Сидоров: Moscow only
            assert await patients.same_person_in(nobody, others) == {}  # no policy number: no match
            assert await patients.same_person_in(world.anna, []) == {}
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert seen and not any(number in line for line in seen for number in (ANNA.policy_number, IVAN.policy_number))
