"""In Chromium: a data steward filters the patient list, exports two columns of it as
CSV, and the downloaded file holds the filtered rows and no others (issue 8)."""

import csv
import io
import re

import pytest

from admin_ext.testing import PASSWORD
from admin_ext.tests.browser import choose, expect, login, open_menu, screenshot
from clinic.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_filtered_patient_list_exports_only_its_rows(page, personas):
    # Ann Patel and Otto Other (the personas' patients) are female.
    men = [PatientFactory(gender="M", last_name=name) for name in ("Mann", "Moss")]
    login(page, personas.steward.email, PASSWORD)
    open_menu(page, "Patients")

    choose(page, "gender", label="Male")
    with page.expect_navigation():
        page.get_by_role("button", name="Search", exact=True).click()
    rows = page.get_by_role("checkbox", name=re.compile(r"Select this object"))
    expect(rows).to_have_count(2)
    expect(page.get_by_role("link", name="Patel", exact=True)).to_have_count(0)
    # With nothing ticked, the page says so, not "All 2 selected" as well.
    expect(page.get_by_text(re.compile(r"All \d+ selected")).filter(visible=True)).to_have_count(0)
    screenshot(page, "export-filtered-list")

    with page.expect_navigation():
        page.get_by_role("link", name=re.compile(r"^\W*Export$")).click()
    choose(page, "format", label="csv")
    columns = page.get_by_role("group", name="Columns").get_by_role("checkbox")
    page.get_by_label("Select all").uncheck()
    for box in columns.all():
        expect(box).not_to_be_checked()
    page.get_by_label("MRN", exact=True).check()
    page.get_by_label("Last name", exact=True).check()
    with page.expect_download() as download_info:
        page.get_by_role("button", name=re.compile(r"^(Submit|Export)$")).click()
    download = download_info.value

    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8-sig") as exported:
        records = list(csv.DictReader(io.StringIO(exported.read())))
    assert list(records[0]) == ["mrn", "last_name"]  # the import format's column names
    assert sorted(tuple(record.values()) for record in records) == sorted(
        (p.mrn, p.last_name) for p in men
    )
    screenshot(page, "export-form")
