"""The two-factor gate: a signed-in user who owes a second factor reaches nothing else.

Installed after django-otp's ``OTPMiddleware`` (which sets ``request.user.otp_device``
from the session). For a signed-in user whose session is not verified:

- enrolled (a confirmed authenticator): every page but :data:`OPEN_VIEWS` sends
  them to ``two_factor_verify``;
- not enrolled, of a required role or a superuser: to ``two_factor_setup``;
- not enrolled and not required: nothing changes (two-factor sign-in is optional).

A GET or HEAD that a browser navigates is redirected (with ``?next=``); anything else
(a POST, an XHR or JSON request) answers 403, so no write and no JSON slips through
on a password alone. OWASP ASVS 4.0 2.7/2.8 (the second factor before any access),
HIPAA 45 CFR 164.312(d).
"""

from urllib.parse import urlencode

from django.http import HttpResponseForbidden
from django.shortcuts import redirect, resolve_url

from people.two_factor import status

#: URL names (``namespace:name``) open to a signed-in user before the second factor:
#: the 2FA pages themselves, signing in and out, and resetting a password by email.
OPEN_VIEWS = frozenset(
    {
        "two_factor_verify",
        "two_factor_setup",
        "admin:login",
        "admin:logout",
        "admin_password_reset",
        "password_reset_done",
        "password_reset_confirm",
        "password_reset_complete",
    }
)

MSG_SECOND_FACTOR = "Two-factor sign-in is not complete: enter your authentication code first."


def wants_html(request) -> bool:
    """Whether a GET/HEAD is a page a browser navigates to (else: XHR, JSON, a file fetch
    by script), from ``X-Requested-With`` and ``Accept``."""
    if request.headers.get("x-requested-with") == "XMLHttpRequest":
        return False
    accept = request.headers.get("accept", "")
    return not accept or "text/html" in accept or "*/*" in accept


class TwoFactorMiddleware:
    """Sends a signed-in, unverified user to the verify or enrolment page (see module)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        """Let the request through (None) or answer it with a redirect or a 403."""
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        match = request.resolver_match
        if match is not None and match.view_name in OPEN_VIEWS:
            return None
        enrolled, required = status(user)
        if not enrolled and not required:
            return None
        if request.method not in ("GET", "HEAD") or not wants_html(request):
            return HttpResponseForbidden(MSG_SECOND_FACTOR, content_type="text/plain")
        target = resolve_url("two_factor_verify" if enrolled else "two_factor_setup")
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
