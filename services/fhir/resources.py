"""MedicationRequest, ServiceRequest and Provenance for the signed documents.

The signed bytes are ``canonical_json(resource)``: whatever the clinic system receives is exactly
what was signed. Identifiers use the project's own URN systems until the regional ones are known.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

DOCUMENT_SYSTEM = "urn:medcab:document"
DRUG_SYSTEM = "urn:medcab:drug"
FORM_SYSTEM = "urn:medcab:prescription-form"
SIG_FORMAT = "application/x-gost3410-2012-256"
ROUTES = {
    "oral": ("26643006", "Oral route"),
    "sublingual": ("37839007", "Sublingual route"),
    "inhalation": ("18679011000001101", "Inhalation"),
    "topical": ("6064005", "Topical route"),
    "im": ("78421000", "Intramuscular route"),
    "iv": ("47625008", "Intravenous route"),
    "sc": ("34206005", "Subcutaneous route"),
}


def _number(value: str | int) -> int | float:
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def medication_request(
    *,
    document_id: int,
    version: int,
    previous_id: int | None,
    doctor_id: int,
    patient_id: int,
    draft: dict[str, Any],
    drug_title: str,
    prescription_form: str,
    authored: datetime,
    start: date,
) -> dict[str, Any]:
    days = int(draft["days"])
    route_code, route_display = ROUTES[str(draft["route"])]
    unit = str(draft["unit"])
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "identifier": [{"system": DOCUMENT_SYSTEM, "value": f"{document_id}-v{version}"}],
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": FORM_SYSTEM, "code": prescription_form}]}],
        "medicationCodeableConcept": {
            "coding": [{"system": DRUG_SYSTEM, "code": str(draft["drug"]), "display": drug_title}],
            "text": drug_title,
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": authored.isoformat(),
        "requester": {"reference": f"Practitioner/{doctor_id}"},
        "dosageInstruction": [
            {
                "text": f"{draft['dose']} {unit} × {draft['times_per_day']}/сут, {days} дн.",
                "timing": {
                    "repeat": {
                        "frequency": int(draft["times_per_day"]),
                        "period": 1,
                        "periodUnit": "d",
                        "boundsDuration": {"value": days, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"},
                    }
                },
                "route": {"coding": [{"system": "http://snomed.info/sct", "code": route_code, "display": route_display}]},
                "doseAndRate": [{"doseQuantity": {"value": _number(draft["dose"]), "unit": unit}}],
            }
        ],
        "dispenseRequest": {
            "validityPeriod": {
                "start": start.isoformat(),
                "end": (start + timedelta(days=int(draft["validity_days"]) - 1)).isoformat(),
            },
            "quantity": {"value": int(draft["quantity"]), "unit": unit},
            "expectedSupplyDuration": {"value": days, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"},
        },
    }
    if previous_id is not None:
        resource["priorPrescription"] = {"reference": f"MedicationRequest/{previous_id}"}
    return resource


def provenance(
    *, target: str, doctor_id: int, signed_at: datetime, signature_b64: str, target_format: str
) -> dict[str, Any]:
    """Who signed ``target`` and when, with the detached signature (FHIR requests have no signature element)."""
    who = {"reference": f"Practitioner/{doctor_id}"}
    return {
        "resourceType": "Provenance",
        "target": [{"reference": target}],
        "recorded": signed_at.isoformat(),
        "agent": [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "author"}
                    ]
                },
                "who": who,
            }
        ],
        "signature": [
            {
                "type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}],
                "when": signed_at.isoformat(),
                "who": who,
                "targetFormat": target_format,
                "sigFormat": SIG_FORMAT,
                "data": signature_b64,
            }
        ],
    }


def transaction_bundle(
    *, resource: dict[str, Any], resource_url: str, provenance_resource: dict[str, Any], provenance_url: str
) -> dict[str, Any]:
    """A transaction Bundle: the signed resource and its Provenance, created together or not at all.

    ``resource_url``/``provenance_url`` are ``urn:uuid:…`` full URLs (stable per document, so a retry
    sends the very same bytes); the Provenance's target names the resource by its full URL, which the
    server rewrites to the id it assigns.
    """
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": resource_url, "resource": resource,
             "request": {"method": "POST", "url": str(resource["resourceType"])}},
            {"fullUrl": provenance_url, "resource": provenance_resource,
             "request": {"method": "POST", "url": "Provenance"}},
        ],
    }


REFERRAL_KINDS = {
    # kind → (SNOMED category code, display)
    "lab": ("108252007", "Laboratory procedure"),
    "instrumental": ("363679005", "Imaging"),
    "consultation": ("11429006", "Consultation"),
    "hospitalisation": ("32485007", "Hospital admission"),
}
PRIORITIES = ("routine", "urgent", "asap")
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"


def service_request(
    *,
    document_id: int,
    version: int,
    previous_id: int | None,
    doctor_id: int,
    patient_id: int,
    draft: dict[str, Any],
    diagnosis_name: str,
    authored: datetime,
) -> dict[str, Any]:
    """Form 057/у as a FHIR ServiceRequest (category: the kind of referral; reason: МКБ-10)."""
    code, display = REFERRAL_KINDS[str(draft["kind"])]
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": DOCUMENT_SYSTEM, "value": f"{document_id}-v{version}"}],
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}]}],
        "priority": str(draft["priority"]),
        "code": {"text": str(draft["service"])},
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": authored.isoformat(),
        "requester": {"reference": f"Practitioner/{doctor_id}"},
        "performer": [{"display": str(draft["service"])}],
        "reasonCode": [
            {"coding": [{"system": ICD10_SYSTEM, "code": str(draft["diagnosis"]), "display": diagnosis_name}]}
        ],
        "note": [{"text": str(draft["justification"])}],
    }
    if previous_id is not None:
        resource["replaces"] = [{"reference": f"ServiceRequest/{previous_id}"}]
    return resource


def document_reference(
    *, document_id: int, version: int, previous_id: int | None, doctor_id: int, patient_id: int, title: str,
    code: str, created: datetime, content_sha1_b64: str, size: int,
) -> dict[str, Any]:
    """A signed PDF (certificate, conclusion, protocol) as a FHIR DocumentReference; the PDF itself
    travels as the attachment (``url`` to the stored binary) with its size and hash."""
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "identifier": [{"system": DOCUMENT_SYSTEM, "value": f"{document_id}-v{version}"}],
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [{"system": "urn:medcab:document-template", "code": code}], "text": title},
        "subject": {"reference": f"Patient/{patient_id}"},
        "date": created.isoformat(),
        "author": [{"reference": f"Practitioner/{doctor_id}"}],
        "description": title,
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "url": f"Binary/{document_id}",
                    "size": size,
                    "hash": content_sha1_b64,
                    "title": f"{title} № {document_id}",
                    "creation": created.isoformat(),
                }
            }
        ],
    }
    if previous_id is not None:
        resource["relatesTo"] = [{"code": "replaces", "target": {"reference": f"DocumentReference/{previous_id}"}}]
    return resource
