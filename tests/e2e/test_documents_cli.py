"""``python -m bot documents verify ID``: exit 0 for an untouched signed document, 1 after any change."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from services.signing.documents import LocalKeySigner, sha256_hex
from storage.crypto import FieldCipher, parse_keys
from storage.db import create_engine, make_session_maker
from storage.repositories.clinics import ClinicRepository
from storage.repositories.doctors import DoctorRepository
from storage.repositories.medical_documents import MedicalDocumentRepository, SignedContent
from tests.e2e.test_cli import keys, run_bot

CONTENT = b'{"resourceType":"MedicationRequest","status":"active","subject":{"reference":"Patient/1"}}'


async def signed_document(url: str, cipher: FieldCipher) -> int:
    engine = create_engine(url)
    async with make_session_maker(engine)() as session:
        clinic = await ClinicRepository(session).add("ГБУЗ «Поликлиника № 1»", "Поликлиника № 1", "Europe/Moscow")
        doctor = await DoctorRepository(session).add(
            last_name="Иванов", first_name="Сергей", middle_name=None, specialty="Терапия", esia_oid="1"
        )
        repo = MedicalDocumentRepository(session, cipher)
        record = await repo.add(
            kind="prescription", doctor_id=doctor.id, clinic_id=clinic.id, patient_id=None, author="doctor", draft={}
        )
        assert record is not None
        signature = await LocalKeySigner(cipher).sign(session, doctor.id, CONTENT)
        await repo.mark_signed(
            record.id,
            SignedContent(CONTENT, "application/fhir+json", sha256_hex(CONTENT), signature.value_b64, "local",
                          signature.public_key, datetime.now(UTC)),
            "signed",
        )
        await session.commit()
    await engine.dispose()
    return record.id


def test_verify_detects_a_change_after_signing(tmp_path: Path) -> None:
    env = keys()
    cipher = FieldCipher(parse_keys(env["MEDCAB_SECURITY__DATA_KEYS"]), "k1")
    url = f"sqlite+aiosqlite:///{tmp_path}/d.db"
    assert run_bot(tmp_path, "migrate", MEDCAB_DATABASE_URL=url).returncode == 0
    document_id = asyncio.run(signed_document(url, cipher))

    ok = run_bot(tmp_path, "documents", "verify", str(document_id), MEDCAB_DATABASE_URL=url, **env)
    assert ok.returncode == 0, ok.stderr
    assert "signature valid" in ok.stdout

    missing = run_bot(tmp_path, "documents", "verify", "999", MEDCAB_DATABASE_URL=url, **env)
    assert missing.returncode == 2 and "not found" in missing.stdout

    # Someone with database access and the data key rewrites the content and its hash.
    changed = CONTENT.replace(b"Patient/1", b"Patient/2")
    token = cipher.encrypt(base64.b64encode(changed).decode(), "medical_documents.content")
    with sqlite3.connect(tmp_path / "d.db") as db:
        db.execute("UPDATE medical_documents SET content = ?, content_sha256 = ? WHERE id = ?",
                   (token, sha256_hex(changed), document_id))
    broken = run_bot(tmp_path, "documents", "verify", str(document_id), MEDCAB_DATABASE_URL=url, **env)
    assert broken.returncode == 1 and "NOT VALID (signature invalid)" in broken.stdout

    # Only the hash column edited: caught before the signature is even checked.
    with sqlite3.connect(tmp_path / "d.db") as db:
        original = cipher.encrypt(base64.b64encode(CONTENT).decode(), "medical_documents.content")
        db.execute("UPDATE medical_documents SET content = ?, content_sha256 = 'x' WHERE id = ?", (original, document_id))
    hashed = run_bot(tmp_path, "documents", "verify", str(document_id), MEDCAB_DATABASE_URL=url, **env)
    assert hashed.returncode == 1 and "content changed" in hashed.stdout
