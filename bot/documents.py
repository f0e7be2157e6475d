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

    async def requests_job() -> None:
        try:
            async with aiohttp.ClientSession() as http:
                report = await ClinicRequestSync(runtime.session_maker, runtime.crypto.cipher, http, base_url, key).tick()
            if report.imported or report.refused or report.answered or report.expired:
                logger.info("clinic requests: imported %d, refused %d, answered %d, expired %d",
                            report.imported, report.refused, report.answered, report.expired)
            for error in report.errors:
                logger.warning("clinic requests: %s", error)
        except Exception:
            # Retried at the next firing: unread Tasks stay requested, unanswered decisions stay due.
            logger.exception("clinic requests sync failed")

    seconds = settings.documents.exchange_seconds
    return {
        "documents.exchange": (job, IntervalTrigger(seconds=seconds)),
        "schedule.clinic_requests": (requests_job, IntervalTrigger(seconds=seconds)),
    }
