"""Signing + verifying a prescription end to end, and a one-page certificate as PDF.

* ``sign_verify_ms``: render the FHIR MedicationRequest, sign it with the local per-doctor GOST key
  (key read and decrypted from the database), store it, read it back and verify it — the median of
  the runs, on SQLite. Baseline: the bare GOST sign + verify of the same bytes, no database.
* ``pdf_ms`` / ``pdf_kb``: a one-page справка with the embedded Cyrillic font. Baseline: the same
  page with fpdf2's built-in Latin-1 font (nothing embedded).

Targets (issue 6): sign_verify_ms ≤ 200, pdf_kb ≤ 100, pdf_ms ≤ 300. The last line is
``sign_verify_ms=… pdf_kb=… pdf_ms=…`` (with the baselines after them).

    .venv/bin/python -m bench.documents [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, date, datetime

from fpdf import FPDF

from services.identity.access import DoctorContext
from services.medical_documents import DoctorScope, verify_record
from services.pdf import PdfSection, render_pdf
from services.prescriptions import PrescriptionService
from services.signing.documents import LocalKeySigner
from services.signing.gost import PrivateKey
from services.uow import UnitOfWork
from storage.crypto import BlindIndex, FieldCipher, generate_key
from storage.db import create_engine, make_session_maker
from storage.migrate import upgrade
from storage.models import canonical_json
from storage.models.clinic_role import Role
from storage.repositories.clinics import ClinicRepository
from storage.repositories.doctors import DoctorRepository
from storage.repositories.patients import PatientData, PatientRepository

DRAFT = {"drug": "D001", "unit": "таблетка", "dose": "1", "times_per_day": 3, "days": 7, "route": "oral",
         "quantity": 21, "validity_days": 60, "consent": True}
CERTIFICATE_TEXT = (
    "Дана Петровой Анне Викторовне, 11.12.1971 г. р., в том, что она находилась на амбулаторном лечении "
    "в ГБУЗ «Городская поликлиника № 1» с 01.12.2026 по 10.12.2026 с диагнозом J06.9 «Острая инфекция "
    "верхних дыхательных путей неуточненная». Справка выдана для предъявления по месту требования."
)


async def sign_verify(runs: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade(url)
        engine = create_engine(url)
        cipher, index = FieldCipher({"k1": generate_key()}, "k1"), BlindIndex(generate_key())
        session_maker = make_session_maker(engine)
        async with UnitOfWork(session_maker) as uow:
            clinic = await ClinicRepository(uow.session).add("ГБУЗ «ГП № 1»", "ГП № 1", "Europe/Moscow")
            doctor = await DoctorRepository(uow.session).add(
                last_name="Иванов", first_name="Сергей", middle_name=None, specialty="Терапия", esia_oid="1"
            )
            patient = await PatientRepository(uow.session, cipher, index).add(
                clinic.id, PatientData("Петрова", "Анна", "Викторовна", date(1971, 12, 11))
            )
            await uow.commit()
        scope = DoctorScope(DoctorContext(1, doctor.id, frozenset({Role.DOCTOR}), True, True), [clinic.id])
        timings: list[float] = []
        for i in range(runs + 1):
            async with UnitOfWork(session_maker) as uow:
                service = PrescriptionService(uow, cipher, index, LocalKeySigner(cipher))
                record = await service.core.documents.add(
                    kind="prescription", doctor_id=doctor.id, clinic_id=clinic.id, patient_id=patient.id,
                    author="doctor", draft=DRAFT,
                )
                await uow.commit()
                assert record is not None
                started = time.perf_counter()
                await service.core.sign(scope, record, service.render_fhir, "bench")
                await uow.commit()
                stored = await service.core.documents.get(record.id)
                assert stored is not None and verify_record(stored).ok
                if i:  # the first run creates the doctor's key: not a steady-state figure
                    timings.append((time.perf_counter() - started) * 1000)
        await engine.dispose()
    key = PrivateKey.generate()
    public = key.public_key()
    data = canonical_json({"resourceType": "MedicationRequest", **DRAFT}).encode()
    bare: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        assert public.verify(data, key.sign(data))
        bare.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), statistics.median(bare)


def certificate() -> bytes:
    return render_pdf(
        "СПРАВКА № 1024",
        "ГБУЗ «Городская поликлиника № 1 Департамента здравоохранения города Москвы»",
        [PdfSection(None, [CERTIFICATE_TEXT]), PdfSection("Врач", ["Иванов Сергей Александрович, врач-терапевт"])],
        "Документ подписан электронной подписью врача. Проверка: python -m bot documents verify 1024",
        datetime(2026, 12, 10, tzinfo=UTC),
    )


def latin_page() -> bytes:
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(0, 6, "CERTIFICATE No 1024\n" + "Lorem ipsum dolor sit amet. " * 12)
    return bytes(pdf.output())


def pdf_figures(runs: int) -> tuple[float, float, float, float]:
    certificate()  # warm-up: font parsing is cached per process
    sizes, times, bare_times, bare_sizes = [], [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        sizes.append(len(certificate()))
        times.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        bare_sizes.append(len(latin_page()))
        bare_times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(sizes) / 1024, statistics.median(bare_times), max(bare_sizes) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    sign_ms, bare_sign_ms = asyncio.run(sign_verify(args.runs))
    pdf_ms, pdf_kb, bare_pdf_ms, bare_pdf_kb = pdf_figures(args.runs)
    print(f"sign + store + verify (local GOST key, SQLite): {sign_ms:.1f} ms median; bare GOST sign+verify {bare_sign_ms:.1f} ms")
    print(f"one-page certificate PDF (DejaVu embedded): {pdf_kb:.1f} KB in {pdf_ms:.1f} ms; "
          f"Latin-1 core-font page {bare_pdf_kb:.1f} KB in {bare_pdf_ms:.1f} ms")
    print(
        f"sign_verify_ms={sign_ms:.1f} pdf_kb={pdf_kb:.1f} pdf_ms={pdf_ms:.1f} "
        f"baseline_sign_verify_ms={bare_sign_ms:.1f} baseline_pdf_kb={bare_pdf_kb:.1f} baseline_pdf_ms={bare_pdf_ms:.1f}"
    )


if __name__ == "__main__":
    main()
