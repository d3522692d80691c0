"""Writes to people: one function per operation (DESIGN.md, "Writes: one path each").

Each takes keyword arguments including ``actor`` (the ``User`` doing it, or None
for the system) and ``reason`` (free text kept as ``history_change_reason``), runs in
one transaction and writes history attributed to the actor.
"""

import io
import uuid

import django_otp
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_ratelimit.core import is_ratelimited
from PIL import Image, ImageOps, UnidentifiedImageError

from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import client_ip, log_access, request_of
from people import invitations, roles
from people.models import Profile, User
from people.two_factor import authenticator, is_required, recovery_device


class RoleError(ValidationError):
    """A role name that is not in ``people.roles.ROLES``."""


def _attribute(obj, *, actor, reason: str) -> None:
    # simple-history reads these when the next historical row is written.
    obj._history_user = actor
    obj._change_reason = reason


def _role_group(name: str) -> Group:
    if name not in roles.ROLES:
        raise RoleError(
            f"Unknown role {name!r}; roles are: {', '.join(roles.ROLES)}.", code="unknown_role"
        )
    group, _ = Group.objects.get_or_create(name=name)
    return group


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    actor: User | None,
    reason: str = "User created",
    role: str | None = None,
    first_name: str = "",
    last_name: str = "",
    is_superuser: bool = False,
) -> User:
    """Create a staff user with one role (``people.roles.DEFAULT_ROLE`` when none given).

    Args: ``email`` (the login, normalised), ``password`` (str, or None for an
    unusable password), ``actor``/``reason`` for history, ``role`` (a key of
    ``ROLES``), names, ``is_superuser`` (operators only).
    Returns the saved ``User``; its ``Profile`` exists (post_save receiver).
    Raises ``ValidationError`` (``full_clean``: a duplicate or invalid email) and
    ``RoleError`` for an unknown role. The password is not checked against
    ``AUTH_PASSWORD_VALIDATORS`` here: every path where a person chooses one (the
    invitation and reset links, the password pages, ``createsuperuser``,
    ``changepassword``) checks it in its form or prompt; test fixtures and the demo
    data call this directly.
    """
    user = User(
        email=User.objects.normalize_email(email),
        first_name=first_name,
        last_name=last_name,
        is_staff=True,
        is_superuser=is_superuser,
    )
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.full_clean(exclude=["password"])
    _attribute(user, actor=actor, reason=reason)
    user.save()
    user_set_role(user=user, role=role or roles.DEFAULT_ROLE, actor=actor, reason=reason)
    return user


@transaction.atomic
def user_set_role(*, user: User, role: str, actor: User | None, reason: str) -> User:
    """Make ``role`` the user's only role (replacing any other role group).

    Returns the user. Raises ``RoleError`` for an unknown role. History records the
    group change (the ``groups`` m2m is tracked on ``User``).
    """
    group = _role_group(role)
    _attribute(user, actor=actor, reason=reason)
    others = user.groups.filter(name__in=roles.ROLES).exclude(pk=group.pk)
    if others.exists():
        user.groups.remove(*others)
    if not user.groups.filter(pk=group.pk).exists():
        user.groups.add(group)
    return user


@transaction.atomic
def user_update(*, user: User, actor: User | None, reason: str, **fields) -> User:
    """Save changes to a user: set ``fields`` (if any), validate, save with history.

    Admin forms call it with the instance the form already changed. Raises
    ``ValidationError`` from ``full_clean``.
    """
    for name, value in fields.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"])
    _attribute(user, actor=actor, reason=reason)
    user.save()
    return user


#: History reason of a password set through the emailed reset link (the user acts).
REASON_PASSWORD_RESET = "Password reset by email link"
#: History reason of a stored hash replaced at sign-in by one of the first hasher in
#: ``PASSWORD_HASHERS`` (same password; ``people.models.User.check_password``).
REASON_PASSWORD_REHASHED = "Password hash upgraded at sign-in"


#: django-ratelimit's group names for the two reset-request counters.
RESET_GROUP_EMAIL = "password_reset.email"
RESET_GROUP_IP = "password_reset.ip"


