"""`python -m emulators.telegram` starts a server that answers like Telegram."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_standalone_server_answers_get_me() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulators.telegram",
        "--port",
        str(port),
        "--token",
        "555:standalone",
        "--bot-username",
        "standalone_bot",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 10)
        assert f"http://127.0.0.1:{port}" in first.decode()
        lines = [first.decode()]
        for _ in range(2):
            lines.append((await asyncio.wait_for(process.stdout.readline(), 5)).decode())
        assert any("Chat page:" in line for line in lines)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/bot555:standalone/getMe") as response:
                body = await response.json()
            async with http.get(f"http://127.0.0.1:{port}/") as page:
                assert page.status == 200 and "data-testid=\"composer\"" in await page.text()
        assert body["ok"] is True
        assert body["result"]["username"] == "standalone_bot" and body["result"]["is_bot"] is True
    finally:
        process.terminate()
        await asyncio.wait_for(process.communicate(), 10)
    assert process.returncode == 0
