"""The schedule as FHIR R4 resources (plain JSON-ready dicts), for the clinic-system adapter.

``Schedule`` is one per doctor and clinic (the doctor's PractitionerRole there), ``Slot``s are
derived from published shifts, ``Appointment`` carries the status, the participants by reference
only (no patient name leaves through here) and the version as ``meta.versionId``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.schedule.slots import Slot
from storage.models import Appointment
from storage.models.appointment import ARRIVED, BOOKED, CANCELLED_APPOINTMENT, FULFILLED, NOSHOW

APPOINTMENT_STATUS = {
    BOOKED: "booked",
    ARRIVED: "arrived",
    FULFILLED: "fulfilled",
    NOSHOW: "noshow",
    CANCELLED_APPOINTMENT: "cancelled",
}


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def schedule_id(doctor_id: int, clinic_id: int) -> str:
    return f"doctor-{doctor_id}-clinic-{clinic_id}"


def schedule_resource(
    doctor_id: int, clinic_id: int, clinic_name: str, horizon: tuple[datetime, datetime] | None = None
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": schedule_id(doctor_id, clinic_id),
        "active": True,
        "actor": [
            {"reference": f"Practitioner/{doctor_id}"},
            {"reference": f"Location/{clinic_id}", "display": clinic_name},
        ],
    }
    if horizon is not None:
        resource["planningHorizon"] = {"start": _instant(horizon[0]), "end": _instant(horizon[1])}
    return resource


def slot_resource(doctor_id: int, slot: Slot, *, busy: bool = False) -> dict[str, Any]:
    return {
        "resourceType": "Slot",
        "id": f"shift-{slot.shift_id}-{int(slot.starts_at.timestamp())}",
        "schedule": {"reference": f"Schedule/{schedule_id(doctor_id, slot.clinic_id)}"},
        "status": "busy" if busy else "free",
        "start": _instant(slot.starts_at),
        "end": _instant(slot.ends_at),
    }


def appointment_resource(appointment: Appointment) -> dict[str, Any]:
    participant_status = "declined" if appointment.status == CANCELLED_APPOINTMENT else "accepted"
    return {
        "resourceType": "Appointment",
        "id": str(appointment.id),
        "meta": {"versionId": str(appointment.version)},
        "status": APPOINTMENT_STATUS[appointment.status],
        "start": _instant(appointment.starts_at),
        "end": _instant(appointment.ends_at),
        "minutesDuration": int((appointment.ends_at - appointment.starts_at).total_seconds() // 60),
        "participant": [
            {"actor": {"reference": f"Patient/{appointment.patient_id}"}, "status": participant_status},
            {"actor": {"reference": f"Practitioner/{appointment.doctor_id}"}, "status": "accepted"},
            {"actor": {"reference": f"Location/{appointment.clinic_id}"}, "status": "accepted"},
        ],
    }
