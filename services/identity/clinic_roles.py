"""Clinic roles follow the register: a position in an organisation that is one of our clinics
(matched by the organisation's OID) is a role in that clinic, and a position that is gone takes
the role with it.

Only clinics that carry an OID are the register's to manage; roles in a clinic without one were
granted by hand and are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.audit import AuditService
from services.uow import UnitOfWork
from storage.models.clinic_role import Role
from storage.repositories.clinic_roles import ClinicRoleRepository
from storage.repositories.clinics import ClinicRepository
from storage.repositories.doctor_profiles import DoctorProfileRepository
from storage.repositories.notification_preferences import NotificationPreferencesRepository

REGISTER_ACTOR = "system"


@dataclass(frozen=True)
class RoleChanges:
    granted: tuple[tuple[int, Role], ...] = ()  # (clinic id, role)
    revoked: tuple[tuple[int, Role], ...] = ()


async def sync_clinic_roles(uow: UnitOfWork, doctor_id: int) -> RoleChanges:
    """Make the doctor's roles in OID-carrying clinics match the stored register positions
    (call it right after ``replace_positions``). Each change is audited; nothing is committed."""
    session = uow.session
    clinics = ClinicRepository(session)
    roles = ClinicRoleRepository(session)
    positions = await DoctorProfileRepository(session).positions(doctor_id)
    by_oid = {
        c.organization_oid: c.id for c in await clinics.by_organization_oids({p.organization_oid for p in positions})
    }
    wanted = {(by_oid[p.organization_oid], Role(p.role)) for p in positions if p.organization_oid in by_oid}

    current = await roles.roles_of(doctor_id)
    managed = {c.id for c in await clinics.by_ids({r.clinic_id for r in current}) if c.organization_oid is not None}
    held = {(r.clinic_id, Role(r.role)) for r in current}
    granted = tuple(sorted(wanted - held))
    revoked = tuple(sorted(grant for grant in held - wanted if grant[0] in managed))

    audit = AuditService(uow)
    for clinic_id, role in granted:
        await roles.grant(doctor_id, clinic_id, role)
        await audit.record(
            REGISTER_ACTOR, "clinic_role_granted", "doctor", doctor_id, clinic=clinic_id, role=role.value, source="frmr"
        )
    for clinic_id, role in revoked:
        await roles.revoke(doctor_id, clinic_id, role)
        await audit.record(
            REGISTER_ACTOR, "clinic_role_revoked", "doctor", doctor_id, clinic=clinic_id, role=role.value, source="frmr"
        )
    await _default_time_zone(uow, doctor_id, sorted(wanted))
    return RoleChanges(granted, revoked)


async def _default_time_zone(uow: UnitOfWork, doctor_id: int, wanted: list[tuple[int, Role]]) -> None:
    """A doctor who never chose notification settings gets their (first) clinic's time zone, so
    quiet hours and the morning brief follow local time in Vladivostok as in Kaliningrad."""
    preferences = NotificationPreferencesRepository(uow.session)
    if not wanted or await preferences.get(doctor_id) is not None:
        return
    clinic = await ClinicRepository(uow.session).get(wanted[0][0])
    if clinic is not None:
        await preferences.update(doctor_id, timezone=clinic.timezone)
