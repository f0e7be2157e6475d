"""/profile lists the doctor's specialist certificates: specialty, number, valid until or expired."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from handlers.callbacks import LanguageCallback
from services.preferences import Language
from storage.repositories.doctor_certificates import CertificateData, DoctorCertificateRepository
from tests.flow.conftest import Flow
from tests.flow.test_identity_flows import DOCTOR_TG, link_doctor
from tests.support import updates


async def add_certificates(flow: Flow, doctor_id: int, *certificates: CertificateData) -> None:
    async with flow.session_maker() as session:
        await DoctorCertificateRepository(session).replace(doctor_id, certificates)
        await session.commit()


async def test_profile_shows_certificates_in_russian_and_english(flow: Flow) -> None:
    doctor_id = await link_doctor(flow, DOCTOR_TG, consent=True)
    past = datetime.now(UTC).date() - timedelta(days=400)
    await add_certificates(
        flow,
        doctor_id,
        CertificateData("0177180012345", "Кардиология", date(2099, 3, 29)),
        CertificateData("0177180054321", "Терапия", past),
    )
    profile = (await flow.feed(updates.message("/profile", user_id=DOCTOR_TG))).last_text()
    assert "Сертификаты специалиста" in profile
    assert "• Кардиология, № 0177180012345\n  действует до 29 марта 2099" in profile
    assert "• Терапия, № 0177180054321\n  истёк " in profile
    assert "Действует до 31 марта 2029" in profile  # the accreditation is still shown

    await flow.feed(updates.callback(LanguageCallback(language=Language.EN).pack(), user_id=DOCTOR_TG, message_id=9))
    profile = (await flow.feed(updates.message("/profile", user_id=DOCTOR_TG))).last_text()
    assert "Specialist certificates" in profile
    assert "• Кардиология, № 0177180012345\n  valid until March 29, 2099" in profile
    assert "• Терапия, № 0177180054321\n  expired on " in profile


async def test_profile_without_certificates_has_no_such_section(flow: Flow) -> None:
    await link_doctor(flow, DOCTOR_TG, consent=True)
    profile = (await flow.feed(updates.message("/profile", user_id=DOCTOR_TG))).last_text()
    assert "Сертификаты" not in profile and "Запись в регистре" in profile
