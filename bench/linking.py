"""Linking round trip: the «Войти через Госуслуги» button pressed → the chat says «Аккаунт связан».

Everything runs locally and for real: the bot (polling, SQLite), the Telegram, ESIA and ФРМР
emulators over HTTP, the GOST-signed authorize and token requests, JWT verification. The
baseline, measured in the same run, is a plain /help round trip through the same bot and
Telegram emulator. The last line is ``link_p50_ms=… link_p95_ms=… help_p50_ms=… ratio=…``.

    .venv/bin/python -m bench.linking [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from bot.keys import build_crypto
from bot.runner import run_polling
from bot.runtime import build_runtime
from bot.settings import load_settings
from emulators.egisz.server import EgiszEmulator
from emulators.esia.server import EsiaEmulator
from emulators.telegram.server import TelegramEmulator
from storage.crypto import generate_key_b64
from storage.migrate import upgrade

TOKEN = "555000111:BENCH-medcab-linking-token-abcdef"
FIXTURES = Path(__file__).resolve().parent.parent / "bot" / "demo_fixtures"
USER = 424_242


async def browse(http: aiohttp.ClientSession, url: str) -> str:
    for _ in range(6):
        async with http.get(url, allow_redirects=False) as response:
            if response.status in (301, 302, 303, 307):
                url = response.headers["Location"]
                continue
            return await response.text()
    raise RuntimeError("too many redirects")


def button_url(message) -> str:  # type: ignore[no-untyped-def]
    markup = message.reply_markup
    rows = markup["inline_keyboard"] if isinstance(markup, dict) else markup.inline_keyboard
    button = rows[0][0]
    return str(button["url"] if isinstance(button, dict) else button.url)


async def main(rounds: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    telegram = TelegramEmulator(TOKEN, "medcab_bench_bot", "Кабинет врача")
    esia, register = EsiaEmulator(), EgiszEmulator(api_keys=("bench-key",))
    await telegram.start(port=0)
    await esia.start(port=0)
    await register.start(port=0)
    esia.sign_in_as("ivanov")
    with tempfile.TemporaryDirectory() as tmp:
        token_keys = Path(tmp) / "esia.pem"
        token_keys.write_text(esia.keys.signing_key("RS256").certificate_pem() or "")
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade(url)
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            web_port = sock.getsockname()[1]
        settings = load_settings(
            bot_token=TOKEN,
            telegram_api_url=telegram.base_url,
            database_url=url,
            web_port=web_port,
            public_url=f"http://127.0.0.1:{web_port}",
            updates="polling",
            polling_timeout=5,
            esia_url=esia.base_url,
            esia={
                "key_path": FIXTURES / "esia-client.key",
                "cert_path": FIXTURES / "esia-client.pem",
                "token_keys": str(token_keys),
                "issuer": esia.settings.issuer,
            },
            frmr={"url": register.base_url, "api_key": "bench-key"},
            security={"data_keys": f"k1:{generate_key_b64()}", "active_key_id": "k1", "index_key": generate_key_b64()},
        )
        stop, ready = asyncio.Event(), asyncio.Event()
        link_ms: list[float] = []
        help_ms: list[float] = []
        async with build_runtime(settings, TOKEN, build_crypto(settings)) as runtime, aiohttp.ClientSession() as http:
            task = asyncio.create_task(run_polling(runtime, stop, ready=ready.set))
            await ready.wait()
            telegram.create_user(USER, "Сергей", language_code="ru")
            for i in range(rounds + 2):
                started = time.perf_counter()
                telegram.user_sends(USER, "/help")
                await telegram.wait_for_message(USER, lambda m: "Справка" in m.text, timeout=10)
                help_elapsed = time.perf_counter() - started

                telegram.user_sends(USER, "/login")
                login = await telegram.wait_for_message(USER, lambda m: "Войти через Госуслуги" in str(m.reply_markup), timeout=10)
                started = time.perf_counter()  # the button is pressed
                await browse(http, button_url(login))
                await telegram.wait_for_message(USER, lambda m: "Аккаунт связан" in m.text, timeout=10)
                link_elapsed = time.perf_counter() - started
                telegram.user_sends(USER, "/logout")
                await telegram.wait_for_message(USER, lambda m: "Вы вышли" in m.text, timeout=10)
                if i >= 2:  # the first rounds warm caches, connections and imports
                    link_ms.append(link_elapsed * 1000)
                    help_ms.append(help_elapsed * 1000)
            stop.set()
            await task
    await register.stop()
    await esia.stop()
    await telegram.stop()

    link_p50, help_p50 = statistics.median(link_ms), statistics.median(help_ms)
    link_p95 = sorted(link_ms)[max(0, int(len(link_ms) * 0.95) - 1)]
    print(f"linking round trip (button → «Аккаунт связан»): p50 {link_p50:.0f} ms, p95 {link_p95:.0f} ms (target < 1000 ms)")
    print(f"baseline /help round trip through the same bot: p50 {help_p50:.0f} ms")
    print(f"link_p50_ms={link_p50:.0f} link_p95_ms={link_p95:.0f} help_p50_ms={help_p50:.0f} ratio={link_p50 / help_p50:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(main(parser.parse_args().rounds))