def password_reset_request(*, email: str, request, send) -> bool:
    """A "Forgotten your password?" request for ``email``: emails the reset link unless
    the request is throttled, and writes one access-log row either way.

    Args: ``email`` as typed; ``request`` the anonymous request (its client IP as the
    access log records it); ``send()`` sends the emails (Django's
    ``PasswordResetForm.save``, which mails every active user of that address with a
    usable password, and nobody for an unknown one). Throttled (nothing sent) once
    ``email`` (case-insensitive) has been asked for more than
    ``PASSWORD_RESET_RATE_PER_EMAIL`` or the IP more than
    ``PASSWORD_RESET_RATE_PER_IP`` (django-ratelimit rates, e.g. ``"3/h"``; fixed
    windows in Django's cache), against mail bombing a colleague's inbox and probing
    addresses (OWASP ASVS 4.0 V2.5; NIST SP 800-63B 5.2.2). The page answers the
    same either way, so the throttle tells nothing about the account. The access-log
    row (action ``reset_requested``) keeps the email typed (``actor_label``; no actor:
    anyone may type an address), the user it names if any as its object, and
    ``throttled`` in its detail. Returns whether ``send`` ran.
    """
    email = email.strip()
    # Both counters count every request: neither call is skipped when the other limits.
    by_email = is_ratelimited(
        request,
        group=RESET_GROUP_EMAIL,
        key=lambda _group, _request: email.lower(),
        rate=settings.PASSWORD_RESET_RATE_PER_EMAIL,
        increment=True,
    )
    by_ip = is_ratelimited(
        request,
        group=RESET_GROUP_IP,
        key=lambda _group, request: client_ip(request) or "",
        rate=settings.PASSWORD_RESET_RATE_PER_IP,
        increment=True,
    )
    throttled = by_email or by_ip
    if not throttled:
        send()
    user = User.objects.named_by(email)
    log_access(
        action=AccessLog.Action.RESET_REQUESTED,
        request=request,
        obj=user,
        actor_label=email[:254],
        detail={"throttled": throttled},
    )
    return not throttled


def reason_password_changed(actor: User | None, *, usable: bool = True) -> str:
    """History reason of a password set on a password page: ``"Password changed by <actor>"``,
    or ``"Password-based sign-in disabled by <actor>"`` when the password was made unusable."""
    who = actor or "the system"
    return f"Password changed by {who}" if usable else f"Password-based sign-in disabled by {who}"


@transaction.atomic
def user_set_password(*, user: User, password: str | None, actor: User | None, reason: str) -> User:
    """Set ``user``'s password (``None``: an unusable one, which turns password sign-in off).

    The one path for every password set: the reset by email link, the admin's
    password page for a user, a user's own password page. Writes one User history
    row attributed to ``actor`` with ``reason``. The hash is excluded from history
    (``User.history``): the row records that the password changed, who changed it and
    why, never what it became. Only the password column is written, so a concurrent
    change to the user's other fields is not overwritten. Password rules (Django's
    ``AUTH_PASSWORD_VALIDATORS``) are the caller's form's to check. Returns the user.
    """
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    _attribute(user, actor=actor, reason=reason)
    user.save(update_fields=["password"])
    return user


MSG_INVITE_PASSWORD_SET = (
    "This user has already set a password; send a password reset instead of an invitation."
)
MSG_INVITE_INACTIVE = "This user is inactive; activate the account before inviting."


@transaction.atomic
def user_invite(
    *,
    email: str,
    actor: User | None,
    reason: str = "Invited",
    role: str | None = None,
    first_name: str = "",
    last_name: str = "",
    base_url: str | None = None,
) -> User:
    """Create a staff user without a password and email them a set-password link.

    Nobody but the user ever types or sees their password (OWASP ASVS 4.0 V2.3.1:
    an initial secret is set by its owner through a one-time link). The user is
    created by :func:`user_create` with ``password=None`` (unusable: password
    sign-in is off until the link is used), then
    :func:`people.invitations.send_invitation` mails the link of Django's reset
    confirm view, valid ``PASSWORD_RESET_TIMEOUT`` seconds and once.
    Args: as :func:`user_create`, plus ``base_url`` (scheme and host of the link;
    default: the request being served). Returns the user. Raises what
    :func:`user_create` raises, ``ValueError`` without a ``base_url`` outside a
    request, and ``smtplib``/``OSError`` errors when the mail is refused (the
    transaction then rolls back: no user without an invitation).
    """
    user = user_create(
        email=email,
        password=None,
        actor=actor,
        reason=reason,
        role=role,
        first_name=first_name,
        last_name=last_name,
    )
    invitations.send_invitation(user=user, inviter=actor, base_url=base_url)
    return user


