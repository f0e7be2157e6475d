"""How an update finds its handler: feature routers skipped by their button prefixes, the routers'
order, and the services a chosen handler gets (only those it names, built then)."""

from __future__ import annotations

from typing import Any

from aiogram import Dispatcher, F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, TelegramObject
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.middlewares.services import SERVICE_NAMES, ServicesMiddleware
from handlers import get_routers
from handlers.filters import CallbackPrefixes, gate_callbacks
from services.identity.access import SecurityPolicy
from services.schedule.service import ScheduleService
from services.uow import UnitOfWork
from tests.flow.conftest import make_test_crypto
from tests.support.fake_session import FakeSession, make_fake_bot
from tests.support.updates import callback


class Day(CallbackData, prefix="day"):
    day: int


class Open(CallbackData, prefix="mydocs"):
    """No fields: packed as the bare prefix."""


def gate_of(router: Router) -> CallbackPrefixes | None:
    gates = [f.callback for f in router.callback_query._handler.filters or () if isinstance(f.callback, CallbackPrefixes)]
    return gates[0] if gates else None


async def test_a_router_of_known_buttons_is_gated_by_their_prefixes() -> None:
    router = Router()

    @router.callback_query(Day.filter(F.day > 0))
    async def day(query: CallbackQuery) -> None: ...

    @router.callback_query(Open.filter())
    async def open_(query: CallbackQuery) -> None: ...

    gate_callbacks(router)
    gate = gate_of(router)
    assert gate is not None

    def query(data: str) -> CallbackQuery:
        return callback(data).callback_query  # type: ignore[return-value]

    assert await gate(query(Day(day=3).pack())) and await gate(query(Open().pack()))
    assert not await gate(query("dayx:3")) and not await gate(query("mydocsx")) and not await gate(query("rx:1"))


def test_a_router_with_a_catch_all_button_handler_is_left_ungated() -> None:
    router = Router()

    @router.callback_query(Day.filter())
    async def day(query: CallbackQuery) -> None: ...

    @router.callback_query()
    async def anything(query: CallbackQuery) -> None: ...

    gate_callbacks(router)
    assert gate_of(router) is None


def test_the_production_order_cancel_first_errors_last_and_the_day_view_early() -> None:
    private, errors = get_routers()
    assert errors.name == "errors" and not errors.callback_query.handlers and not errors.message.handlers
    names = [router.name for router in private.sub_routers]
    # «Отмена» must win over any conversation; the PIN entry (auth) must see text before the
    # schedule's own states; the day view comes right after, before the other features.
    assert names[:4] == ["cancel", "auth", "start", "schedule"]
    assert names[-1] == "fallback" and gate_of(private.sub_routers[-1]) is None  # answers any stale button
    assert gate_of(private.sub_routers[names.index("schedule")]) is not None


async def test_a_handler_gets_only_the_services_it_names_built_on_demand() -> None:
    seen: dict[str, Any] = {}
    router = Router()

    @router.callback_query(Day.filter())
    async def named(query: CallbackQuery, schedule: ScheduleService, **rest: Any) -> None:
        seen["named"] = schedule

    other = Router()

    @other.callback_query(Open.filter())
    async def exact(query: CallbackQuery, schedule: ScheduleService) -> None:
        seen["exact"] = schedule

    services = ServicesMiddleware(make_test_crypto(), None, SecurityPolicy())
    dp = Dispatcher()

    async def unit_of_work(handler: Any, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["uow"] = UnitOfWork(async_sessionmaker())  # never opened: construction does no I/O
        return await handler(event, data)

    dp.update.outer_middleware(unit_of_work)
    dp.update.outer_middleware(services)
    dp.callback_query.middleware(services.handler_services)

    captured: dict[str, Any] = {}

    async def capture(handler: Any, event: TelegramObject, data: dict[str, Any]) -> Any:
        captured.update(data)
        return await handler(event, data)

    dp.callback_query.middleware(capture)
    dp.include_routers(other, router)
    bot = make_fake_bot(FakeSession())
    await dp.feed_update(bot, callback(Open().pack()))
    assert isinstance(seen["exact"], ScheduleService)
    assert "schedule" in captured and "prescriptions" not in captured and "access" in captured
    captured.clear()
    await dp.feed_update(bot, callback(Day(day=1).pack(), update_id=999_001))
    # A handler taking **data may use any service: it gets them all.
    assert captured.keys() >= SERVICE_NAMES
    await bot.session.close()
