"""`python -m emulators.<name> --port N [--host H]`: run one emulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Sequence

from .server import EmulatorServer


def parse_args(description: str, argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    return parser.parse_args(argv)


async def serve(emulator: EmulatorServer, host: str, port: int) -> None:
    url = await emulator.start(port=port, host=host)
    # The first line of output is the URL, so a parent process can wait for it.
    print(f"{emulator.service} emulator listening on {url}", flush=True)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    try:
        await done.wait()
    finally:
        await emulator.stop()


def main(factory: Callable[[], EmulatorServer], description: str, argv: Sequence[str] | None = None) -> int:
    args = parse_args(description, argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(factory(), args.host, args.port))
    sys.stdout.flush()
    return 0
