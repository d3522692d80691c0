"""Django's ``createsuperuser``, with a reason in the new user's history row and the
password rules enforced on every path.

Same options and prompts as Django's (this app precedes ``django.contrib.auth`` in
``INSTALLED_APPS``, so this command replaces it). The history row's actor stays empty
(the system: nobody is signed in at a shell); its reason says how the user came to be.

Django's command lets an operator skip ``AUTH_PASSWORD_VALIDATORS`` (the "Bypass
password validation and create user anyway?" prompt) and never checks
``DJANGO_SUPERUSER_PASSWORD`` with ``--noinput``. A superuser holds every patient's
record, so here neither is possible (OWASP ASVS 4.0 V2.1.1, 12 characters at least):
the prompt always answers no, and a weak ``DJANGO_SUPERUSER_PASSWORD`` is a
``CommandError``.
"""

import builtins
import os
from unittest import mock

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from admin_ext.audit.services import default_change_reason

REASON = "Superuser created with manage.py createsuperuser"
BYPASS_PROMPT = "Bypass password validation"


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        if not options["interactive"] and "DJANGO_SUPERUSER_PASSWORD" in os.environ:
            email = options.get(get_user_model().USERNAME_FIELD) or os.environ.get(
                "DJANGO_SUPERUSER_EMAIL", ""
            )
            try:
                validate_password(
                    os.environ["DJANGO_SUPERUSER_PASSWORD"], get_user_model()(email=email)
                )
            except ValidationError as error:
                raise CommandError(
                    "DJANGO_SUPERUSER_PASSWORD: " + " ".join(error.messages)
                ) from None
        with (
            default_change_reason(REASON),
            mock.patch.object(createsuperuser, "input", self._input, create=True),
        ):
            return super().handle(*args, **options)

    def _input(self, prompt: str = "") -> str:
        """``input()`` for Django's command: every other question as asked; the offer
        to bypass the password rules is answered no."""
        if prompt.startswith(BYPASS_PROMPT):
            self.stderr.write("Password rules cannot be bypassed; choose another password.")
            return "n"
        return builtins.input(prompt)
