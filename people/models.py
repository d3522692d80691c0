"""People: the login ``User`` (email is the username), its ``Profile`` and login events."""

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from people.managers import UserManager


class User(AbstractUser):
    """A person who signs in to the back office.

    The email address is the login (``USERNAME_FIELD``); there is no username.
    What a user may do comes from their role, a Django ``Group`` defined in
    ``people/roles.py``. History covers the row and its group memberships.
    """

    username = None
    email = models.EmailField(_("email address"), unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()
    history = HistoricalRecords(m2m_fields=["groups"], excluded_fields=["password", "last_login"])

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]

    def __str__(self):
        full_name = self.get_full_name()
        return f"{full_name} <{self.email}>" if full_name else self.email

    def check_password(self, raw_password):
        """Django's check, whose re-hash of a correct password stored with an older
        hasher (PBKDF2 to Argon2, ``PASSWORD_HASHERS``) or work factor goes through
        ``people.services.user_set_password``: the User history row it writes says why
        (``REASON_PASSWORD_REHASHED``), instead of a row with no reason."""

        def setter(raw):
            from people import services  # services import this module

            services.user_set_password(
                user=self, password=raw, actor=None, reason=services.REASON_PASSWORD_REHASHED
            )

        return check_password(raw_password, self.password, setter)

    @property
    def role_names(self) -> list[str]:
        """Names of the roles (groups) this user holds, sorted."""
        return sorted(group.name for group in self.groups.all())


class Profile(models.Model):
    """What the back office keeps about a user beyond the login.

    Created for every new user by a ``post_save`` receiver (``people/signals.py``).
    ``login_count`` and ``last_login_ip`` are kept by the ``user_logged_in`` receiver.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    photo = models.ImageField(_("photo"), upload_to="profiles/", blank=True)
    title = models.CharField(_("title"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    login_count = models.PositiveIntegerField(_("login count"), default=0, editable=False)
    last_login_ip = models.GenericIPAddressField(
        _("last login IP"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self):
        return f"Profile of {self.user.email}"


class LoginEvent(models.Model):
    """One sign-in success, failure or sign-out, from Django's auth signals.

    ``user`` is null for a failed attempt on an unknown email; ``email`` keeps the
    address that was typed either way.
    """

    class Kind(models.TextChoices):
        SUCCESS = "success", _("Login succeeded")
        FAILURE = "failure", _("Login failed")
        LOGOUT = "logout", _("Logout")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="login_events",
    )
    email = models.CharField(_("email"), max_length=254, blank=True)
    kind = models.CharField(_("event"), max_length=10, choices=Kind.choices)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("login event")
        verbose_name_plural = _("login events")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.email} at {self.created_at:%Y-%m-%d %H:%M}"
