"""Writes to people: one function per operation (DESIGN.md, "Writes: one path each").

Each takes keyword arguments including ``actor`` (the ``User`` doing it, or None
for the system) and ``reason`` (free text kept as ``history_change_reason``), runs in
one transaction and writes history attributed to the actor.
"""

import io
import uuid

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image, ImageOps, UnidentifiedImageError

from people import roles
from people.models import Profile, User


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
    ``RoleError`` for an unknown role.
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
