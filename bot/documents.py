"""Wiring of the clinic system's exchange: which signer the document services get, the documents'
delivery job, and the job that reads the registry's and patients' change requests (and answers them)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiogram import Dispatcher
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from bot.settings import Settings
from services.clinic_exchange import ClinicExchange
from services.schedule.clinic_requests import ClinicRequestSync
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

    def job(name: str, tick: Callable[[aiohttp.ClientSession], Awaitable[dict[str, int]]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            try:
                async with aiohttp.ClientSession() as http:
                    counts = await tick(http)
                if any(counts.values()):
                    logger.info("%s: %s", name, ", ".join(f"{key} {value}" for key, value in counts.items()))
            except Exception:
                # Retried at the next firing: the documents' outbox keeps what is due, unread Tasks
                # stay requested, unanswered decisions stay due.
                logger.exception("%s failed", name)

        return run

    async def documents(http: aiohttp.ClientSession) -> dict[str, int]:
        report = await ClinicExchange(runtime.session_maker, runtime.crypto.cipher, http, base_url, key).tick()
        return {"sent": report.sent, "accepted": report.accepted, "rejected": report.rejected, "retried": report.retried}

    async def requests(http: aiohttp.ClientSession) -> dict[str, int]:
        report = await ClinicRequestSync(runtime.session_maker, runtime.crypto.cipher, http, base_url, key).tick()
        for error in report.errors:
            logger.warning("clinic requests: %s", error)
        return {"imported": report.imported, "refused": report.refused, "answered": report.answered, "expired": report.expired}

    seconds = settings.documents.exchange_seconds
    return {
        "documents.exchange": (job("documents exchange", documents), IntervalTrigger(seconds=seconds)),
        "schedule.clinic_requests": (job("clinic requests", requests), IntervalTrigger(seconds=seconds)),
    }
