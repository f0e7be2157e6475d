"""Reminders of expiring specialist certificates (сертификат специалиста): 90/30/7 days ahead and
after expiry, like the accreditation, except when a valid accreditation in the same specialty
already supersedes the certificate; and how they read in Russian and English."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import make_i18n
from handlers.notifications import render_notification
from storage.models import Doctor
from storage.repositories.doctor_certificates import CertificateData, DoctorCertificateRepository
from tests.flow.conftest import LOCALES
from tests.notifications.test_reminders import NOW, TODAY, doctor, expiry_scan, rows


async def with_certificates(
    session_maker: async_sessionmaker[AsyncSession],
    doctor_id: int,
    *certificates: tuple[str, str, date],
    accreditation: tuple[str, date | None] | None = None,
) -> None:
    async with session_maker() as session:
        await DoctorCertificateRepository(session).replace(
            doctor_id, [CertificateData(number, specialty, until) for number, specialty, until in certificates]
        )
        if accreditation is not None:
            d = await session.get(Doctor, doctor_id)
            assert d is not None
            d.accreditation_specialty, d.accreditation_valid_until = accreditation
        await session.commit()


async def certificate_rows(session_maker: async_sessionmaker[AsyncSession]) -> dict[str, list[int]]:
    """Days left of each queued certificate reminder, by certificate number."""
    found: dict[str, list[int]] = {}
    for row in await rows(session_maker, "document_expiry"):
        if row.payload["document"] == "certificate":
            number = row.dedup_key.split(":")[3]
            found.setdefault(number, []).append(row.payload["days"])
    return found


async def test_certificates_at_90_30_7_days_and_after_expiry_each_once(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    # No accreditation at all: every certificate counts.
    d = await doctor(session_maker, 9101, None)
    await with_certificates(
        session_maker,
        d,
        ("C-FAR", "Кардиология", TODAY + timedelta(days=91)),
        ("C-90", "Неврология", TODAY + timedelta(days=90)),
        ("C-31", "Терапия", TODAY + timedelta(days=31)),
        ("C-7", "Педиатрия", TODAY + timedelta(days=7)),
        ("C-OLD", "Хирургия", TODAY - timedelta(days=400)),
    )
    assert await expiry_scan(session_maker, NOW) == 4
    assert await certificate_rows(session_maker) == {"C-90": [90], "C-31": [31], "C-7": [7], "C-OLD": [-400]}
    [row] = [r for r in await rows(session_maker, "document_expiry") if "C-7" in r.dedup_key]
    assert row.dedup_key == f"document_expiry:{d}:certificate:C-7:{(TODAY + timedelta(days=7)).isoformat()}:7"
    assert row.payload == {
        "document": "certificate",
        "specialty": "Педиатрия",
        "valid_until": (TODAY + timedelta(days=7)).isoformat(),
        "days": 7,
        "locale": "ru",
    }
    assert row.due_at.astimezone(UTC) == datetime(2026, 11, 26, 6, 0, tzinfo=UTC)  # 09:00 in Moscow

    # Idempotent: the next run queues nothing; a day later the 31- and 91-day ones cross a mark.
    assert await expiry_scan(session_maker, NOW + timedelta(minutes=30)) == 0
    assert await expiry_scan(session_maker, NOW + timedelta(days=1)) == 2
    found = await certificate_rows(session_maker)
    assert found["C-FAR"] == [90] and found["C-31"] == [31, 30] and found["C-OLD"] == [-400]


async def test_a_certificate_superseded_by_a_valid_accreditation_is_not_reminded_of(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    valid = await doctor(session_maker, 9111, None)
    await with_certificates(
        session_maker,
        valid,
        ("C-SAME", "Терапия", TODAY - timedelta(days=10)),  # expired, but accreditation in Терапия is valid
        ("C-CASE", " терапия ", TODAY + timedelta(days=7)),  # the same specialty, spelt differently
        ("C-OTHER", "Кардиология", TODAY + timedelta(days=7)),  # another specialty: still needed
        accreditation=("Терапия", TODAY + timedelta(days=1000)),
    )
    # The accreditation itself has expired: it supersedes nothing, the certificate matters again.
    lapsed = await doctor(session_maker, 9112, None)
    await with_certificates(
        session_maker,
        lapsed,
        ("C-LAPSED", "Терапия", TODAY + timedelta(days=30)),
        accreditation=("Терапия", TODAY - timedelta(days=1)),
    )
    await expiry_scan(session_maker, NOW)
    assert await certificate_rows(session_maker) == {"C-OTHER": [7], "C-LAPSED": [30]}


async def test_switched_off_or_replaced_certificates_queue_nothing(
    session_maker: async_sessionmaker[AsyncSession],
) -> None:
    off = await doctor(session_maker, 9121, None, disabled_kinds=["document_expiry"])
    await with_certificates(session_maker, off, ("C-OFF", "Терапия", TODAY + timedelta(days=7)))
    gone = await doctor(session_maker, 9122, None)
    await with_certificates(session_maker, gone, ("C-GONE", "Терапия", TODAY + timedelta(days=7)))
    await with_certificates(session_maker, gone)  # the register no longer lists it
    assert await expiry_scan(session_maker, NOW) == 0
    assert await certificate_rows(session_maker) == {}


def test_certificate_reminders_read_well_in_russian_and_english() -> None:
    i18n = make_i18n(LOCALES)
    expiring = {"document": "certificate", "specialty": "Кардиология", "valid_until": "2026-12-26", "days": 30}
    text, markup = render_notification(i18n, 7, "document_expiry", {**expiring, "locale": "ru"})
    assert "сертификат специалиста" in text and "Кардиология" in text and "26 декабря 2026" in text and "30" in text
    assert "периодической аккредитацией" in text and "ФРМР" in text and "портфолио" not in text.lower()
    assert markup is not None and [b.text for b in markup.inline_keyboard[0]] == [
        "⏰ Отложить на 15 мин",
        "⏰ на 1 час",
    ]
    text, _ = render_notification(i18n, 7, "document_expiry", {**expiring, "locale": "en"})
    assert "Specialist certificate expires soon" in text and "December 26, 2026" in text
    assert "periodic accreditation" in text and "portfolio" not in text
    text, _ = render_notification(i18n, 7, "document_expiry", {**expiring, "days": -3, "locale": "ru"})
    assert "сертификата специалиста истёк" in text and "действовал до 26 декабря 2026" in text
    text, _ = render_notification(i18n, 7, "document_expiry", {**expiring, "days": -3, "locale": "en"})
    assert "Specialist certificate has expired" in text
    # The accreditation keeps its own text.
    text, _ = render_notification(i18n, 7, "document_expiry", {**expiring, "document": "accreditation", "locale": "ru"})
    assert "аккредитация" in text and "сертификат" not in text
