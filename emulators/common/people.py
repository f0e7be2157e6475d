"""The people both emulators know, so an ESIA persona and its ФРМР entry agree on name and SNILS.

Each emulator adds its own side (ESIA: account level, status, oid; ФРМР: positions,
accreditation) keyed by `key`. SNILS numbers are made up but carry correct check numbers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    key: str
    last_name: str
    first_name: str
    middle_name: str | None
    snils: str | None  # "XXX-XXX-XXX YY"; None for an account that never gave one
    birth_date: str  # dd.mm.yyyy, as ESIA spells it
    gender: str  # "M" / "F"


PEOPLE: dict[str, Person] = {
    p.key: p
    for p in (
        Person("ivanov", "Иванов", "Сергей", "Александрович", "112-233-445 95", "26.05.1980", "M"),
        Person("petrova", "Петрова", "Анна", "Викторовна", "128-395-601 82", "14.02.1987", "F"),
        Person("sidorov", "Сидоров", "Павел", "Игоревич", "134-570-209 40", "03.09.1991", "M"),
        Person("kuznetsova", "Кузнецова", "Мария", "Олеговна", None, "11.11.1995", "F"),
        Person("smirnov", "Смирнов", "Олег", "Викторович", "146-802-573 70", "19.04.1978", "M"),
        Person("fedorov", "Фёдоров", "Игорь", "Николаевич", "151-617-181 44", "07.12.1969", "M"),
        Person("orlova", "Орлова", "Татьяна", "Сергеевна", "163-049-275 58", "30.06.1990", "F"),
        Person("nikitina", "Никитина", "Ольга", "Павловна", "175-239-048 78", "22.08.1985", "F"),
        # Same full name as "ivanov": a client that matches people by name instead of oid/SNILS
        # picks the wrong one.
        Person("ivanov_namesake", "Иванов", "Сергей", "Александрович", "182-736-459 98", "02.07.1974", "M"),
        Person("morozov", "Морозов", "Дмитрий", "Олегович", "190-847-362 99", "15.01.1983", "M"),
        Person("volkova", "Волкова", "Елена", "Николаевна", "203-948-571 74", "09.10.1976", "F"),
        Person("kozlov", "Козлов", "Андрей", "Петрович", "214-365-870 59", "28.03.1972", "M"),
    )
}
