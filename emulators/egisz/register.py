"""ФРМР, the Federal Register of Medical Workers: who works where, in which position, with which
accreditation. ESIA proves identity only; profession comes from here, looked up by SNILS.

The default entries are the ESIA personas' people (same names and SNILS, from
`emulators.common.people`):

* present: ivanov (an expired certificate superseded by accreditation), petrova (two positions,
  a certificate in a second specialty expiring 2027-01-31), sidorov, smirnov, fedorov, orlova, nikitina, volkova
  (role "admin"), kozlov (accreditation expired), and the namesake of ivanov, who has an entry of
  their own (a surgeon at another clinic) so that a lookup by name instead of SNILS visibly picks
  the wrong person;
* absent: morozov (confirmed in ESIA but not a medical worker) and kuznetsova (no SNILS).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from emulators.common import snils
from emulators.common.people import PEOPLE, Person

# Dataclass field names are the register's JSON member names (camelCase), so `asdict` is the reply.
ROLES = ("doctor", "admin")
ACCREDITATION_KINDS = ("primary", "primary_specialized", "periodic")
_ID_NAMESPACE = uuid.UUID("6f1f6c0e-3b7e-4c2a-9a57-0d6c1e7a5b10")


@dataclass(frozen=True)
class Organization:
    oid: str
    name: str
    ogrn: str


@dataclass
class Position:
    organization: Organization
    position: str
    specialty: str
    role: str = "doctor"
    startDate: str = "2015-09-01"

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")


@dataclass
class Accreditation:
    kind: str
    specialty: str
    validUntil: str  # YYYY-MM-DD
    number: str

    def __post_init__(self) -> None:
        if self.kind not in ACCREDITATION_KINDS:
            raise ValueError(f"kind must be one of {', '.join(ACCREDITATION_KINDS)}")


@dataclass
class Certificate:
    number: str
    specialty: str
    issueDate: str
    validUntil: str


@dataclass
class RegisterPerson:
    id: str
    lastName: str
    firstName: str
    middleName: str | None
    snils: str  # XXX-XXX-XXX YY
    birthDate: str  # YYYY-MM-DD
    positions: list[Position] = field(default_factory=list)
    accreditation: Accreditation | None = None
    certificates: list[Certificate] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.snils = snils.formatted(self.snils)  # validates the check number too

    @property
    def snils_digits(self) -> str:
        return snils.normalize(self.snils)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegisterPerson:
        fields = dict(data)
        fields.setdefault("id", str(uuid.uuid5(_ID_NAMESPACE, snils.normalize(str(fields["snils"])))))
        fields.setdefault("middleName", None)
        fields.setdefault("birthDate", "1980-01-01")
        fields["positions"] = [
            Position(**{**p, "organization": Organization(**p["organization"])}) for p in fields.get("positions", [])
        ]
        accreditation = fields.get("accreditation")
        fields["accreditation"] = Accreditation(**accreditation) if accreditation else None
        fields["certificates"] = [Certificate(**c) for c in fields.get("certificates", [])]
        return cls(**fields)


POLYCLINIC_1 = Organization("1.2.643.5.1.13.13.12.2.77.7801", "ГБУЗ «Городская поликлиника № 1 ДЗМ»", "1027700001119")
CHILDREN_2 = Organization(
    "1.2.643.5.1.13.13.12.2.77.7802", "ГБУЗ «Детская городская поликлиника № 2 ДЗМ»", "1027700002220"
)
HOSPITAL_5 = Organization(
    "1.2.643.5.1.13.13.12.2.77.7803", "ГБУЗ «Городская клиническая больница № 5 ДЗМ»", "1027700003330"
)


def _entry(
    person: Person,
    positions: list[Position],
    accreditation: Accreditation | None,
    certificates: list[Certificate] | None = None,
) -> RegisterPerson:
    assert person.snils is not None
    day, month, year = person.birth_date.split(".")
    return RegisterPerson(
        id=str(uuid.uuid5(_ID_NAMESPACE, person.key)),
        lastName=person.last_name,
        firstName=person.first_name,
        middleName=person.middle_name,
        snils=person.snils,
        birthDate=f"{year}-{month}-{day}",
        positions=positions,
        accreditation=accreditation,
        certificates=certificates or [],
    )


def default_register() -> list[RegisterPerson]:
    p = PEOPLE
    return [
        _entry(
            p["ivanov"],
            [Position(POLYCLINIC_1, "врач-терапевт участковый", "Терапия", "doctor", "2012-09-01")],
            Accreditation("periodic", "Терапия", "2029-03-31", "7724 031000101"),
            [Certificate("0177180012345", "Терапия", "2019-03-29", "2024-03-29")],
        ),
        _entry(
            p["petrova"],
            [
                Position(CHILDREN_2, "врач-педиатр участковый", "Педиатрия", "doctor", "2016-08-15"),
                Position(POLYCLINIC_1, "врач-педиатр", "Педиатрия", "doctor", "2021-02-01"),
            ],
            Accreditation("primary", "Педиатрия", "2028-07-15", "7723 071000202"),
            # A certificate in a second specialty, not superseded by her accreditation: the demo's
            # expiring-certificate reminder.
            [Certificate("0177270054321", "Неонатология", "2022-01-31", "2027-01-31")],
        ),
        _entry(
            p["sidorov"],
            [Position(HOSPITAL_5, "врач-хирург", "Хирургия", "doctor", "2018-10-01")],
            Accreditation("primary_specialized", "Хирургия", "2027-12-01", "7722 121000303"),
        ),
        _entry(
            p["smirnov"],
            [Position(HOSPITAL_5, "врач-невролог", "Неврология", "doctor", "2005-04-11")],
            Accreditation("periodic", "Неврология", "2028-04-30", "7723 041000505"),
        ),
        _entry(
            p["fedorov"],
            [Position(POLYCLINIC_1, "врач-офтальмолог", "Офтальмология", "doctor", "1998-03-02")],
            Accreditation("periodic", "Офтальмология", "2027-05-31", "7722 051000606"),
        ),
        _entry(
            p["orlova"],
            [Position(HOSPITAL_5, "врач-кардиолог", "Кардиология", "doctor", "2019-09-01")],
            Accreditation("primary_specialized", "Кардиология", "2028-09-30", "7723 091000707"),
        ),
        _entry(
            p["nikitina"],
            [Position(POLYCLINIC_1, "врач общей практики (семейный врач)", "Общая врачебная практика", "doctor")],
            Accreditation("periodic", "Общая врачебная практика", "2029-11-30", "7724 111000808"),
        ),
        _entry(
            p["ivanov_namesake"],
            [Position(HOSPITAL_5, "врач-хирург", "Хирургия", "doctor", "2001-06-18")],
            Accreditation("periodic", "Хирургия", "2027-02-28", "7722 021000909"),
        ),
        _entry(
            p["volkova"],
            [
                Position(
                    POLYCLINIC_1,
                    "заместитель главного врача по медицинской части",
                    "Организация здравоохранения и общественное здоровье",
                    "admin",
                    "2017-01-09",
                )
            ],
            Accreditation(
                "periodic", "Организация здравоохранения и общественное здоровье", "2028-12-31", "7723 121001111"
            ),
        ),
        _entry(
            p["kozlov"],
            [Position(CHILDREN_2, "врач-оториноларинголог", "Оториноларингология", "doctor", "2003-11-03")],
            Accreditation("periodic", "Оториноларингология", "2025-06-30", "7720 061001212"),  # expired
        ),
    ]
