"""``python -m bot demo``: the whole product on one machine, no Telegram account, no internet.

Starts the Telegram Bot API emulator in-process (it also serves the chat page), an SQLite
database in a local folder with generated encryption keys, seeds a demo clinic, and runs the
same runtime as production in polling mode against the emulator.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import sys
import time
import webbrowser
from pathlib import Path

from bot.keys import build_crypto
from bot.settings import Settings, load_settings
from emulators.egisz.server import EgiszEmulator
from emulators.esia.server import EsiaEmulator
from emulators.signing.server import SigningEmulator
from emulators.telegram.server import TelegramEmulator
from storage.crypto import generate_key_b64
from storage.migrate import upgrade

logger = logging.getLogger(__name__)

FIXTURES = Path(__file__).resolve().parent / "demo_fixtures"
DEMO_REGISTER_KEY = "medcab-demo-register-key"
DEMO_BOT_USERNAME = "medcab_demo_bot"
DEMO_BOT_NAME = "Кабинет врача (демо)"


def demo_keys(path: Path) -> dict[str, str]:
    """Encryption keys kept beside the demo database, so data written earlier stays readable."""
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    keys = {"data_keys": f"demo1:{generate_key_b64()}", "active_key_id": "demo1", "index_key": generate_key_b64()}
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return keys


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def esia_certificate(esia: EsiaEmulator) -> str:
    """ESIA's token-signing certificate, as an operator downloads it from /public/esia.pem."""
    return esia.keys.signing_key("RS256").certificate_pem() or ""


def _prepare_folder(data_dir: str) -> tuple[Path, dict[str, str]]:
    folder = Path(data_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder, demo_keys(folder / "keys.json")


def _has_display() -> bool:
    # On a headless machine webbrowser may pick a text-mode browser and take over the terminal.
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


async def run_demo(
    settings: Settings, *, port: int, data_dir: str, open_browser: bool, started: float | None = None
) -> None:
    from bot.runner import run_polling
    from bot.runtime import build_runtime
    from services.demo_seed import DemoSeedService
    from services.uow import UnitOfWork

    started = started if started is not None else time.perf_counter()
    folder, keys = await asyncio.to_thread(_prepare_folder, data_dir)
    database_url = f"sqlite+aiosqlite:///{folder / 'medcab.db'}"
    await upgrade(database_url)

    token = f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(27)}"
    emulator = TelegramEmulator(token, DEMO_BOT_USERNAME, DEMO_BOT_NAME)
    esia, register = EsiaEmulator(), EgiszEmulator(api_keys=(DEMO_REGISTER_KEY,))
    await emulator.start("127.0.0.1", port)
    await esia.start(port=0 if port == 0 else port + 2)
    await register.start(port=0 if port == 0 else port + 3)
    signing = SigningEmulator()
    await signing.start(port=0 if port == 0 else port + 4)
    web_port = _free_port() if port == 0 else port + 1
    try:
        token_keys = folder / "esia-token-signing.pem"
        await asyncio.to_thread(token_keys.write_text, esia_certificate(esia))
        demo_settings = load_settings(
            **{
                **settings.model_dump(exclude={"bot_token", "security", "webhook_secret"}),
                "bot_token": token,
                "telegram_api_url": emulator.base_url,
                "database_url": database_url,
                "public_url": f"http://127.0.0.1:{web_port}",
                "updates": "polling",
                "redis_url": None,
                "web_port": web_port,
                "esia_url": esia.base_url,
                "esia": {
                    "key_path": FIXTURES / "esia-client.key",
                    "cert_path": FIXTURES / "esia-client.pem",
                    "token_keys": str(token_keys),
                    "issuer": esia.settings.issuer,
                },
                "frmr": {"url": register.base_url, "api_key": DEMO_REGISTER_KEY},
                "fhir_url": register.base_url,
                "documents": {"signing_url": signing.base_url, "fhir_api_key": DEMO_REGISTER_KEY},
                "polling_timeout": 10,
                "security": keys,
            }
        )
        crypto = build_crypto(demo_settings)
        async with build_runtime(demo_settings, token, crypto) as runtime:
            runtime.back_url = emulator.chat_url()
            async with UnitOfWork(runtime.session_maker) as uow:
                if await DemoSeedService(uow, crypto.cipher, crypto.index).seed():
                    logger.info("demo clinic created in %s", folder)

            def ready() -> None:
                url = emulator.chat_url()
                elapsed = time.perf_counter() - started
                print(f"medcab demo is ready in {elapsed:.1f} s — чат с ботом: {url}", flush=True)
                print(f"Gosuslugi (ESIA) emulator: {esia.base_url}, ФРМР emulator: {register.base_url}", flush=True)
                print("Stop with Ctrl+C. Остановить: Ctrl+C.", flush=True)
                if open_browser and _has_display():
                    webbrowser.open(url)

            await run_polling(runtime, ready=ready)
    finally:
        await signing.stop()
        await register.stop()
        await esia.stop()
        await emulator.stop()
        # Give the event loop a moment to close the emulator's connections before it stops.
        await asyncio.sleep(0)
