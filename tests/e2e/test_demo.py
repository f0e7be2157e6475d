"""``python -m bot demo`` as a newcomer runs it: ready quickly, the chat page answers, Ctrl+C stops it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"ready in (?P<seconds>[\d.]+) s .* (?P<url>http://127\.0\.0\.1:\d+/)")


async def start_demo(data_dir: Path) -> tuple[asyncio.subprocess.Process, str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDCAB_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "demo", "--no-browser", "--port", "0", "--data-dir", str(data_dir),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        seen.append(line)
        if match := READY.search(line):
            return process, match["url"], float(match["seconds"])
        if not line:
            break
    process.kill()
    raise AssertionError("demo did not become ready:\n" + "".join(seen))


async def stop_demo(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGINT)
    return await asyncio.wait_for(process.wait(), 20)


async def chat_with_bot(url: str, user_id: int) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as page:
            assert page.status == 200
            assert "text/html" in page.headers["Content-Type"]
        async with http.post(url + "_emulator/users", json={"id": user_id, "first_name": "Мария"}) as r:
            assert r.status in (200, 201)
        async with http.post(url + f"_emulator/chats/{user_id}/messages", json={"text": "/start"}) as r:
            assert r.status == 201
        version = 0
        for _ in range(20):
            async with http.get(url + f"_emulator/chats/{user_id}/messages", params={"after": version, "wait": 1}) as r:
                body = await r.json()
            result = body.get("result", body)
            for message in result["messages"]:
                if message.get("from_bot") and "Здравствуйте" in message.get("text", ""):
                    return str(message["text"])
            version = result.get("version", version)
    raise AssertionError("the bot did not greet")


async def sign_in_through_the_demo(url: str, user_id: int) -> str:
    """The «Войти через Госуслуги» button → the ESIA emulator's page → pick Иванов → our result page."""
    async with aiohttp.ClientSession() as http:
        login_url = None
        for _ in range(20):
            async with http.get(url + f"_emulator/chats/{user_id}/messages", params={"after": 0, "wait": 1}) as r:
                body = await r.json()
            for message in body.get("result", body)["messages"]:
                for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                    login_url = login_url or next((b["url"] for b in row if b.get("url")), None)
            if login_url:
                break
        assert login_url, "no sign-in button"
        async with http.get(login_url, allow_redirects=False) as start:
            assert start.status == 302
            authorize = start.headers["Location"]
        async with http.get(authorize) as page:
            signin_page = await page.text()
            assert page.status == 200, signin_page[:300]
        rid = re.search(r'name="rid" value="([^"]+)"', signin_page)
        action = re.search(r'<form method="post" action="([^"]+)"', signin_page)
        assert rid and action, signin_page[:500]
        esia_base = authorize.split("/aas/")[0]
        async with http.post(esia_base + action[1], data={"rid": rid[1], "persona": "ivanov"}) as result:
            return await result.text()


async def test_demo_starts_greets_and_stops(tmp_path: Path) -> None:
    process, url, seconds = await start_demo(tmp_path / "demo")
    try:
        greeting = await chat_with_bot(url, 4242)
        assert greeting.startswith("Здравствуйте, Мария!")
        result_page = await sign_in_through_the_demo(url, 4242)
        assert 'data-outcome="ok"' in result_page
    finally:
        code = await stop_demo(process)
    assert code == 0
    # Generous bound for a loaded CI machine; the ≤ 5 s target is measured and reported separately.
    assert seconds < 30

    with sqlite3.connect(tmp_path / "demo" / "medcab.db") as db:
        clinics = db.execute("SELECT name, timezone FROM clinics").fetchall()
        patients = db.execute("SELECT last_name FROM patients").fetchall()
    assert ("ГБУЗ «Городская поликлиника № 1» (демо)", "Europe/Moscow") in clinics
    assert {tz for _, tz in clinics} == {"Europe/Moscow", "Asia/Vladivostok"}
    assert len(patients) >= 4 and all("Петрова" not in row[0] for row in patients)  # encrypted at rest

    # A second start reuses the data (same keys), seeds nothing twice.
    process, url, _ = await start_demo(tmp_path / "demo")
    try:
        await chat_with_bot(url, 4343)
    finally:
        assert await stop_demo(process) == 0
    with sqlite3.connect(tmp_path / "demo" / "medcab.db") as db:
        assert db.execute("SELECT count(*) FROM clinics").fetchone() == (len(clinics),)
