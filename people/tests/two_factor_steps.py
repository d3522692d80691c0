"""Steps the two-factor tests share: enrolling and verifying through the real pages
with the Django test client, codes computed by django-otp's own TOTP (RFC 6238)."""

from django.urls import reverse

from people.two_factor import PENDING_KEY_SESSION_KEY, authenticator
from people.two_factor.testing import code_for_key, current_code


def enrol(client, *, code=None):
    """Open the enrolment page and confirm the key it shows with the app's code (or
    ``code``). Returns ``(setup page response, confirm response, key)``."""
    page = client.get(reverse("two_factor_setup"))
    key = client.session[PENDING_KEY_SESSION_KEY]
    response = client.post(reverse("two_factor_setup"), {"code": code or code_for_key(key)})
    return page, response, key


def verify(client, user, *, code=None, next_url=""):
    """Post the user's current authenticator code (or ``code``) to the verify page."""
    code = code or current_code(authenticator(user))
    return client.post(reverse("two_factor_verify"), {"code": code, "next": next_url})


def recovery_codes(response) -> list[str]:
    """The recovery codes a page shows."""
    return list(response.context["codes"])