@transaction.atomic
def user_invite_resend(
    *, user: User, actor: User | None, reason: str, base_url: str | None = None
) -> User:
    """Send ``user`` a new invitation; links sent before stop working.

    The user's unusable password is replaced by a new unusable one, which
    invalidates every earlier link (Django's token covers the password hash), and
    the User history row records ``actor`` and ``reason``. Returns the user. Raises
    ``ValidationError`` with code ``password_set`` when the user already has a
    usable password (a password reset is the way then) or ``inactive`` for an
    inactive user; mail errors as :func:`user_invite`.
    """
    if user.has_usable_password():
        raise ValidationError(MSG_INVITE_PASSWORD_SET, code="password_set")
    if not user.is_active:
        raise ValidationError(MSG_INVITE_INACTIVE, code="inactive")
    user_set_password(user=user, password=None, actor=actor, reason=reason)
    invitations.send_invitation(user=user, inviter=actor, base_url=base_url)
    return user


@transaction.atomic
def lockout_clear(
    *,
    actor: User | None,
    reason: str,
    email: str | None = None,
    ip_address: str | None = None,
) -> int:
    """Unlock sign-in: forget the failed sign-ins of ``email`` and/or from ``ip_address``.

    django-axes counts failures per account and per IP (``AXES_LOCKOUT_PARAMETERS``);
    this deletes the counted attempts (``axes.utils.reset``) of the account, of the
    IP, or of either when both are given, so they may sign in again at once instead
    of after ``AXES_COOLOFF_MINUTES``. Writes one access-log row (action ``unlock``)
    naming ``actor``, with ``reason``, the email, the IP
    and the number of attempts cleared in its detail; its object is the user the
    email names, if any. Returns the number of attempt rows deleted. Raises
    ``ValueError`` when neither ``email`` nor ``ip_address`` is given.
    """
    from axes.utils import reset  # axes' models load with the app registry

    email = (email or "").strip().lower() or None
    if email is None and not ip_address:
        raise ValueError("lockout_clear() needs an email or an IP address.")
    if email and ip_address:
        cleared = reset(ip=ip_address, username=email, ip_or_username=True)
    else:
        cleared = reset(ip=ip_address or None, username=email)
    user = User.objects.named_by(email)
    described = " and ".join(filter(None, [email, ip_address]))
    target = {"obj": user} if user else {"object_repr": f"Sign-in lockout of {described}"}
    log_access(
        action=AccessLog.Action.UNLOCK,
        request=request_of(actor),
        actor=actor,
        detail={
            "email": email or "",
            "ip_address": ip_address or "",
            "attempts_cleared": cleared,
            "reason": reason,
        },
        **target,
    )
    return cleared


@transaction.atomic
def roles_sync(
    *, group_model=Group, permission_model=Permission, strict: bool = True
) -> dict[str, int]:
    """Make each role group hold exactly the permissions ``people.roles.ROLES`` lists.

    ``group_model``/``permission_model`` let the data migrations pass their
    historical models. ``strict=False`` skips permissions that do not exist yet (an
    early migration runs before later ones add them; a later migration re-syncs).
    Returns ``{role name: permission count}``. Raises ``ValueError`` naming any
    permission in ROLES that does not exist (a typo, or a missing migration) when
    ``strict``.
    """
    counts = {}
    for name, perm_names in roles.ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        perms = []
        for dotted in perm_names:
            app_label, codename = dotted.split(".", 1)
            try:
                perms.append(
                    permission_model.objects.get(
                        content_type__app_label=app_label, codename=codename
                    )
                )
            except permission_model.DoesNotExist:
                if not strict:
                    continue
                raise ValueError(
                    f"Role {name!r} names a permission that does not exist: {dotted}"
                ) from None
        group.permissions.set(perms)
        counts[name] = len(perms)
    return counts


#: The largest profile photo upload taken, in bytes.
PHOTO_MAX_BYTES = 5 * 1024 * 1024
#: Image formats taken for a profile photo, as Pillow names them (read from the
#: content, never from the file name or the browser's content type).
PHOTO_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
#: A stored photo's longest side, in pixels; a larger one is scaled down.
PHOTO_MAX_SIDE = 512
#: The largest image (in pixels) decoded at all: a small file can claim a huge
#: canvas and take the memory of a decompression bomb.
PHOTO_MAX_PIXELS = 40_000_000

