"""In Chromium, under the enforced Content-Security-Policy (settings
CONTENT_SECURITY_POLICY: scripts from our origin or with the response's nonce, no
'unsafe-inline' or 'unsafe-eval'): each role's main pages run without a single
violation or script error, and jazzmin's interactive parts still work (side menu
toggle, user menu, a select2 picker with its search, the related-object modal).
"""

import re

import pytest
from django.urls import reverse

from admin_ext.testing import PASSWORD
from admin_ext.tests.browser import expect, field, login

pytestmark = pytest.mark.django_db(transaction=True)

#: What Chromium logs when the policy blocks something (an inline script, a handler,
#: eval, a frame, a font, a stylesheet...).
VIOLATION = re.compile(r"Content Security Policy|Refused to", re.I)


class Problems(list):
    """Every CSP violation in the console and every uncaught script error of a page."""

    def __init__(self, page):
        super().__init__()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.append(f"{page.url}: script error: {error}"))
        self.page = page

    def _console(self, message):
        if VIOLATION.search(message.text):
            self.append(f"{self.page.url}: {message.type}: {message.text}")


def pages_of(personas, user) -> list[str]:
    """The main pages ``user`` may open (the same choice the side menu makes)."""
    patient = personas.alice_patient.pk
    pages = [
        reverse("admin:index"),
        reverse("my_profile"),
        reverse("admin:password_change"),
        reverse("admin:clinic_patient_changelist"),
        reverse("admin:clinic_patient_change", args=[patient]),
        reverse("admin:clinic_patient_history", args=[patient]),
    ]
    if user.has_perm("clinic.import_patient"):
        pages.append(reverse("admin:clinic_patient_import"))
    if user.has_perm("clinic.export_patient"):
        pages.append(reverse("admin:clinic_patient_export"))
    if user.has_perm("audit.view_accesslog"):
        pages.append(reverse("admin:audit_trail"))
    return pages


@pytest.mark.parametrize("persona", ["admin", "front_desk", "alice", "steward", "auditor"])
def test_each_roles_pages_run_under_the_policy_without_a_violation(page, personas, persona):
    user = getattr(personas, persona)
    problems = Problems(page)

    page.goto("/admin/login/")
    expect(page.locator("input[name=username]")).to_be_visible()
    login(page, user.email, PASSWORD)
    visited = []
    for url in pages_of(personas, user):
        response = page.goto(url)
        assert response.status == 200, f"{url} answered {response.status}"
        assert page.url.endswith(url), f"{url} led to {page.url}"
        page.wait_for_load_state("load")
        visited.append(url)

    assert len(visited) >= 6
    assert problems == []


def test_jazzmins_menus_select2_and_the_related_modal_work_under_the_policy(page, personas):
    problems = Problems(page)
    login(page, personas.steward.email, PASSWORD)

    # Side menu: the bars button collapses it and opens it again (AdminLTE).
    body = page.locator("body")
    toggle = page.locator("[data-lte-toggle=sidebar]").first
    collapsed = "sidebar-collapse" in (body.get_attribute("class") or "")
    toggle.click()
    expect(body).to_have_class(
        re.compile(r"sidebar-collapse") if not collapsed else re.compile(r"^(?!.*sidebar-collapse)")
    )
    toggle.click()
    expect(body).to_have_class(
        re.compile(r"sidebar-collapse") if collapsed else re.compile(r"^(?!.*sidebar-collapse)")
    )

    # User menu: its dropdown opens with "Log out" in it (Bootstrap).
    user_menu = page.locator("#jazzy-usermenu")
    expect(user_menu).to_be_hidden()
    page.locator(f'[data-bs-toggle=dropdown][title="{personas.steward}"]').click()
    expect(user_menu).to_be_visible()
    expect(user_menu.get_by_role("button", name=re.compile("Log out"))).to_be_visible()

    # The primary doctor picker: select2 opens and lists doctors from the autocomplete.
    page.goto(reverse("admin:clinic_patient_change", args=[personas.alice_patient.pk]))
    picker = field(page, "primary_doctor")
    picker.locator("xpath=following-sibling::span[contains(@class, 'select2')]").first.click()
    expect(page.locator(".select2-search__field")).to_be_visible()
    page.locator(".select2-search__field").fill("Bob")
    expect(page.locator(".select2-results__option").filter(has_text="Bob Brown")).to_be_visible()
    page.keyboard.press("Escape")

    # The related-object modal: "add another doctor" opens the doctor form in a frame of
    # this page (the popup answers frame-ancestors 'self'; every other page 'none').
    page.locator("#add_id_primary_doctor").click()
    frame = page.frame_locator("iframe.related-iframe").last
    expect(frame.locator("input[name=last_name]")).to_be_visible()

    # The export page's "Select all" box (bound by a script file, not onchange="").
    page.goto(reverse("admin:clinic_patient_export"))
    columns = page.locator("#export-fields input[type=checkbox]")
    expect(columns.first).to_be_checked()
    page.get_by_label("Select all").uncheck()
    expect(page.locator("#export-fields input[type=checkbox]:checked")).to_have_count(0)

    assert problems == []


def test_an_inline_script_without_the_nonce_is_refused(page, personas):
    """The policy is enforced, not only reported: a script added without the page's
    nonce does not run, and the browser says why."""
    page.goto("/admin/login/")

    with page.expect_console_message(lambda m: VIOLATION.search(m.text)) as message:
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.injected = true'; document.body.appendChild(s); }"
        )

    assert re.search(r"inline script.*Content Security Policy", message.value.text), message.value
    assert page.evaluate("() => window.injected === true") is False
