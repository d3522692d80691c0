"""Browser tests: Playwright for Python driving Debian's Chromium against the live server.

Registered for the whole suite by the root ``conftest.py`` (``pytest_plugins``), so the
``test_browser_*.py`` modules of every app use these fixtures without importing them:

- ``browser`` (session): one headless Chromium (``/usr/bin/chromium``, the Debian
  package; Playwright's own browser downloads are not used). A test that asks for it
  is skipped, with the reason, when Chromium or Playwright is not installed, so
  ``make test`` passes on a machine without them; ``.ci/run`` installs Chromium and
  sets ``REQUIRE_BROWSER=1``, which makes such a test fail instead.
- ``page``: a new browser context (no cookies) and page per test, on pytest-django's
  ``live_server`` (static files served; each test runs outside a transaction and the
  database is flushed after it). A failing test leaves ``failed-<test>.png``.
- ``personas``: the personas of ``admin_ext.testing.ClinicTestCase`` (one user per
  role, Dr. Alice with a patient, Dr. Bob with none; password
  ``admin_ext.testing.PASSWORD``) in that database.

``expect`` is Playwright's assertion (retried for up to ``TIMEOUT_MS``). Helpers:

- ``login(page, email, password)``: sign in through the real login form, then the
  two-factor page when it asks (``second_factor``: enrolling where the role requires it);
- ``screenshot(page, name)``: write ``build/screenshots/<name>.png`` (the flows' end
  states, used by docs/user-guide.md);
- ``field(page, name)``: a form control by its input name, its tab opened first;
- ``choose(page, name, label=... | value=...)``: pick an option of a select (select2 too);
- ``run_action(page, label)``: run a changelist action on the ticked rows;
- ``side_menu(page)``, ``menu_entries(page)``, ``open_menu(page, text)``: the side menu;
- ``admin_url(live_server, name, *args)``: an absolute URL from an admin URL name.

Selectors follow what a person sees (roles, labels, link texts) or input names, never
layout classes, so the flows survive a change of layout.
"""

import os
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

# Django and the project are imported inside the functions: conftest.py loads this
# module as a plugin before pytest-django has set Django up.
try:
    from playwright.sync_api import expect
except ImportError:  # not installed: the browser fixture skips every test that needs it
    expect = None

#: Debian's Chromium (``apt-get install chromium chromium-driver``).
CHROMIUM = "/usr/bin/chromium"
#: Where ``screenshot`` writes (``build/`` at the top of the checkout, ignored by git).
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
#: Laptop width; tall enough that most pages need no scrolling in a screenshot.
VIEWPORT = {"width": 1366, "height": 900}
#: Milliseconds Playwright waits for an element or a navigation before failing.
TIMEOUT_MS = 15_000


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Run the browser tests after every other test (a stable sort, after pytest-django's
    own ordering). From its start to the end of the session, the ``browser`` fixture
    keeps an asyncio loop running on the main thread and sets
    ``DJANGO_ALLOW_ASYNC_UNSAFE``; no other test may run under either (Django would
    refuse their ORM calls, and ``manage.py check --deploy`` in a subprocess refuses
    the variable)."""
    items.sort(key=lambda item: "browser" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session. Without Chromium or Playwright the test
    is skipped with the reason, or fails when ``REQUIRE_BROWSER`` is set (``.ci/run``)."""
    missing = None
    if shutil.which(CHROMIUM) is None:
        missing = f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)"
    elif expect is None:
        missing = "Playwright is not installed (pip install -r requirements-dev.txt)"
    if missing:
        (pytest.fail if os.environ.get("REQUIRE_BROWSER") else pytest.skip)(missing)
    from playwright import sync_api

    # Playwright's sync API keeps an asyncio loop running on this thread, and Django
    # refuses ORM calls from a thread with a running loop (SynchronousOnlyOperation).
    # The tests' own ORM calls are plain synchronous code; the live server answers
    # from its own thread.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_api.sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        expect.set_options(timeout=TIMEOUT_MS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, for ``page`` to see a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, live_server, request):
    """A page in a fresh context (own cookies and downloads) on the live server. When
    the test fails, the page as it then was goes to ``build/screenshots/failed-<test>.png``."""
    from django.core.cache import cache

    # Cached dashboard counts of an earlier test would outlive its flushed rows.
    cache.clear()
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    new_page = context.new_page()
    yield new_page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        screenshot(new_page, "failed-" + re.sub(r"\W+", "-", request.node.name).strip("-"))
    context.close()


