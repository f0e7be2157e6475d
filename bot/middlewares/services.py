"""Per-update services: built from the update's unit of work and the process's shared clients.

Construction does no I/O, so doing it for every update costs next to nothing, and handlers stay
free of wiring.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from services.announcements import AnnouncementService
from services.approvals import ApprovalService
from services.audit import AuditQueryService
from services.clinical_documents import ClinicalDocumentService
from services.identity.access import AccessService, SecurityPolicy
from services.identity.linking import LinkService
from services.identity.profile import ProfileService
from services.medical_documents import DocumentStatusService
from services.notification_settings import NotificationSettingsService
from services.patients import PatientLookupService
from services.prescriptions import PrescriptionService
from services.reachability import ReachabilityService
from services.referrals import ReferralService
from services.reminders import ReminderActions
from services.schedule.admin_requests import AdminRequestService
from services.schedule.calendar import CalendarService
from services.schedule.change_requests import ChangeRequestService
from services.schedule.patient_choice import PatientChoiceService
from services.schedule.service import ScheduleService
from services.schedule.shifts import ShiftService
from services.signing.documents import LocalKeySigner
from services.template_admin import TemplateAdminService
from services.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.identity import Identity
    from bot.keys import Crypto


class ServicesMiddleware(BaseMiddleware):
    def __init__(self, crypto: Crypto, identity: Identity | None, policy: SecurityPolicy) -> None:
        self._crypto = crypto
        self._identity = identity
        self._policy = policy

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        uow: UnitOfWork = data["uow"]
        cipher, index, identity = self._crypto.cipher, self._crypto.index, self._identity
        access = data["access"] = AccessService(uow, self._policy, cipher)
        data["notification_settings"] = NotificationSettingsService(uow, access)
        data["reminder_actions"] = ReminderActions(uow)
        data["announcements"] = AnnouncementService(uow, access)
        data["templates"] = TemplateAdminService(uow, access)
        data["audit_query"] = AuditQueryService(uow)
        data["reachability"] = ReachabilityService(uow, access)
        data["patient_picker"] = PatientChoiceService(uow, cipher, self._policy)
        data["patients"] = PatientLookupService(uow, cipher, index, self._policy)
        data["prescriptions"] = prescriptions = PrescriptionService(uow, cipher, index, data.get("document_signer") or LocalKeySigner(cipher), self._policy)
        data["approvals"] = ApprovalService(prescriptions)
        data["referrals"] = ReferralService(uow, cipher, index, prescriptions.core.signer, self._policy)
        data["document_status"] = DocumentStatusService(prescriptions.core)
        data["documents"] = ClinicalDocumentService(uow, cipher, index, prescriptions.core.signer, self._policy)
        data["schedule"] = ScheduleService(uow, cipher, index, self._policy)
        data["change_requests"] = ChangeRequestService(uow, cipher, self._policy)
        data["calendar"] = CalendarService(uow, cipher, self._policy)
        data["shifts"] = ShiftService(uow, cipher, self._policy)
        data["admin_requests"] = AdminRequestService(uow, cipher, self._policy)
        if identity is not None:
            data["link_service"] = LinkService(uow, identity.esia, identity.register, cipher, index, identity.link_policy)
            data["profiles"] = ProfileService(uow, cipher, identity.esia, identity.register)
            data["auth_links"] = identity.links
        else:
            data["link_service"] = None
            data["profiles"] = ProfileService(uow, cipher)
            data["auth_links"] = None
        return await handler(event, data)
