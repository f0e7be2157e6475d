"""ESIA's published token-signing keys: `/public/esia.pem` (the current RS256 certificate),
`/public/esia-gost.pem` (the current GOST public key) and `/public/esia.zip` (both, as the real
portal ships its certificates)."""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING

from aiohttp import web

from .signing_keys import GOST, RS256

if TYPE_CHECKING:
    from .server import EsiaEmulator


class PublicKeys:
    def __init__(self, emulator: EsiaEmulator) -> None:
        self.emu = emulator

    def rsa_certificate(self) -> str:
        return self.emu.keys.signing_key(RS256).certificate_pem() or ""

    def gost_key(self) -> str:
        return self.emu.keys.signing_key(GOST).public_pem()

    async def pem(self, request: web.Request) -> web.Response:
        return web.Response(text=self.rsa_certificate(), content_type="application/x-pem-file")

    async def gost_pem(self, request: web.Request) -> web.Response:
        return web.Response(text=self.gost_key(), content_type="application/x-pem-file")

    async def archive(self, request: web.Request) -> web.Response:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("esia.pem", self.rsa_certificate())
            archive.writestr("esia-gost.pem", self.gost_key())
        return web.Response(body=buffer.getvalue(), content_type="application/zip")