@pytest.fixture
def personas(transactional_db):
    """ClinicTestCase's personas, as attributes of a namespace (``personas.front_desk``...).

    The roles are synced first: the flush after an earlier transactional test empties
    the role groups the data migration filled.
    """
    from admin_ext.testing import ClinicTestCase
    from people.services import roles_sync

    roles_sync()
    people = SimpleNamespace()
    # setUpTestData only sets attributes on the object it is given; the same
    # personas as the TestCase-based tests, without a second copy of the list.
    ClinicTestCase.setUpTestData.__func__(people)
    return people


def admin_url(live_server, name: str, *args) -> str:
    """Absolute URL of the admin URL ``name`` (``"admin:index"``) on ``live_server``."""
    from django.urls import reverse

    return live_server.url + reverse(name, args=args)


def login(page, email: str, password: str) -> None:
    """Sign in through the admin's login form, as a person would, and wait for the
    page it leads to. Fails with the form's error when the login is refused."""
    page.goto("/admin/login/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile(r"log in|sign in", re.I)).click()
    assert "/login/" not in page.url, page.locator("form").first.inner_text()
    second_factor(page, email)


def second_factor(page, email: str) -> None:
    """The second step of signing in, when the page asks for it: on the verify page, the
    code of the user's authenticator; on the enrolment page (a role that requires
    two-factor sign-in, not enrolled yet), the code of the key the page shows, then
    past the recovery codes. Codes come from django-otp's own TOTP (RFC 6238)."""
    from base64 import b32decode

    from people.models import User
    from people.two_factor import authenticator
    from people.two_factor.testing import code_for_key, current_code

    if "/admin/2fa/verify/" in page.url:
        code = current_code(authenticator(User.objects.get(email=email)))
    elif "/admin/2fa/setup/" in page.url:
        key = b32decode(page.locator("#two-factor-key").inner_text().replace(" ", ""))
        code = code_for_key(key)
    else:
        return
    page.locator("input[name=code]").fill(code)
    with page.expect_navigation():
        page.locator("#two_factor_form button[type=submit]").click()
    if page.locator("#recovery-codes").count():
        with page.expect_navigation():
            page.locator("#recovery-codes-done").click()
    assert "/admin/2fa/" not in page.url, page.locator("body").inner_text()[:500]


def screenshot(page, name: str) -> Path:
    """Save the whole page as ``build/screenshots/<name>.png``; returns the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


def field(page, name: str):
    """The form control named ``name``, made visible as a person would: when the form is
    tabbed and the control sits on a tab that is not open, that tab is clicked.
    Returns its locator."""
    control = page.locator(f'[name="{name}"]')
    panel = page.get_by_role("tabpanel", include_hidden=True).filter(has=control)
    if panel.count() and not panel.is_visible():
        page.locator(f'[role=tab][aria-controls="{panel.get_attribute("id")}"]').click()
        panel.wait_for(state="visible")
    return control


def run_action(page, label: str) -> None:
    """Choose the changelist action ``label`` (its text in the action menu) for the
    ticked rows and run it with the "Go" button."""
    page.locator("select[name=action]").select_option(label=label)
    with page.expect_navigation():
        page.get_by_title("Run the selected action").click()


def side_menu(page):
    """The side menu: the navigation labelled "Main navigation"."""
    return page.get_by_role("navigation", name="Main navigation")


def menu_entries(page) -> set[str]:
    """The texts of the side menu's links."""
    texts = side_menu(page).get_by_role("link").all_inner_texts()
    return {text.strip() for text in texts if text.strip()}


def open_menu(page, text: str) -> None:
    """Follow the side menu's link whose text is ``text``, opening its section when
    the section is collapsed. (Its accessible name also holds the icon font's glyph,
    so the link is found by its text.)"""
    name = re.compile(rf"^\s*{re.escape(text)}\s*$")
    link = side_menu(page).get_by_role("link").filter(has_text=name)
    if not link.is_visible():
        # The outermost list item holding the link is its section; its own link toggles it.
        section = side_menu(page).locator("li").filter(has=link).first
        section.locator(":scope > a").click()
        link.wait_for(state="visible")
    with page.expect_navigation():
        link.click()


def choose(page, name: str, *, label: str | None = None, value: str | None = None) -> None:
    """Pick the option ``label`` (its text) or ``value`` in the select named ``name``,
    opening its tab first. Works for the admin's select2 widgets too: select2 hides
    the native select (hence ``force``) and follows its change event."""
    field(page, name).select_option(label=label, value=value, force=True)
