"""Linking a Telegram account to ESIA end to end: the chat, the browser, ESIA and ФРМР emulators.

The browser is played by an aiohttp client following the redirects exactly as a browser would
(the ESIA emulator's test hook signs in as the chosen persona instead of showing its page).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack, identity_settings, raw_rows, running_bot

DOCTOR = 880_001
OTHER = 880_002


async def test_a_doctor_links_consents_and_sets_a_pin(stack: Stack, tmp_path: Path) -> None:
    stack.esia.sign_in_as("ivanov")
    async with running_bot(await identity_settings(stack, tmp_path), "polling"):
        url = await stack.login_url(DOCTOR)
        status, _, page = await stack.browse(url)
        assert status == 200 and 'data-outcome="ok"' in page and "Вход выполнен" in page
        linked = await stack.telegram.wait_for_message(DOCTOR, lambda m: "Аккаунт связан" in m.text, timeout=10)
        assert "Иванов С. А." in linked.text and "ГБУЗ" in linked.text
        assert "Согласие на обработку персональных данных" in linked.text

        stack.telegram.press_button(DOCTOR, linked.message_id, text="✅ Согласен(на)")
        await stack.telegram.wait_for_message(DOCTOR, lambda m: "Придумайте PIN-код" in m.text, timeout=10)
        for _ in range(2):
            sent = stack.telegram.user_sends(DOCTOR, "2580")
            await stack.telegram.wait_for_message(DOCTOR, lambda m: "PIN" in m.text, timeout=10)
            await stack.telegram.wait_for_calls("deleteMessage", count=1, timeout=5)
            assert sent.message_id in {int(c.params["message_id"]) for c in stack.telegram.call_log("deleteMessage")}
        await stack.telegram.wait_for_message(DOCTOR, lambda m: "PIN-код сохранён" in m.text, timeout=10)

        stack.telegram.user_sends(DOCTOR, "/profile")
        profile = await stack.telegram.wait_for_message(DOCTOR, lambda m: "Профиль" in m.text, timeout=10)
        assert "Иванов Сергей Александрович" in profile.text
        # The register's specialist certificate came along with the link (expired in 2024).
        assert "• Терапия, № 0177180012345\n  истёк 29 марта 2024" in profile.text

    # SNILS, tokens and the PIN are nowhere in the database in clear.
    cells: list[str] = []
    for table in ("doctors", "esia_tokens", "doctor_security", "esia_auth_requests", "audit_events", "link_tokens"):
        for row in await raw_rows(stack.database_url, f"SELECT * FROM {table}"):
            cells += [str(cell) for cell in row]
    dump = " ".join(cells)
    raw_file = Path(stack.database_url.split("///", 1)[1]).read_bytes()
    for secret in ("112-233-445 95", "11223344595"):
        assert secret.encode() not in raw_file
    assert "112-233-445 95" not in dump and "11223344595" not in dump
    # The PIN as a value of its own; the same four digits inside a timestamp or a hash are chance.
    assert not re.search(r"(?<![0-9a-fA-F])2580(?![0-9a-fA-F])", dump)
    assert "eyJ" not in dump  # no JWT
    certificates = await raw_rows(stack.database_url, "SELECT number, specialty, valid_until FROM doctor_certificates")
    assert [tuple(str(cell) for cell in row) for row in certificates] == [("0177180012345", "Терапия", "2024-03-29")]
    ops = [row[0] for row in await raw_rows(stack.database_url, "SELECT operation FROM audit_events ORDER BY id")]
    assert ops[:2] == ["sign_in_started", "link"] and "consent" in ops and "pin_set" in ops


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("cancel", "Вход на Госуслугах отменён"),
        ("sidorov", "не подтверждена"),
        ("orlova", "ещё проходит подтверждение"),
        ("kuznetsova", "нет проверенного СНИЛС"),
        ("fedorov", "удалена"),
        ("morozov", "Вас нет в Федеральном регистре медицинских работников"),
        ("nikitina", "Вход на Госуслугах отменён"),
    ],
)
async def test_sign_in_problems_are_explained_and_nothing_is_linked(
    stack: Stack, tmp_path: Path, outcome: str, expected: str
) -> None:
    stack.esia.queue_outcome(outcome)
    async with running_bot(await identity_settings(stack, tmp_path), "polling"):
        url = await stack.login_url(DOCTOR)
        status, _, page = await stack.browse(url)
        assert status == 200 and 'data-outcome="fail"' in page and expected in page
        message = await stack.telegram.wait_for_message(DOCTOR, lambda m: expected in m.text, timeout=10)
        assert message.text.startswith("⚠️")
    assert await raw_rows(stack.database_url, "SELECT doctor_id FROM telegram_accounts WHERE doctor_id IS NOT NULL") == []
    assert await raw_rows(stack.database_url, "SELECT count(*) FROM doctors") == [(0,)]


@pytest.mark.parametrize(("endpoint", "kind"), [("token", "html500"), ("token", "unavailable"), ("person", "slow"), ("persons", "html500")])
async def test_esia_or_register_down_links_nothing_and_says_try_later(
    stack: Stack, tmp_path: Path, endpoint: str, kind: str
) -> None:
    stack.esia.sign_in_as("ivanov")
    target = stack.egisz if endpoint == "persons" else stack.esia
    target.fail_next(endpoint, kind, count=1, delay=5.0)
    async with running_bot(await identity_settings(stack, tmp_path), "polling"):
        url = await stack.login_url(DOCTOR)
        _, _, page = await stack.browse(url)
        assert "не отвечают" in page
        message = await stack.telegram.wait_for_message(DOCTOR, lambda m: "не отвечают" in m.text, timeout=15)
        assert message.reply_markup, "a fresh sign-in button is offered"
    assert await raw_rows(stack.database_url, "SELECT count(*) FROM doctors") == [(0,)]


async def test_link_and_state_are_single_use(stack: Stack, tmp_path: Path) -> None:
    stack.esia.sign_in_as("ivanov")
    async with running_bot(await identity_settings(stack, tmp_path), "polling"):
        url = await stack.login_url(DOCTOR)
        async with stack.http.get(url, allow_redirects=False) as first:
            assert first.status == 302
            authorize = first.headers["Location"]
        status, _, page = await stack.browse(url)
        assert status == 410 and "устарела или уже использована" in page
        async with stack.http.get(authorize, allow_redirects=False) as esia_answer:
            callback = esia_answer.headers["Location"]
        assert 'data-outcome="ok"' in (await stack.browse(callback))[2]
        status, _, page = await stack.browse(callback)
        assert "устарела или уже использована" in page


async def test_a_second_telegram_account_cannot_take_a_linked_identity(stack: Stack, tmp_path: Path) -> None:
    stack.esia.sign_in_as("ivanov")
    async with running_bot(await identity_settings(stack, tmp_path), "polling"):
        await stack.browse(await stack.login_url(DOCTOR))
        await stack.telegram.wait_for_message(DOCTOR, lambda m: "Аккаунт связан" in m.text, timeout=10)
        _, _, page = await stack.browse(await stack.login_url(OTHER))
        assert "уже связана с другим аккаунтом Telegram" in page
        await stack.telegram.wait_for_message(OTHER, lambda m: "уже связана" in m.text, timeout=10)
        warning = await stack.telegram.wait_for_message(DOCTOR, lambda m: "Кто-то пытался" in m.text, timeout=10)
        assert warning.text.startswith("⚠️")
    rows = await raw_rows(stack.database_url, "SELECT telegram_user_id FROM telegram_accounts WHERE doctor_id IS NOT NULL")
    assert rows == [(DOCTOR,)]


async def test_repeated_failures_block_sign_in_for_a_while(stack: Stack, tmp_path: Path) -> None:
    stack.esia.queue_outcome(*["cancel"] * 5)
    settings = await identity_settings(stack, tmp_path, session={"sign_in_max_failures": 3})
    async with running_bot(settings, "polling"):
        for _ in range(3):
            _, _, page = await stack.browse(await stack.login_url(DOCTOR))
        assert "Вход приостановлен до" in page
        stack.telegram.user_sends(DOCTOR, "/login")
        blocked = await stack.telegram.wait_for_message(
            DOCTOR, lambda m: m.text.startswith("Слишком много неудачных попыток входа"), timeout=10
        )
        assert "(МСК)" in blocked.text


async def test_logout_offers_esia_logout(stack: Stack, tmp_path: Path) -> None:
    stack.esia.sign_in_as("ivanov")
    async with running_bot(await identity_settings(stack, tmp_path), "polling"):
        await stack.browse(await stack.login_url(DOCTOR))
        await stack.telegram.wait_for_message(DOCTOR, lambda m: "Аккаунт связан" in m.text, timeout=10)
        stack.telegram.user_sends(DOCTOR, "/logout")
        bye = await stack.telegram.wait_for_message(DOCTOR, lambda m: "Вы вышли" in m.text, timeout=10)
        markup = bye.reply_markup or {}
        [[button]] = markup["inline_keyboard"] if isinstance(markup, dict) else markup.inline_keyboard
        logout_url = button["url"] if isinstance(button, dict) else button.url
        assert re.search(r"/idp/ext/Logout\?client_id=MEDCAB01&redirect_url=", logout_url)
        status, _, page = await stack.browse(logout_url)
        assert status == 200 and "Вы вышли из Госуслуг" in page
        assert stack.esia.logouts
    assert await raw_rows(stack.database_url, "SELECT count(*) FROM esia_tokens") == [(0,)]
    await asyncio.sleep(0)


async def test_no_token_snils_or_pin_reaches_the_log(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    stack.esia.sign_in_as("ivanov")
    async with running_bot(await identity_settings(stack, tmp_path), "polling"):
        await stack.browse(await stack.login_url(DOCTOR))
        linked = await stack.telegram.wait_for_message(DOCTOR, lambda m: "Аккаунт связан" in m.text, timeout=10)
        stack.telegram.press_button(DOCTOR, linked.message_id, text="✅ Согласен(на)")
        await stack.telegram.wait_for_message(DOCTOR, lambda m: "Придумайте PIN-код" in m.text, timeout=10)
        for _ in range(2):
            stack.telegram.user_sends(DOCTOR, "2580")
            await stack.telegram.wait_for_message(DOCTOR, lambda m: "PIN" in m.text, timeout=10)
        await stack.telegram.wait_for_message(DOCTOR, lambda m: "PIN-код сохранён" in m.text, timeout=10)
    log = "\n".join(record.getMessage() for record in caplog.records)
    assert len(caplog.records) > 10  # the log was really captured
    for secret in ("112-233-445 95", "11223344595", "eyJ", TOKEN_SECRET, "client_secret="):
        assert secret not in log, secret
    assert not re.search(r"\b2580\b", log)


TOKEN_SECRET = "E2E-medcab-emulator-token-abcdef"