MSG_PHOTO_TOO_LARGE = "The photo is larger than 5 MB."
MSG_PHOTO_NOT_IMAGE = "The file is not a JPEG, PNG, GIF or WebP image."
MSG_PHOTO_TOO_MANY_PIXELS = "The image is too large (more than 40 megapixels)."
MSG_PROFILE_NOT_YOURS = "You may change your own profile only."

#: The fields of a profile its owner edits (``profile_update``).
PROFILE_FIELDS = ("title", "phone", "photo")


def photo_process(upload) -> ContentFile:
    """Check an uploaded photo by its content and make the file that is stored.

    Args: a Django ``UploadedFile`` (or any file object with ``size`` and ``read``).
    Returns a ``ContentFile`` named ``<random hex>.jpg`` or ``.png``: the image
    decoded by Pillow, turned as its EXIF orientation says, scaled to at most
    ``PHOTO_MAX_SIDE`` pixels a side and encoded anew, so nothing of the upload but
    its pixels is kept (no EXIF location, no bytes a browser might read as
    something else) and the name says nothing about the person. Raises
    ``ValidationError`` (field ``photo``; codes ``photo_too_large``,
    ``photo_not_image``, ``photo_too_many_pixels``).
    """
    if upload.size is not None and upload.size > PHOTO_MAX_BYTES:
        raise ValidationError(
            {"photo": ValidationError(MSG_PHOTO_TOO_LARGE, code="photo_too_large")}
        )
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(PHOTO_MAX_BYTES + 1)
    if len(data) > PHOTO_MAX_BYTES:
        raise ValidationError(
            {"photo": ValidationError(MSG_PHOTO_TOO_LARGE, code="photo_too_large")}
        )
    not_image = ValidationError(
        {"photo": ValidationError(MSG_PHOTO_NOT_IMAGE, code="photo_not_image")}
    )
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in PHOTO_FORMATS:
            raise not_image
        if image.width * image.height > PHOTO_MAX_PIXELS:
            raise ValidationError(
                {"photo": ValidationError(MSG_PHOTO_TOO_MANY_PIXELS, code="photo_too_many_pixels")}
            )
        image = ImageOps.exif_transpose(image)
        image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise not_image from None
    out = io.BytesIO()
    if image.mode in ("RGBA", "LA", "P"):
        image.convert("RGBA").save(out, format="PNG", optimize=True)
        extension = "png"
    else:
        image.convert("RGB").save(out, format="JPEG", quality=85)
        extension = "jpg"
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.{extension}")


@transaction.atomic
def profile_update(*, profile: Profile, actor: User | None, reason: str, **fields) -> Profile:
    """Change a user's profile (title, phone, photo): the one path for every profile write.

    Args: ``profile``; ``actor``, who may change their own profile, or any with
    ``people.change_profile`` (None: the system); ``reason``, why (the Profile has
    no history table: title, phone and photo are not audited data, so the reason
    is not stored; it is asked for so that every service reads alike and a history
    added later gets it); ``fields``: any of ``PROFILE_FIELDS``, where ``photo`` is
    an uploaded file (checked and re-encoded by :func:`photo_process`, stored
    under a random name) or ``None``/``False`` to remove the photo. Without
    ``fields`` the profile is saved as the caller changed it (an admin inline).
    The previous photo file is deleted once the new state is committed.
    Returns the profile. Raises ``PermissionDenied`` for someone else's profile
    without the permission, ``ValidationError`` for a bad photo or field, and
    ``TypeError`` for a field not in ``PROFILE_FIELDS``.
    """
    if (
        actor is not None
        and actor.pk != profile.user_id
        and not actor.has_perm("people.change_profile")
    ):
        raise PermissionDenied(MSG_PROFILE_NOT_YOURS)
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(
            f"profile_update() got fields it does not change: {', '.join(sorted(unknown))}"
        )
    stored = Profile.objects.filter(pk=profile.pk).values_list("photo", flat=True).first()
    for name, value in fields.items():
        if name != "photo":
            setattr(profile, name, value)
    if "photo" in fields:
        photo = fields["photo"]
        profile.photo = photo_process(photo) if photo else ""
    elif profile.photo and not profile.photo._committed:
        # An admin form set an uploaded file on the instance.
        profile.photo = photo_process(profile.photo.file)
    profile.full_clean(exclude=["user"])
    profile.save()
    if stored and stored != profile.photo.name:
        storage = Profile._meta.get_field("photo").storage
        transaction.on_commit(lambda: storage.delete(stored))
    return profile


