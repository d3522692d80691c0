"""In Chromium: each role signs in through the login form and lands on the dashboard,
with a side menu holding what the role may use and nothing it may not; no page asks
another site for anything (issue 8: fonts came from a third-party CDN)."""

import re

import pytest

from admin_ext.testing import PASSWORD
from admin_ext.tests.browser import expect, login, menu_entries, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

# persona attribute -> (menu entries shown, menu entries never shown)
MENUS = {
    "admin": ({"Patients", "Doctors", "Users", "Audit trail", "Import Synthea folder"}, set()),
    "front_desk": (
        {"Patients", "Unassigned patients", "Doctors"},
        {"Users", "Audit trail", "Import jobs", "Import Synthea folder"},
    ),
    "alice": (
        {"Patients", "Audit trail"},
        {"Users", "Unassigned patients", "Import jobs", "Import Synthea folder"},
    ),
    "steward": (
        {"Patients", "Doctors", "Import jobs", "Import Synthea folder"},
        {"Users", "Audit trail"},
    ),
    "auditor": (
        {"Patients", "Users", "Audit trail", "Access log", "Import jobs"},
        {"Import Synthea folder"},
    ),
}


@pytest.mark.parametrize("persona", MENUS)
def test_each_role_signs_in_to_the_dashboard_and_sees_its_menu(
    page, live_server, personas, persona
):
    user = getattr(personas, persona)
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    login(page, user.email, PASSWORD)

    assert page.get_by_role("heading", name="Dashboard").first.is_visible()
    entries = menu_entries(page)
    shown, hidden = MENUS[persona]
    assert shown <= entries, f"missing from the menu: {shown - entries}"
    assert not hidden & entries, f"shown although not allowed: {hidden & entries}"
    assert [url for url in requested if not url.startswith(live_server.url)] == []
    screenshot(page, f"menu-{persona.replace('_', '-')}")


def test_the_login_page_asks_for_an_email_and_offers_no_username_reminder(page, live_server):
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto("/admin/login/")

    expect(page.get_by_text(re.compile(r"username", re.I))).to_have_count(0)
    expect(page.locator("input[name=username]")).to_have_attribute("type", "email")
    assert [url for url in requested if not url.startswith(live_server.url)] == []
    screenshot(page, "login")
