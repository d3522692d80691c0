"""In Chromium: a data steward imports a Synthea folder (a ZIP) through the admin,
previews it, confirms, and finds an imported patient with the top search (issue 8)."""

import re

import pytest

from admin_ext.testing import PASSWORD
from admin_ext.tests.browser import expect, login, open_menu, screenshot
from clinic.models import Patient
from clinic.tests.test_admin_synthea_import import zip_bytes
from clinic.tests.test_import_synthea_command import folder

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_steward_imports_a_synthea_folder_and_finds_a_patient_from_it(page, personas):
    login(page, personas.steward.email, PASSWORD)
    open_menu(page, "Patients")
    page.get_by_role("link", name="Import Synthea folder").first.click()

    page.get_by_label("Synthea folder").set_input_files(
        {"name": "synthea.zip", "mimeType": "application/zip", "buffer": zip_bytes(folder())}
    )
    page.get_by_role("button", name="Preview").click()
    confirm = page.get_by_role("button", name="Confirm import")
    expect(confirm).to_be_visible()
    expect(page.get_by_text("patients.csv").first).to_be_visible()
    assert not Patient.objects.filter(external_id="pat-1").exists()  # a preview writes nothing
    screenshot(page, "synthea-import-preview")

    confirm.click()
    expect(page.get_by_text(re.compile(r"Import #\d+"))).not_to_have_count(0)
    assert set(
        Patient.objects.filter(external_id__in=["pat-1", "pat-2"]).values_list(
            "first_name", "primary_doctor__last_name"
        )
    ) == {("Cy5", "Able2"), ("Di6", "Baker4")}

    search = page.get_by_role("searchbox", name=re.compile(r"search patients", re.I))
    search.fill("Cy5")
    with page.expect_navigation():
        search.press("Enter")
    result = page.get_by_role("link", name="Lee1", exact=True)
    expect(result).to_have_count(1)
    with page.expect_navigation():
        result.click()
    expect(page.locator("[name=first_name]")).to_have_value("Cy5")
    screenshot(page, "synthea-import-found")
