"""Wiring of the documents feature: which signer the services get, and the delivery job."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiogram import Dispatcher
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from bot.settings import Settings
from services.clinic_exchange import ClinicExchange
from services.signing.documents import ServiceSigner

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger(__name__)


def install_document_signer(dispatcher: Dispatcher, settings: Settings, http: aiohttp.ClientSession) -> None:
    """With MEDCAB_DOCUMENTS__SIGNING_URL the signing service signs; otherwise each doctor's local key."""
    documents = settings.documents
    if documents.signing_url:
        key = documents.signing_api_key.get_secret_value() if documents.signing_api_key else ""
        dispatcher["document_signer"] = ServiceSigner(documents.signing_url, http, api_key=key)


def document_exchange_jobs(runtime: Runtime) -> dict[str, tuple[Callable[[], Awaitable[None]], Any]]:
    """The delivery tick to the clinic system, when MEDCAB_FHIR_URL is set."""
    settings = runtime.settings
    if not settings.fhir_url:
        return {}
    base_url = settings.fhir_url
    key = settings.documents.fhir_api_key.get_secret_value() if settings.documents.fhir_api_key else ""

    async def job() -> None:
        try:
            async with aiohttp.ClientSession() as http:
                report = await ClinicExchange(runtime.session_maker, runtime.crypto.cipher, http, base_url, key).tick()
            if report.sent or report.accepted or report.rejected or report.retried:
                logger.info("documents exchange: sent %d, accepted %d, rejected %d, retried %d",
                            report.sent, report.accepted, report.rejected, report.retried)
        except Exception:
            # Retried at the next firing; the outbox keeps what is due.
            logger.exception("documents exchange failed")

    return {"documents.exchange": (job, IntervalTrigger(seconds=settings.documents.exchange_seconds))}
