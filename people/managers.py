"""The ``User`` manager: email is the login, there is no username."""

from django.contrib.auth.models import UserManager as DjangoUserManager


class UserManager(DjangoUserManager):
    """Creates users by email. Mirrors Django's ``UserManager`` minus the username.

    Use ``people.services.user_create`` in application code: it also gives the user
    a role and writes history with an actor and reason. These methods stay for
    Django's own tooling (``createsuperuser``, tests).
    """

    use_in_migrations = True

    def named_by(self, email: str | None):
        """The user whose email is ``email`` in any case, as sign-in matches it; None for
        an empty or unknown email (a failed sign-in, an unlock, a reset request)."""
        return self.filter(email__iexact=email).first() if email else None

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        email = self.normalize_email(email)
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        """Create and return a regular (non-staff) user.

        Args: ``email`` (str, required), ``password`` (str or None for an unusable
        password), any other ``User`` field as keyword. Raises ``ValueError`` when
        ``email`` is empty.
        """
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        """Create and return a superuser (operators only, see DESIGN.md).

        Raises ``ValueError`` if ``is_staff`` or ``is_superuser`` is passed as False.
        """
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if extra_fields.get("is_staff") is not True:
            raise ValueError("Superuser must have is_staff=True.")
        if extra_fields.get("is_superuser") is not True:
            raise ValueError("Superuser must have is_superuser=True.")
        return self._create_user(email, password, **extra_fields)
