"""In Chromium: the front desk registers a walk-in, is shown the required field they
left empty on a later section of the form, fixes it and saves; then assigns the new
patient a primary doctor from the Unassigned patients queue (issue 8)."""

import re

import pytest

from admin_ext.testing import PASSWORD
from admin_ext.tests.browser import choose, expect, field, login, open_menu, run_action, screenshot
from clinic.models import Patient

pytestmark = pytest.mark.django_db(transaction=True)


def test_front_desk_registers_a_walk_in_and_assigns_a_doctor_from_the_queue(page, personas):
    login(page, personas.front_desk.email, PASSWORD)
    open_menu(page, "Patients")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile(r"add patient", re.I)).click()

    field(page, "first_name").fill("Rosa")
    field(page, "last_name").fill("Quinn")
    choose(page, "gender", label="Female")  # birth date left empty
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()

    birth_date = field(page, "birth_date")
    expect(birth_date).to_be_visible()
    error = page.get_by_text("This field is required.", exact=True).filter(visible=True)
    expect(error).to_have_count(1)
    assert not Patient.objects.filter(last_name="Quinn").exists()
    screenshot(page, "register-walk-in-field-error")

    birth_date.fill("1990-04-12")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text(re.compile(r"was added successfully"))).to_be_visible()
    patient = Patient.objects.get(last_name="Quinn")
    assert (patient.first_name, str(patient.birth_date), patient.primary_doctor) == (
        "Rosa",
        "1990-04-12",
        None,
    )

    open_menu(page, "Unassigned patients")
    page.get_by_role("checkbox", name=re.compile(r"Rosa Quinn")).check()
    run_action(page, "Assign primary doctor…")
    expect(page.get_by_text("Choose the primary doctor for this patient")).to_be_visible()
    choose(page, "doctor", value=str(personas.dr_alice.pk))
    with page.expect_navigation():
        page.get_by_role("button", name="Assign").click()

    expect(page.get_by_text("Assigned Dr. Alice Adams to 1 patient.")).to_be_visible()
    expect(page.get_by_role("checkbox", name=re.compile(r"Rosa Quinn"))).to_have_count(0)
    patient.refresh_from_db()
    assert patient.primary_doctor == personas.dr_alice
    screenshot(page, "register-walk-in-assigned")
