"""Passwords: hashed with Argon2, at least 12 characters on every human-facing path."""

import io
import re
from unittest import mock

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse

from admin_ext.audit.guards import allow_untracked_update
from admin_ext.testing import PASSWORD, ClinicTestCase
from backoffice import settings as production
from clinic.demo import DEMO_LOGINS
from people import services
from people.models import User

SHORT = "Tidal-pool7"  # 11 characters, otherwise fine
GOOD = "Tidal-pool-77"  # 13 characters


class HasherTests(ClinicTestCase):
    # conftest.py sets MD5 for speed; the settings module keeps what production runs.

    def test_the_settings_module_hashes_with_argon2_first_and_keeps_pbkdf2(self):
        hashers = production.PASSWORD_HASHERS
        self.assertEqual(hashers[0], "django.contrib.auth.hashers.Argon2PasswordHasher")
        self.assertIn("django.contrib.auth.hashers.PBKDF2PasswordHasher", hashers)
        with override_settings(PASSWORD_HASHERS=hashers):
            self.assertTrue(make_password(GOOD).startswith("argon2$argon2id$"))

    def test_an_old_pbkdf2_hash_still_signs_in_and_is_upgraded_to_argon2(self):
        with override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS):
            old = make_password(PASSWORD, hasher="pbkdf2_sha256")
            with allow_untracked_update("a hash stored before Argon2, as on an old database"):
                User.objects.filter(pk=self.front_desk.pk).update(password=old)
            response = self.client.post(
                reverse("admin:login"), {"username": "desk@example.com", "password": PASSWORD}
            )
            self.assertEqual(response.status_code, 302)
            stored = User.objects.get(pk=self.front_desk.pk).password
            self.assertTrue(stored.startswith("argon2$"), stored[:20])
            latest = self.front_desk.history.latest()
            self.assertEqual(latest.history_change_reason, services.REASON_PASSWORD_REHASHED)
            self.assertIsNone(latest.history_user)


class MinimumLengthTests(ClinicTestCase):
    def test_the_validators_refuse_eleven_characters_and_take_twelve(self):
        with self.assertRaisesMessage(Exception, "at least 12 characters"):
            validate_password(SHORT)
        validate_password(GOOD)

    def test_the_admin_setting_a_users_password_refuses_a_short_one(self):
        self.login(self.operator)
        response = self.client.post(
            reverse("admin:auth_user_password_change", args=[self.alice.pk]),
            {"password1": SHORT, "password2": SHORT, "usable_password": "true"},
        )
        self.assertContains(response, "at least 12 characters")
        self.assertTrue(User.objects.get(pk=self.alice.pk).check_password(PASSWORD))

    def test_your_own_password_page_refuses_a_short_one(self):
        self.login(self.front_desk)
        response = self.client.post(
            reverse("admin:password_change"),
            {"old_password": PASSWORD, "new_password1": SHORT, "new_password2": SHORT},
        )
        self.assertContains(response, "at least 12 characters")
        self.assertTrue(User.objects.get(pk=self.front_desk.pk).check_password(PASSWORD))

    def test_the_reset_link_refuses_a_short_one(self):
        self.client.post(reverse("admin_password_reset"), {"email": "desk@example.com"})
        link = re.search(r"(/reset/[^/\s]+/[^/\s]+/)", mail.outbox[0].body).group(1)
        form_url = self.client.get(link, follow=True).redirect_chain[-1][0]
        response = self.client.post(form_url, {"new_password1": SHORT, "new_password2": SHORT})
        self.assertContains(response, "at least 12 characters")

    def test_changepassword_refuses_a_short_one(self):
        target = "django.contrib.auth.management.commands.changepassword.getpass.getpass"
        with mock.patch(target, return_value=SHORT):
            with self.assertRaisesMessage(CommandError, "Aborting password change"):
                call_command("changepassword", "desk@example.com", stdout=io.StringIO())
        self.assertTrue(User.objects.get(pk=self.front_desk.pk).check_password(PASSWORD))

    def test_createsuperuser_offers_no_bypass_of_the_rules(self):
        getpass = "django.contrib.auth.management.commands.createsuperuser.getpass.getpass"
        answers = iter([SHORT, SHORT, GOOD, GOOD])
        stderr = io.StringIO()
        with (
            mock.patch(getpass, side_effect=lambda *a: next(answers)),
            mock.patch("builtins.input", side_effect=AssertionError("asked to bypass")),
        ):
            call_command(
                "createsuperuser",
                email="root@example.com",
                interactive=True,
                stdin=mock.Mock(isatty=lambda: True),
                stdout=io.StringIO(),
                stderr=stderr,
            )
        self.assertIn("at least 12 characters", stderr.getvalue())
        self.assertIn("cannot be bypassed", stderr.getvalue())
        self.assertTrue(User.objects.get(email="root@example.com").check_password(GOOD))

    def test_createsuperuser_without_input_refuses_a_short_environment_password(self):
        with mock.patch.dict("os.environ", {"DJANGO_SUPERUSER_PASSWORD": SHORT}):
            with self.assertRaisesMessage(CommandError, "at least 12 characters"):
                call_command(
                    "createsuperuser", email="root@example.com", interactive=False, verbosity=0
                )
        self.assertFalse(User.objects.filter(email="root@example.com").exists())

    def test_every_demo_login_satisfies_the_rules(self):
        for login in DEMO_LOGINS:
            with self.subTest(email=login.email):
                validate_password(login.password, User(email=login.email))
