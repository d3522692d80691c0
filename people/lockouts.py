"""Sign-in lockout (django-axes): how a sign-in is named, where it comes from, and
the page a locked-out browser gets.

The settings (``backoffice/settings.py``, "ACCOUNTS HARDENING") point django-axes at
the three callables here. Rules they keep (OWASP ASVS 4.0 V2.2.1, anti-automation;
NIST SP 800-63B 5.2.2, rate limiting):

- one account is one lowercase email, whatever case the attacker types, so that
  ``Desk@Example.com`` and ``desk@example.com`` count against the same limit;
- the client IP is the access log's (:func:`admin_ext.audit.services.client_ip`),
  so the lockout and the audit trail agree on who tried;
- the lockout page is the same for an existing and an unknown email, whether the
  password typed was right or wrong (OWASP ASVS V2.2.1 and V3.2: no account
  enumeration), with status 429 (RFC 6585, 4).
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render

from admin_ext.audit.services import client_ip

#: The template of the lockout page: the login page with the message above the form.
LOCKOUT_TEMPLATE = "admin/lockout.html"


def normalized_username(request, credentials: dict | None = None) -> str | None:
    """The email a sign-in names, stripped and lower-cased (``AXES_USERNAME_CALLABLE``).

    Args: the request, and the credentials given to ``authenticate`` when there are
    any (else the login form's ``username`` field is read from the POST).
    Returns the email, or None when none was typed.
    """
    value = None
    if credentials:
        value = credentials.get("username") or credentials.get("email")
    if value is None and request is not None:
        value = request.POST.get("username")
    if value is None:
        return None
    return str(value).strip().lower()[:254] or None


def request_ip(request) -> str | None:
    """The client IP django-axes counts failures for (``AXES_CLIENT_IP_CALLABLE``):
    ``REMOTE_ADDR``, exactly as the access log records it."""
    return client_ip(request)


def lockout_minutes() -> int:
    """The cool-off period in whole minutes (``AXES_COOLOFF_TIME``, a timedelta)."""
    return max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_message() -> str:
    """What a locked-out sign-in reads (one wording for every case)."""
    minutes = lockout_minutes()
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"Too many failed sign-ins. Try again in {minutes} {unit} "
        "or ask an administrator to unlock your account."
    )


def lockout_response(request, original_response=None, credentials=None):
    """The answer to a sign-in django-axes refused (``AXES_LOCKOUT_CALLABLE``).

    Args (django-axes' signature): the request, the response the login view made
    (ignored: it would say "wrong password" or show the typed email), the
    credentials. Returns the admin login page with an empty form and
    :func:`lockout_message`, status ``AXES_HTTP_RESPONSE_CODE`` (429). Nothing in
    it depends on the account or the password.
    """
    context = {
        **admin.site.each_context(request),
        "title": "Sign-in locked",
        "app_path": request.get_full_path(),
        "form": AuthenticationForm(request),
        "lockout_message": lockout_message(),
        "site_header": admin.site.site_header,
    }
    return render(request, LOCKOUT_TEMPLATE, context, status=settings.AXES_HTTP_RESPONSE_CODE)
