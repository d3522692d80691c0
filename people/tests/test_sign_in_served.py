"""Sign-in lockout and the idle timeout on the real production server (``make serve``:
gunicorn, DEBUG off; ``backoffice.tests.server``), over HTTP as a browser would. Small
limits come from the environment (``AXES_FAILURE_LIMIT``, ``SESSION_IDLE_TIMEOUT``),
as an operator would set them. Two-factor sign-in on the real server:
``people/tests/test_two_factor_server.py``."""

import re
import time
from html import unescape

from people.roles import FRONT_DESK

EMAIL = "desk-served@example.com"
PASSWORD = "Correct-Horse-Battery-42"
LOCKOUT_TEXT = "Too many failed sign-ins."


def same_page(html: str) -> str:
    """The page without what differs per response or echoes the form: the CSP nonce,
    the CSRF token and input values (the typed email)."""
    return re.sub(r'(nonce|value)="[^"]*"', r'\1=""', unescape(html))


def test_the_right_password_does_not_open_a_locked_account(serve):
    server = serve(AXES_FAILURE_LIMIT="3")
    server.create_user(email=EMAIL, password=PASSWORD, role=FRONT_DESK)
    browser = server.client()

    for _ in range(2):
        failed = browser.login(EMAIL, "not-the-password")
        assert failed.status == 200
        assert LOCKOUT_TEXT not in failed.text
    # The third failure locks: its answer is already the lockout page.
    assert browser.login(EMAIL, "not-the-password").status == 429
    locked = browser.login(EMAIL, PASSWORD)
    assert locked.status == 429
    assert LOCKOUT_TEXT in unescape(locked.text)
    assert not any("sessionid" in c for c in locked.headers.get_all("Set-Cookie", []))
    assert browser.get("/admin/").status == 302  # still signed out

    # The same page for an account that does not exist (the IP is locked now too),
    # so the answer tells nothing about which emails have accounts.
    unknown = server.client().login("nobody-here@example.com", "whatever-it-is")
    assert unknown.status == 429
    assert same_page(unknown.text) == same_page(locked.text)

    # An administrator's unlock, here the operator's command, lets the user in again.
    server.manage(
        "unlock_sign_in", "--email", EMAIL, "--ip", "127.0.0.1", "--reason", "Help desk call"
    )
    assert browser.login(EMAIL, PASSWORD).status == 302
    assert browser.get("/admin/").status == 200


def test_a_session_ends_after_the_idle_timeout_and_not_while_in_use(serve):
    server = serve(SESSION_IDLE_TIMEOUT="4")
    server.create_user(email=EMAIL, password=PASSWORD, role=FRONT_DESK)
    browser = server.client()

    signed_in = browser.login(EMAIL, PASSWORD)
    assert signed_in.status == 302
    (cookie,) = [c for c in signed_in.headers.get_all("Set-Cookie") if "sessionid=" in c]
    # A browser-session cookie: no expiry of its own, so closing the browser ends it.
    assert "expires" not in cookie.lower() and "max-age" not in cookie.lower()

    # In use: a request every 2.5 s keeps it open well past 4 s.
    for _ in range(3):
        time.sleep(2.5)
        assert browser.get("/admin/").status == 200
    # Idle for longer than the timeout: signed out.
    time.sleep(5)
    expired = browser.get("/admin/")
    assert expired.status == 302
    assert expired.headers["Location"].startswith("/admin/login/")
