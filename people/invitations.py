"""The invitation email: a set-password link for a user an administrator added.

The link is Django's password-reset confirm URL (``password_reset_confirm``) with
``default_token_generator``'s token, so the page the user opens is the reset page
(``people.forms.PasswordResetSetForm``: the password validators, history through
``people.services.user_set_password``) and the token is single-use and expires
after ``PASSWORD_RESET_TIMEOUT`` (it covers the password hash and the last login).
Sending is :func:`send_invitation`; the writes around it are the services'
``user_invite`` and ``user_invite_resend``.
"""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from admin_ext.audit.services import current_request

SUBJECT_TEMPLATE = "people/email/invitation_subject.txt"
BODY_TEMPLATE = "people/email/invitation_body.txt"


def set_password_path(user) -> str:
    """The path of ``user``'s one-time set-password page (``/reset/<uid>/<token>/``)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": token})


def validity_text(seconds: int) -> str:
    """``PASSWORD_RESET_TIMEOUT`` in words: ``"3 days"``, ``"12 hours"``, ``"30 minutes"``."""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def send_invitation(*, user, inviter, base_url: str | None = None) -> None:
    """Email ``user`` their invitation: who invited them and the set-password link.

    Args: ``user`` (with an unusable password), ``inviter`` (the administrator, or
    None for the system), ``base_url`` (``https://host``; default: the scheme and
    host of the request being served, as Django's reset form takes them).
    Raises ``ValueError`` without a ``base_url`` outside a request, and the mail
    backend's errors (``smtplib.SMTPException``, ``OSError``).
    """
    if base_url is None:
        request = current_request()
        if request is None:
            raise ValueError("send_invitation() needs base_url outside a request.")
        base_url = f"{request.scheme}://{request.get_host()}"
    context = {
        "user": user,
        "inviter": (inviter.get_full_name() or inviter.email) if inviter else "an administrator",
        "link": base_url.rstrip("/") + set_password_path(user),
        "valid_for": validity_text(settings.PASSWORD_RESET_TIMEOUT),
        "site_name": settings.JAZZMIN_SETTINGS["site_title"],
    }
    subject = "".join(render_to_string(SUBJECT_TEMPLATE, context).splitlines())
    body = render_to_string(BODY_TEMPLATE, context)
    send_mail(subject, body, None, [user.email])
