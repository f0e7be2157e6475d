"""Per-update services: built from the update's unit of work and the process's shared clients.

Construction does no I/O, so doing it for every update costs next to nothing, and handlers stay
free of wiring.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.types import TelegramObject

from services.announcements import AnnouncementService
from services.approvals import ApprovalService
from services.audit import AuditBuffer, AuditQueryService
from services.clinical_documents import ClinicalDocumentService
from services.identity.access import AccessService, SecurityPolicy
from services.identity.linking import LinkService
from services.identity.profile import ProfileService
from services.medical_documents import DocumentStatusService
from services.notification_settings import NotificationSettingsService
from services.patients import PatientLookupService
from services.prescriptions import PrescriptionService
from services.reachability import ReachabilityService
from services.read_cache import ReadCache
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
    from handlers.auth import AuthLinks


class _Services:
    """One update's services, each built on first use (most updates need one or two)."""

    def __init__(self, owner: ServicesMiddleware, uow: UnitOfWork, data: dict[str, Any]) -> None:
        self._owner = owner
        self._uow = uow
        self._data = data
        self.cipher = owner.crypto.cipher
        self.index = owner.crypto.index
        self.policy = owner.policy
        self.identity = owner.identity

    @cached_property
    def access(self) -> AccessService:
        return AccessService(self._uow, self.policy, self.cipher)

    @cached_property
    def notification_settings(self) -> NotificationSettingsService:
        return NotificationSettingsService(self._uow, self.access)

    @cached_property
    def reminder_actions(self) -> ReminderActions:
        return ReminderActions(self._uow)

    @cached_property
    def announcements(self) -> AnnouncementService:
        return AnnouncementService(self._uow, self.access)

    @cached_property
    def templates(self) -> TemplateAdminService:
        return TemplateAdminService(self._uow, self.access)

    @cached_property
    def audit_query(self) -> AuditQueryService:
        return AuditQueryService(self._uow)

    @cached_property
    def reachability(self) -> ReachabilityService:
        return ReachabilityService(self._uow, self.access)

    @cached_property
    def patient_picker(self) -> PatientChoiceService:
        return PatientChoiceService(self._uow, self.cipher, self.policy)

    @cached_property
    def patients(self) -> PatientLookupService:
        return PatientLookupService(self._uow, self.cipher, self.index, self.policy)

    @cached_property
    def prescriptions(self) -> PrescriptionService:
        signer = self._data.get("document_signer") or LocalKeySigner(self.cipher)
        return PrescriptionService(self._uow, self.cipher, self.index, signer, self.policy)

    @cached_property
    def approvals(self) -> ApprovalService:
        return ApprovalService(self.prescriptions)

    @cached_property
    def referrals(self) -> ReferralService:
        return ReferralService(self._uow, self.cipher, self.index, self.prescriptions.core.signer, self.policy)

    @cached_property
    def document_status(self) -> DocumentStatusService:
        return DocumentStatusService(self.prescriptions.core)

    @cached_property
    def documents(self) -> ClinicalDocumentService:
        return ClinicalDocumentService(self._uow, self.cipher, self.index, self.prescriptions.core.signer, self.policy)

    @cached_property
    def schedule(self) -> ScheduleService:
        owner = self._owner
        return ScheduleService(self._uow, self.cipher, self.index, self.policy, cache=owner.cache, audit=owner.audit)

    @cached_property
    def change_requests(self) -> ChangeRequestService:
        return ChangeRequestService(self._uow, self.cipher, self.policy)

    @cached_property
    def calendar(self) -> CalendarService:
        return CalendarService(self._uow, self.cipher, self.policy)

    @cached_property
    def shifts(self) -> ShiftService:
        return ShiftService(self._uow, self.cipher, self.policy)

    @cached_property
    def admin_requests(self) -> AdminRequestService:
        return AdminRequestService(self._uow, self.cipher, self.policy)

    @cached_property
    def link_service(self) -> LinkService | None:
        identity = self.identity
        if identity is None:
            return None
        return LinkService(self._uow, identity.esia, identity.register, self.cipher, self.index, identity.link_policy)

    @cached_property
    def profiles(self) -> ProfileService:
        identity = self.identity
        if identity is None:
            return ProfileService(self._uow, self.cipher)
        return ProfileService(self._uow, self.cipher, identity.esia, identity.register)

    @cached_property
    def auth_links(self) -> AuthLinks | None:
        return self.identity.links if self.identity is not None else None


# Every name a handler may ask for, with the service it gets.
SERVICE_NAMES = frozenset(name for name, value in vars(_Services).items() if isinstance(value, cached_property))


class ServicesMiddleware(BaseMiddleware):
    """Outer: the update's service set, and ``access`` for the filters that check roles.
    Inner (``handler_services``): the services the chosen handler names, built just then.

    An update passes many routers before its handler is found; keeping twenty services out of
    the data until then spares building them and copying them at every router.
    """

    def __init__(
        self,
        crypto: Crypto,
        identity: Identity | None,
        policy: SecurityPolicy,
        *,
        cache: ReadCache | None = None,
        audit: AuditBuffer | None = None,
    ) -> None:
        self.crypto = crypto
        self.identity = identity
        self.policy = policy
        self.cache = cache
        self.audit = audit
        self.handler_services = _HandlerServices()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        services = data["service_set"] = _Services(self, data["uow"], data)
        data["access"] = services.access
        return await handler(event, data)


class _HandlerServices(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        services: _Services | None = data.get("service_set")
        chosen: HandlerObject | None = data.get("handler")
        if services is not None:
            # A handler taking **data (the shared draft entry) may use any of them.
            names = SERVICE_NAMES if chosen is None or chosen.varkw else SERVICE_NAMES & chosen.params
            for name in names:
                data[name] = getattr(services, name)
        return await handler(event, data)
