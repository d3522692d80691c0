"""In Chromium: a doctor reaches their own patient, but typing the change URL of
another doctor's patient answers as if that patient did not exist (issue 8)."""

import re

import pytest

from admin_ext.testing import PASSWORD
from admin_ext.tests.browser import admin_url, expect, login, open_menu, screenshot
from clinic import services
from clinic.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_doctor_cannot_reach_another_doctors_patient(page, live_server, personas):
    bobs = PatientFactory(first_name="Bea", last_name="Bobson")
    services.patient_assign_primary_doctor(
        patient=bobs, doctor=personas.dr_bob, actor=personas.front_desk, reason="test"
    )
    login(page, personas.alice.email, PASSWORD)
    open_menu(page, "Patients")
    expect(page.get_by_role("link", name="Bobson", exact=True)).to_have_count(0)
    with page.expect_navigation():
        page.get_by_role("link", name="Patel", exact=True).click()
    expect(page.get_by_text(str(personas.alice_patient)).first).to_be_visible()

    def answer(patient_id) -> tuple[str, str]:
        """Where typing the patient's change URL lands, and the message it shows
        (with the typed ID taken out)."""
        page.goto(admin_url(live_server, "admin:clinic_patient_change", patient_id))
        message = page.get_by_text(re.compile(r"doesn.t exist", re.I))
        expect(message).to_have_count(1)
        return page.url, message.inner_text().replace(str(patient_id), "<id>")

    missing = answer(bobs.pk + 1000)
    assert answer(bobs.pk) == missing
    expect(page.get_by_text("Bobson")).to_have_count(0)
    screenshot(page, "doctor-other-patient-missing")
