"""The ESIA accounts a tester can sign in as, one per situation the bot has to handle.

Identities (name, SNILS, birth date) come from `emulators.common.people`, shared with the ФРМР
emulator so the register lookup by SNILS finds (or deliberately misses) the same person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from emulators.common.people import PEOPLE, Person

LEVELS = ("PR", "P", "KD")  # confirmed; simplified/standard; child
SIGN_IN = ("allow", "decline", "blocked")


@dataclass
class Contact:
    id: int
    type: str  # EML, MBT, PHN
    value: str
    verified: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "stateFacts": ["Identifiable"],
            "id": self.id,
            "type": self.type,
            "vrfStu": "VERIFIED" if self.verified else "NOT_VERIFIED",
            "value": self.value,
        }


@dataclass
class IdDocument:
    id: int
    series: str
    number: str
    issue_date: str  # dd.mm.yyyy
    issue_id: str
    issued_by: str
    type: str = "RF_PASSPORT"
    verified: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "stateFacts": ["Identifiable"],
            "id": self.id,
            "type": self.type,
            "vrfStu": "VERIFIED" if self.verified else "NOT_VERIFIED",
            "series": self.series,
            "number": self.number,
            "issueDate": self.issue_date,
            "issueId": self.issue_id,
            "issuedBy": self.issued_by,
        }


@dataclass
class Address:
    id: int
    type: str  # PLV (residence), PRG (registration)
    address_str: str
    zip_code: str
    region: str = "Москва"

    def to_json(self) -> dict[str, Any]:
        return {
            "stateFacts": ["Identifiable"],
            "id": self.id,
            "type": self.type,
            "addressStr": self.address_str,
            "zipCode": self.zip_code,
            "region": self.region,
            "countryId": "RUS",
        }


@dataclass
class Persona:
    key: str
    oid: int
    last_name: str
    first_name: str
    middle_name: str | None
    snils: str | None
    birth_date: str
    gender: str
    level: str = "PR"
    status: str = "REGISTERED"  # or DELETED
    verifying: bool = False  # confirmation in progress
    sign_in: str = "allow"  # "decline": presses «Отказать»; "blocked": ESIA refuses the sign-in
    amr: str = "PWD"  # or DS (electronic signature)
    inn: str | None = None
    citizenship: str = "RUS"
    birth_place: str = "г. Москва"
    updated_on: int = 1764854668
    contacts: list[Contact] = field(default_factory=list)
    documents: list[IdDocument] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    note: str = ""  # what this persona is for

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}")
        if self.sign_in not in SIGN_IN:
            raise ValueError(f"sign_in must be one of {', '.join(SIGN_IN)}")
        if self.status not in ("REGISTERED", "DELETED"):
            raise ValueError("status must be REGISTERED or DELETED")

    @property
    def trusted(self) -> bool:
        """Confirmed account: `trusted: true` over REST, `is_tru` in the id_token."""
        return self.level == "PR"

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)

    @property
    def level_title(self) -> str:
        if self.level == "PR":
            return "Подтверждённая учётная запись"
        if self.level == "KD":
            return "Учётная запись ребёнка"
        return "Стандартная учётная запись" if self.snils else "Упрощённая учётная запись"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["trusted"] = self.trusted
        data["full_name"] = self.full_name
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Persona:
        fields = dict(data)
        fields.pop("trusted", None)
        fields.pop("full_name", None)
        fields["oid"] = int(fields["oid"])
        fields["contacts"] = [Contact(**c) for c in fields.get("contacts", [])]
        fields["documents"] = [IdDocument(**d) for d in fields.get("documents", [])]
        fields["addresses"] = [Address(**a) for a in fields.get("addresses", [])]
        return cls(**fields)


def _from_person(person: Person, oid: int, **account: Any) -> Persona:
    n = oid % 1000  # per-persona ids for contacts and documents, stable across runs
    latin = {"ivanov_namesake": "ivanov.s.a"}.get(person.key, person.key)
    contacts = [
        Contact(14216000 + 10 * n + 1, "EML", f"{latin}@example.ru"),
        Contact(14216000 + 10 * n + 2, "MBT", f"+7(900)000{n:04d}"),
    ]
    documents = [
        IdDocument(
            2081000 + n,
            f"45{n:02d}",
            f"{600000 + n * 137:06d}",
            "12.03.2015",
            "770-001",
            "ОВД района Хамовники г. Москвы",
        )
    ]
    addresses = [Address(3100000 + n, "PRG", f"г. Москва, ул. Тверская, д. {n}, кв. {n + 10}", "125009")]
    return Persona(
        key=person.key,
        oid=oid,
        last_name=person.last_name,
        first_name=person.first_name,
        middle_name=person.middle_name,
        snils=person.snils,
        birth_date=person.birth_date,
        gender=person.gender,
        inn=f"7701{n:08d}",
        contacts=contacts,
        documents=documents if person.snils else [],
        addresses=addresses,
        **account,
    )


def default_personas() -> list[Persona]:
    p = PEOPLE
    return [
        _from_person(p["ivanov"], 1000400001, note="Подтверждённый врач (терапевт), есть в ФРМР"),
        _from_person(p["petrova"], 1000400002, amr="DS", note="Второй подтверждённый врач (педиатр), вход по ЭП"),
        _from_person(p["sidorov"], 1000400003, level="P", note="Стандартная (неподтверждённая) учётная запись"),
        _from_person(p["kuznetsova"], 1000400004, level="P", note="Упрощённая учётная запись без СНИЛС"),
        _from_person(
            p["smirnov"], 1000400005, sign_in="blocked", note="Заблокированная учётная запись: вход отклоняется"
        ),
        _from_person(p["fedorov"], 1000400006, status="DELETED", note="Удалённая учётная запись (status DELETED)"),
        _from_person(p["orlova"], 1000400007, level="P", verifying=True, note="Учётная запись на проверке (verifying)"),
        _from_person(p["nikitina"], 1000400008, sign_in="decline", note="Отказывает в доступе к данным"),
        _from_person(p["ivanov_namesake"], 1000400009, note="Тёзка Иванова С. А.: другие oid и СНИЛС"),
        _from_person(p["morozov"], 1000400010, note="Подтверждённый, но не медицинский работник (нет в ФРМР)"),
        _from_person(p["volkova"], 1000400011, note="Администратор клиники (в ФРМР с должностью администратора)"),
        _from_person(p["kozlov"], 1000400012, note="Подтверждённый врач с истёкшей аккредитацией"),
    ]
