"""Run the emulator standalone: `python -m emulators.telegram --port 8081`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from .server import DEFAULT_FIRST_NAME, DEFAULT_TOKEN, DEFAULT_USERNAME, TelegramEmulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m emulators.telegram", description="Local Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--bot-username", default=DEFAULT_USERNAME)
    parser.add_argument("--bot-name", default=DEFAULT_FIRST_NAME)
    parser.add_argument("--global-per-second", type=float, default=None, help="flood limit over all chats")
    parser.add_argument("--per-chat-per-second", type=float, default=None, help="flood limit per chat")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    emulator = TelegramEmulator(args.token, args.bot_username, args.bot_name)
    emulator.set_limits(global_per_second=args.global_per_second, per_chat_per_second=args.per_chat_per_second)
    await emulator.start(args.host, args.port)
    print(f"Telegram Bot API emulator: {emulator.base_url}", flush=True)
    print(f"Bot token: {emulator.token}", flush=True)
    print(f"Chat page: {emulator.chat_url()}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
