"""Webhook delivery.

While a bot has a webhook, its pending updates are POSTed to it one at a time, in order, with the
`X-Telegram-Bot-Api-Secret-Token` header when a secret is set. A non-2xx answer or a connection
error keeps the update pending and retries it with exponential backoff, as Telegram does; the last
error shows in getWebhookInfo. A 2xx answer whose body is a Bot API call (JSON with "method", or
aiogram's multipart reply) is executed as if the bot had made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from .notifier import Closed
from .params import Upload, decode_json_fields, read_multipart
from .settings import Settings
from .store import BotAccount, DeliveryRecord, PendingUpdate, Store, WebhookConfig

ApplyReply = Callable[[BotAccount, str, dict[str, Any], dict[str, Upload]], Awaitable[None]]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


class WebhookDeliverer:
    def __init__(self, store: Store, settings: Settings, apply_reply: ApplyReply) -> None:
        self.store = store
        self.settings = settings
        self.apply_reply = apply_reply
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._closing = False

    def webhook_changed(self, bot: BotAccount) -> None:
        """Start the delivery loop when a webhook appears; it ends by itself when it goes."""
        if bot.webhook is None or self._closing:
            return
        task = self._tasks.get(bot.token)
        if task is None or task.done():
            self._tasks[bot.token] = asyncio.get_running_loop().create_task(
                self._run(bot), name=f"telegram-emulator-webhook-{bot.username}"
            )

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def reopen(self) -> None:
        self._closing = False

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _run(self, bot: BotAccount) -> None:
        store = self.store
        backoff = self.settings.webhook_retry_initial
        try:
            while True:
                ready = await store.notifier.wait_for(
                    lambda: bot.webhook is None or bool(store.pending(bot)), timeout=60.0
                )
                hook = bot.webhook
                if hook is None:
                    return
                if not ready:
                    continue
                if await self._deliver(bot, hook, store.pending(bot)[0]):
                    backoff = self.settings.webhook_retry_initial
                else:
                    await store.notifier.sleep(backoff)
                    backoff = min(backoff * 2, self.settings.webhook_retry_max)
        except Closed:
            return

    async def _deliver(self, bot: BotAccount, hook: WebhookConfig, update: PendingUpdate) -> bool:
        loop = asyncio.get_running_loop()
        started = loop.time()
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers[SECRET_HEADER] = hook.secret_token
        status: int | None = None
        error: str | None = None
        reply: tuple[str, dict[str, Any], dict[str, Upload]] | None = None
        try:
            async with self._client().post(
                hook.url,
                data=json.dumps(update.payload),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.settings.webhook_timeout),
            ) as response:
                status = response.status
                if 200 <= status < 300:
                    reply = await _read_reply(response)
                else:
                    error = f"Wrong response from the webhook: {status} {response.reason or ''}".strip()
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except (aiohttp.ClientError, ValueError) as failure:
            error = f"Connection error: {type(failure).__name__}"
        record = DeliveryRecord(
            time=self.store.clock.time(),
            update_id=update.update_id,
            url=hook.url,
            status=status,
            error=error,
            duration=loop.time() - started,
            reply_method=reply[0] if reply else None,
        )
        bot.deliveries.append(record)
        if error is not None:
            bot.last_error_date = self.store.clock.now()
            bot.last_error_message = error
            self.store.bump()
            return False
        pending = self.store.pending(bot)
        if pending and pending[0] is update:
            pending.popleft()
        self.store.bump()
        if reply is not None:
            await self.apply_reply(bot, *reply)
        return True


async def _read_reply(response: aiohttp.ClientResponse) -> tuple[str, dict[str, Any], dict[str, Upload]] | None:
    """The Bot API call a webhook answered with, if any."""
    if response.content_type == "multipart/form-data":
        values, uploads = await read_multipart(aiohttp.MultipartReader(response.headers, response.content))
    elif response.content_type == "application/json":
        body = await response.json()
        if not isinstance(body, dict):
            return None
        values, uploads = dict(body), {}
    else:
        return None
    method = values.pop("method", None)
    if not isinstance(method, str) or not method:
        return None
    return method, decode_json_fields(values), uploads
