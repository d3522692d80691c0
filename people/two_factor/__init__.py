"""Two-factor sign-in (TOTP authenticator apps, with one-time recovery codes).

Who must use it, and whether a user has enrolled: the rules the middleware
(:mod:`people.two_factor.middleware`) and the pages (:mod:`people.two_factor.views`)
share. Writes (enrol, verify, recovery codes, reset, turn off) are in
``people.services`` (``otp_*``). Built on django-otp: a user's authenticator is a
confirmed ``TOTPDevice`` (RFC 6238, 6 digits, 30-second steps), their recovery codes
the tokens of their ``StaticDevice``. NIST SP 800-63B 5.1.4 (single-factor OTP
device) and 5.1.1 (look-up secrets); OWASP ASVS 4.0 V2.7/V2.8; HIPAA 45 CFR
164.312(d) (person or entity authentication).
"""

from django.conf import settings
from django.core import checks
from django.db.models import Exists, OuterRef
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

#: Session key of the secret shown on the enrolment page until it is confirmed
#: (hex, as ``TOTPDevice.key``): nothing is written to the database before then.
PENDING_KEY_SESSION_KEY = "two_factor_pending_key"


def required_roles() -> list[str]:
    """The role names (``people.roles``) that must use two-factor sign-in:
    ``settings.OTP_REQUIRED_ROLES`` (default Administrator and Auditor)."""
    from people import roles

    return list(getattr(settings, "OTP_REQUIRED_ROLES", [roles.ADMINISTRATOR, roles.AUDITOR]))


@checks.register(checks.Tags.security)
def check_required_roles(app_configs=None, **kwargs) -> list:
    """System check ``people.E010``: every name in ``OTP_REQUIRED_ROLES`` is a role of
    ``people.roles.ROLES`` (a typo would silently exempt that role from two factors)."""
    from people import roles

    unknown = [name for name in required_roles() if name not in roles.ROLES]
    return [
        checks.Error(
            f"OTP_REQUIRED_ROLES names {name!r}, which is not a role.",
            hint=f"Use names from people/roles.py: {', '.join(roles.ROLES)}.",
            id="people.E010",
        )
        for name in unknown
    ]


def is_required(user) -> bool:
    """Whether ``user`` must enrol: a superuser, or a member of a role of
    :func:`required_roles`. False for an anonymous user. One query (the groups)."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or user.groups.filter(name__in=required_roles()).exists()


def authenticator(user) -> TOTPDevice | None:
    """The user's confirmed authenticator (``TOTPDevice``), or None if not enrolled."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def recovery_device(user) -> StaticDevice | None:
    """The user's recovery codes (a confirmed ``StaticDevice``), or None."""
    return StaticDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def recovery_codes_left(user) -> int:
    """How many unused recovery codes ``user`` holds."""
    device = recovery_device(user)
    return device.token_set.count() if device else 0


def status(user) -> tuple[bool, bool]:
    """``(enrolled, required)`` for a signed-in user, in one query.

    ``enrolled``: has a confirmed authenticator; ``required``: :func:`is_required`.
    """
    from people.models import User

    row = (
        User.objects.filter(pk=user.pk)
        .annotate(
            enrolled=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
            in_required_role=Exists(
                User.groups.through.objects.filter(
                    user=OuterRef("pk"), group__name__in=required_roles()
                )
            ),
        )
        .values_list("enrolled", "in_required_role", "is_superuser")
        .first()
    )
    if row is None:
        return False, False
    enrolled, in_role, superuser = row
    return bool(enrolled), bool(in_role or superuser)
