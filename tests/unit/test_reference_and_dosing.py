"""The drug and МКБ-10 references (shipped files and official export formats), typo-tolerant search,
and reading doses, frequencies, durations and quantities as a doctor types them."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.dosing import DosingError, course_quantity, parse_days, parse_dose, parse_quantity, parse_times_per_day
from services.reference.drugs import default_drugs, load_drugs
from services.reference.icd10 import default_icd10, load_icd10


def test_drug_search_tolerates_typos_and_refuses_nonsense() -> None:
    drugs = default_drugs()
    assert {d.inn for d in drugs.search("амоксицилин")} == {"Амоксициллин", "Амоксициллин + Клавулановая кислота"}
    assert [d.title for d in drugs.search("метформн")] == ["Метформин, таблетки 1000 мг", "Метформин, таблетки 500 мг"]
    assert [d.inn for d in drugs.search("ЛОЗАРТАН")] == ["Лозартан"]
    assert drugs.search("ксилофон") == [] and drugs.search("ам") == []
    assert len(drugs.search("окс")) == 8  # too many to list: the conversation asks for more letters


def test_paper_only_forms_come_from_data() -> None:
    drugs = default_drugs()
    phenazepam = drugs.search("феназепам")[0]
    assert phenazepam.prescription_form == "148-1/у-88"
    assert drugs.form_of(phenazepam).electronic is False
    assert drugs.form_of(drugs.search("эналаприл")[0]).validity_days == (60, 180, 365)


def test_official_drug_export_in_windows_1251(tmp_path: Path) -> None:
    export = tmp_path / "esklp.csv"
    export.write_bytes(
        (
            "Код КЛП;МНН;Лекарственная форма;Дозировка;Код АТХ;Форма рецептурного бланка\n"
            "21.20.10.134-000001-1-00001;Бисопролол;таблетки, покрытые пленочной оболочкой;5 мг;C07AB07;\n"
            "21.20.10.134-000002-1-00001;Трамадол;капсулы;50 мг;N02AX02;148-1/у-88\n"
            ";без кода;;;;\n"
        ).encode("cp1251")
    )
    drugs = load_drugs([export])
    assert [(d.inn, d.unit, d.prescription_form) for d in drugs.drugs] == [
        ("Бисопролол", "таблетка", "107-1/у"),
        ("Трамадол", "капсула", "148-1/у-88"),
    ]
    assert drugs.search("бисопралол")[0].code == "21.20.10.134-000001-1-00001"


def test_icd10_codes_words_lookalikes_and_the_nsi_export(tmp_path: Path) -> None:
    icd = default_icd10()
    assert icd.get("j06.9") is not None and icd.get("Е11,9") is not None  # Cyrillic Е, a comma
    assert icd.get("X99.9") is None and icd.looks_like_code("X99.9")
    assert [d.code for d in icd.search("острый бронхит")] == ["J20.9"]
    export = tmp_path / "mkb.csv"
    export.write_text("ID;MKB_CODE;MKB_NAME;ACTUAL\n1;A00;Холера;1\n2;A00.0;Холера классическая;0\n", "utf-8")
    loaded = load_icd10([export])
    assert loaded.get("A00") is not None and loaded.get("A00.0") is None


@pytest.mark.parametrize(
    ("text", "amount"), [("2", "2"), ("две таблетки", "2"), ("2 таблетки", "2"), ("½", "0.5"), ("0,5", "0.5"),
                         ("1/2", "0.5"), ("полторы", "1.5")]
)
def test_dose_forms(text: str, amount: str) -> None:
    assert parse_dose(text, "таблетка").amount == amount


@pytest.mark.parametrize("text", ["0", "-1", "200", "много", "", "1/0"])
def test_bad_doses_are_refused(text: str) -> None:
    with pytest.raises(DosingError):
        parse_dose(text, "таблетка")


def test_frequency_duration_quantity() -> None:
    assert parse_times_per_day("три") == 3
    for bad in ("0", "1.5", "20"):
        with pytest.raises(DosingError):
            parse_times_per_day(bad)
    assert parse_days("2 недели", 365) == 14 and parse_days("месяц", 365) == 30 and parse_days("10 дней", 365) == 10
    for bad in ("0", "-3", "400", "2 года"):
        with pytest.raises(DosingError):
            parse_days(bad, 365)
    assert parse_quantity("30", 1000) == 30
    for bad in ("0", "-5", "5000", "2.5"):
        with pytest.raises(DosingError):
            parse_quantity(bad, 1000)
    from decimal import Decimal

    assert course_quantity(Decimal("0.5"), 3, 7) == 11