# -- two-factor sign-in (people.two_factor) ---------------------------------------------
# Devices are django-otp's models (no history table): each write here leaves an
# access-log row (admin_ext.audit) naming the actor, the user concerned and the reason.

MSG_OTP_BAD_CODE = "That code is not right. Check the time on your phone and try again."
MSG_OTP_THROTTLED = "Too many wrong codes. Wait {seconds} seconds, then try again."
MSG_OTP_ENROLLED = "Two-factor sign-in is already set up for this account."
MSG_OTP_NOT_ENROLLED = "Two-factor sign-in is not set up for this account."
MSG_OTP_REQUIRED = "Your role requires two-factor sign-in; it cannot be turned off."
MSG_OTP_OWN_ONLY = "You may change your own two-factor sign-in only."
MSG_OTP_RESET_DENIED = "You may not reset this user's two-factor sign-in."
MSG_OTP_REASON = "Give a reason."


def _otp_log(action: str, *, user: User, actor: User | None, reason: str, **detail):
    log_access(
        action=action,
        request=request_of(actor),
        actor=actor,
        # By model and id: request.user is a lazy proxy (django-otp's middleware).
        model=User,
        object_id=user.pk,
        object_repr=str(user),
        detail={"reason": reason, **detail},
    )


def _otp_own(user: User, actor: User | None) -> None:
    if actor is not None and actor.pk != user.pk:
        raise PermissionDenied(MSG_OTP_OWN_ONLY)


def _otp_new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.OTP_RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _otp_delete_devices(user: User) -> int:
    deleted = TOTPDevice.objects.filter(user=user).delete()[1].get(TOTPDevice._meta.label, 0)
    deleted += StaticDevice.objects.filter(user=user).delete()[1].get(StaticDevice._meta.label, 0)
    return deleted


def otp_normalize_code(code: str) -> str:
    """A typed code as it is checked: spaces and dashes dropped, lower case."""
    return "".join(ch for ch in (code or "") if ch not in " -\t").lower()


@transaction.atomic
def otp_enroll_confirm(
    *, user: User, key: str, code: str, actor: User | None, reason: str
) -> tuple:
    """Enrol ``user``'s authenticator app: the secret ``key`` (hex, as shown on the
    enrolment page) becomes a confirmed ``TOTPDevice`` once ``code`` (the app's
    current 6-digit code, RFC 6238, one step of clock drift either way) matches, and
    ``OTP_RECOVERY_CODE_COUNT`` new recovery codes replace any old ones.

    Only the user enrols themselves (``actor`` is the user, or None for the system).
    Returns ``(device, codes)``: the codes in clear, to show once (NIST SP 800-63B
    5.1.2, look-up secrets). The accepted step is recorded, so the same code cannot
    sign in again. Writes an ``otp_enroll`` access-log row. Raises
    ``PermissionDenied`` (someone else's account) and ``ValidationError``
    (``otp_enrolled``: already enrolled; ``otp_bad_code``: the code does not match).
    """
    _otp_own(user, actor)
    if authenticator(user) is not None:
        raise ValidationError(MSG_OTP_ENROLLED, code="otp_enrolled")
    device = TOTPDevice(user=user, key=key, name="Authenticator app", confirmed=True)
    device.full_clean(exclude=["user"])
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    code = otp_normalize_code(code)
    if not (code.isdigit() and totp.verify(int(code), tolerance=device.tolerance)):
        raise ValidationError(MSG_OTP_BAD_CODE, code="otp_bad_code")
    device.last_t = totp.t()
    TOTPDevice.objects.filter(user=user).delete()  # unconfirmed leftovers
    device.save()
    codes = _otp_new_recovery_codes(user)
    _otp_log("otp_enroll", user=user, actor=actor, reason=reason, recovery_codes=len(codes))
    return device, codes


