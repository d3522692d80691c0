"""Two-factor sign-in on the real production server (``make serve``: gunicorn, DEBUG off,
``backoffice.tests.server``), over HTTP as a browser would: an Administrator's password
alone opens nothing, enrolling opens the admin, and the next sign-in asks for a code."""

import re
import time
from base64 import b32decode
from html import unescape

from people.two_factor.testing import code_for_key

EMAIL = "admin-2fa@example.com"
PASSWORD = "Correct-Horse-Battery-42"


def test_an_administrator_enrols_then_signs_in_with_a_code(production_server):
    server = production_server
    server.create_user(email=EMAIL, password=PASSWORD, role="Administrator")

    browser = server.client()
    assert browser.login(EMAIL, PASSWORD).status == 302
    index = browser.get("/admin/")
    assert index.status == 302
    assert index.headers["Location"].startswith("/admin/2fa/setup/?next=")
    # Nothing else opens, and a write is refused.
    assert browser.get("/admin/clinic/patient/").headers["Location"].startswith("/admin/2fa/")
    profile = browser.post("/admin/profile/", {"title": "Boss"})
    assert profile.status == 403

    setup = browser.get("/admin/2fa/setup/?next=/admin/")
    assert setup.status == 200
    assert "<svg" in setup.text
    shown = re.search(r'<code id="two-factor-key">([A-Z2-7 ]+)</code>', setup.text).group(1)
    key = b32decode(shown.replace(" ", ""))
    enrolled = browser.post("/admin/2fa/setup/", {"code": code_for_key(key), "next": "/admin/"})
    assert enrolled.status == 200
    assert "Store these recovery codes now." in enrolled.text
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", enrolled.text)
    assert len(codes) == 10
    assert "no-store" in enrolled.headers["Cache-Control"]
    assert browser.get("/admin/").status == 200

    # A fresh sign-in: the password, then the code.
    other = server.client()
    assert other.login(EMAIL, PASSWORD).status == 302
    assert other.get("/admin/").headers["Location"].startswith("/admin/2fa/verify/")
    verify_page = other.get("/admin/2fa/verify/?next=/admin/")
    assert verify_page.status == 200
    wrong = f"{(int(code_for_key(key, steps_ahead=1)) + 1) % 1_000_000:06d}"
    refused = other.post("/admin/2fa/verify/", {"code": wrong, "next": "/admin/"})
    assert "That code is not right" in unescape(refused.text)
    time.sleep(1.1)  # the throttle's first wait (OTP_TOTP_THROTTLE_FACTOR = 1 s)
    verified = other.post(
        "/admin/2fa/verify/", {"code": code_for_key(key, steps_ahead=1), "next": "/admin/"}
    )
    assert verified.status == 302, unescape(verified.text)[:2000]
    assert verified.headers["Location"] == "/admin/"
    assert other.get("/admin/").status == 200
