"""In Chromium: the front desk changes a patient's city with a reason, opens the
patient's history page and reads the change, old value to new, with who and why
(issue 8)."""

import re

import pytest

from admin_ext.testing import PASSWORD
from admin_ext.tests.browser import expect, field, login, open_menu, screenshot
from clinic.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_history_page_shows_a_change_from_old_to_new(page, personas):
    PatientFactory(first_name="Hana", last_name="Hill", city="Boston")
    login(page, personas.front_desk.email, PASSWORD)
    open_menu(page, "Patients")
    with page.expect_navigation():
        page.get_by_role("link", name="Hill", exact=True).click()

    field(page, "city").fill("Salem")
    field(page, "change_reason").fill("Moved house")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text(re.compile(r"was changed successfully"))).to_be_visible()

    with page.expect_navigation():
        page.get_by_role("link", name="Hill", exact=True).click()
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile(r"^\W*History$")).click()
    change = page.get_by_role("row").filter(has_text="Moved house")
    expect(change).to_have_count(1)
    expect(change).to_contain_text(re.compile(r"Boston.*Salem", re.S))
    expect(change).to_contain_text(personas.front_desk.email)
    screenshot(page, "history-change")