def otp_verify(*, user: User, code: str):
    """Check the second factor of ``user``'s sign-in: a 6-digit authenticator code, or
    one of their recovery codes (used up by this call).

    Not one transaction on purpose: a wrong code's throttling (django-otp,
    ``OTP_TOTP_THROTTLE_FACTOR``: after n failures the next try waits
    factor * 2**(n-1) seconds; NIST SP 800-63B 5.2.2) must be committed even though
    the caller shows an error. Returns the django-otp device that accepted the code
    (pass it to ``django_otp.login``). Writes an access-log row: ``otp_failed`` on a
    wrong or throttled code, ``otp_recovery_used`` (with the codes left) when a
    recovery code signs in. Raises ``ValidationError`` (``otp_throttled``,
    ``otp_bad_code``).
    """
    code = otp_normalize_code(code)
    recovery = not code.isdigit()
    device = recovery_device(user) if recovery else authenticator(user)
    kind = "recovery code" if recovery else "authenticator"
    if device is not None:
        allowed, info = device.verify_is_allowed()
        if not allowed:
            wait = max(1, int((info["locked_until"] - timezone.now()).total_seconds()) + 1)
            _otp_log(
                "otp_failed", user=user, actor=user, reason="Throttled", kind=kind, throttled=True
            )
            raise ValidationError(
                MSG_OTP_THROTTLED.format(seconds=wait), code="otp_throttled", params={"wait": wait}
            )
    verified = device and django_otp.verify_token(user, device.persistent_id, code)
    if not verified:
        failures = type(device).objects.get(pk=device.pk).throttling_failure_count if device else 0
        _otp_log(
            "otp_failed", user=user, actor=user, reason="Wrong code", kind=kind, failures=failures
        )
        raise ValidationError(MSG_OTP_BAD_CODE, code="otp_bad_code")
    if recovery:
        left = verified.token_set.count()
        _otp_log("otp_recovery_used", user=user, actor=user, reason="Signed in", left=left)
    return verified


@transaction.atomic
def otp_recovery_codes_regenerate(*, user: User, actor: User | None, reason: str) -> list[str]:
    """Replace ``user``'s recovery codes with ``OTP_RECOVERY_CODE_COUNT`` new ones (the old
    ones stop working). Own account only. Returns the new codes in clear, to show
    once. Writes an ``otp_codes_renewed`` access-log row. Raises ``PermissionDenied``
    (someone else's) and ``ValidationError`` (``otp_not_enrolled``).
    """
    _otp_own(user, actor)
    if authenticator(user) is None:
        raise ValidationError(MSG_OTP_NOT_ENROLLED, code="otp_not_enrolled")
    codes = _otp_new_recovery_codes(user)
    _otp_log("otp_codes_renewed", user=user, actor=actor, reason=reason, recovery_codes=len(codes))
    return codes


@transaction.atomic
def otp_disable(*, user: User, actor: User | None, reason: str) -> int:
    """Turn two-factor sign-in off for ``user`` (own account, optional roles only): their
    authenticator and recovery codes are deleted. Returns the devices deleted.
    Writes an ``otp_disable`` access-log row. Raises ``PermissionDenied`` (someone
    else's) and ``ValidationError`` (``otp_required``: a superuser or a role of
    ``OTP_REQUIRED_ROLES``; ``otp_not_enrolled``).
    """
    _otp_own(user, actor)
    if is_required(user):
        raise ValidationError(MSG_OTP_REQUIRED, code="otp_required")
    if authenticator(user) is None:
        raise ValidationError(MSG_OTP_NOT_ENROLLED, code="otp_not_enrolled")
    deleted = _otp_delete_devices(user)
    _otp_log("otp_disable", user=user, actor=actor, reason=reason, devices=deleted)
    return deleted


def otp_may_reset(*, user: User, actor: User) -> bool:
    """Whether ``actor`` may reset ``user``'s two-factor sign-in: ``people.change_user``,
    and a superuser's only by a superuser (as for changing a superuser at all)."""
    if not actor.has_perm("people.change_user"):
        return False
    return actor.is_superuser or not user.is_superuser


@transaction.atomic
def otp_reset(*, user: User, actor: User | None, reason: str) -> int:
    """Reset ``user``'s two-factor sign-in (a lost phone): delete their authenticator and
    recovery codes, so that their next sign-in enrols anew when their role requires
    it, and every session verified with the old authenticator must verify again.

    ``actor``: an administrator (:func:`otp_may_reset`) or None for an operator's
    command (``manage.py reset_2fa``). ``reason`` is required. Returns the devices
    deleted (0: nothing was set up). Writes an ``otp_reset`` access-log row. Raises
    ``PermissionDenied`` and ``ValidationError`` (``otp_reason``).
    """
    if actor is not None and not otp_may_reset(user=user, actor=actor):
        raise PermissionDenied(MSG_OTP_RESET_DENIED)
    if not (reason or "").strip():
        raise ValidationError(MSG_OTP_REASON, code="otp_reason")
    deleted = _otp_delete_devices(user)
    _otp_log("otp_reset", user=user, actor=actor, reason=reason.strip(), devices=deleted)
    return deleted
