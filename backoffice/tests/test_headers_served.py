"""What the production server (``make serve``, gunicorn, DEBUG off) sends: transport and
security headers, cookie flags and the http-to-https redirect (OWASP ASVS 4.0 V14.4,
V3.4; HIPAA 164.312(e)(1), transmission security).

One real server for the module (``backoffice.tests.server``), asked as the TLS proxy in
front of it would (``X-Forwarded-Proto: https``), except where the plain-http answer is
the point.
"""

import re

import pytest

from admin_ext.testing import PASSWORD
from backoffice.tests.server import running_server

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)([^>]*)>", re.I)


@pytest.fixture(scope="module")
def server(tmp_path_factory, production_static):
    with running_server(tmp_path_factory.mktemp("headers"), production_static) as server:
        server.personas()
        yield server


@pytest.fixture(scope="module")
def signed_in(server):
    """A client signed in as the front desk (a role with no second factor required)."""
    client = server.client()
    response = client.login("desk@example.com", PASSWORD)
    assert response.status == 302, response.text[:2000]
    return client, response


def policy(response) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as {directive: [sources]}."""
    header = response.headers["Content-Security-Policy"]
    assert header, "no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_transport_headers(response) -> None:
    """The headers every response carries, HTML page or static file."""
    headers = response.headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    features = dict(item.split("=", 1) for item in headers["Permissions-Policy"].split(", "))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert features.get(feature) == "()", (feature, headers["Permissions-Policy"])


def assert_page_headers(response) -> None:
    """A page's headers: the transport ones, framing refused, and the script policy."""
    assert_transport_headers(response)
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "'unsafe-eval'" not in csp["script-src"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]


def script_nonces(response) -> tuple[str, list[str]]:
    """(the nonce in script-src, the nonce attribute of each inline script on the page)."""
    nonces = [s[len("'nonce-") : -1] for s in policy(response)["script-src"] if "nonce-" in s]
    assert len(nonces) == 1, policy(response)["script-src"]
    inline = [
        (re.search(r'\bnonce="([^"]*)"', attrs) or [None, None])[1]
        for attrs in INLINE_SCRIPT.findall(response.text)
    ]
    return nonces[0], inline


def test_it_redirects_plain_http_to_https(server):
    response = server.client(https=False).get("/admin/login/?next=/admin/")

    assert response.status == 301
    port = server.url.rsplit(":", 1)[1]
    assert response.headers["Location"] == f"https://127.0.0.1:{port}/admin/login/?next=/admin/"


def test_it_sends_the_security_headers_on_the_login_page(server):
    response = server.client().get("/admin/login/")

    assert response.status == 200
    assert response.headers["Server"] == "gunicorn"  # the Makefile's server, not Django's
    assert_page_headers(response)


def test_it_sends_a_new_nonce_with_every_page_and_puts_it_on_every_inline_script(server):
    first, first_scripts = script_nonces(server.client().get("/admin/login/"))
    second, second_scripts = script_nonces(server.client().get("/admin/login/"))

    assert first != second
    assert len(first) >= 22  # 128 bits, base64
    assert first_scripts and set(first_scripts) == {first}
    assert second_scripts and set(second_scripts) == {second}


def test_it_flags_the_session_and_csrf_cookies_secure_httponly_and_samesite(signed_in):
    _, response = signed_in

    for name in ("sessionid", "csrftoken"):
        cookie = response.cookie(name)
        assert cookie is not None, f"no {name} cookie set at sign-in"
        flags = {flag.strip().lower() for flag in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite=lax", "path=/"} <= flags, cookie


def test_it_sends_the_security_headers_on_an_admin_page_after_sign_in(signed_in):
    client, _ = signed_in

    response = client.get("/admin/clinic/patient/")

    assert response.status == 200
    assert "Patients" in response.text
    assert_page_headers(response)
    nonce, inline = script_nonces(response)
    assert inline and set(inline) == {nonce}


def test_it_sends_the_transport_headers_on_a_static_file(server):
    page = server.client().get("/admin/login/")
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', page.text).group(1)

    response = server.client().get(stylesheet)

    assert response.status == 200
    assert "text/css" in response.headers["Content-Type"]
    assert_transport_headers(response)
