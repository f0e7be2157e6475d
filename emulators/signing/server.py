"""The signing service emulator.

``POST /api/v1/sign`` ``{"subject": "doctor-7", "data": "<base64>"}`` → ``{"signature": "<base64 s‖r>",
"public_key": "<PEM SubjectPublicKeyInfo>", "key_id": "…"}``. A subject's key is made on first use
and kept for the emulator's life (a real service holds the doctor's qualified key). Faults come
from the shared fault plan (endpoint ``sign``); an API key is checked when one is configured.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import ClassVar

from aiohttp import web

from emulators.common.server import EmulatorServer, JsonObject
from emulators.esia.gost import GostPrivateKey, streebog256

MAX_DATA = 8 * 1024 * 1024


class SigningEmulator(EmulatorServer):
    service: ClassVar[str] = "signing"
    endpoints: ClassVar[tuple[str, ...]] = ("sign",)

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.keys: dict[str, GostPrivateKey] = {}
        self.signed = 0

    def reset(self) -> None:
        super().reset()
        self.keys.clear()
        self.signed = 0

    def public_routes(self) -> list[web.RouteDef]:
        return [web.post("/api/v1/sign", self._sign, name="sign")]

    def health(self) -> JsonObject:
        return {**super().health(), "subjects": len(self.keys), "signed": self.signed}

    @staticmethod
    def _error(status: int, code: str, message: str) -> web.Response:
        return web.json_response({"error": code, "message": message}, status=status)

    async def _sign(self, request: web.Request) -> web.Response:
        if self.api_key is not None and request.headers.get("X-API-Key") != self.api_key:
            return self._error(401, "unauthorized", "API key missing or wrong")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return self._error(400, "invalid_request", "JSON body expected")
        if not isinstance(body, dict):
            return self._error(400, "invalid_request", "JSON object expected")
        subject, data_b64 = body.get("subject"), body.get("data")
        if not isinstance(subject, str) or not subject or len(subject) > 100:
            return self._error(400, "invalid_request", "subject is required")
        if not isinstance(data_b64, str):
            return self._error(400, "invalid_request", "data (base64) is required")
        try:
            data = base64.b64decode(data_b64, validate=True)
        except (binascii.Error, ValueError):
            return self._error(400, "invalid_request", "data is not base64")
        if len(data) > MAX_DATA:
            return self._error(413, "too_large", "document too large")
        key = self.keys.get(subject)
        if key is None:
            key = self.keys[subject] = GostPrivateKey.generate()
        public = key.public_key()
        self.signed += 1
        return web.json_response(
            {
                "signature": base64.b64encode(key.sign(data)).decode("ascii"),
                "public_key": public.pem(),
                "key_id": streebog256(public.spki_der()).hex()[:16],
            }
        )
