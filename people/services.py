"""Writes to people: one function per operation (DESIGN.md, "Writes: one path each").

Each takes keyword arguments including ``actor`` (the ``User`` doing it, or None
for the system) and ``reason`` (free text kept as ``history_change_reason``), runs in
one transaction and writes history attributed to the actor.
"""

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction

from people import roles
from people.models import User


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
