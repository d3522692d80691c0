"""Rotating SECRET_KEY (docs/security.md): signed-in users and emailed links survive it
while the old key is listed in ``SECRET_KEY_FALLBACKS``, and stop working once it is
dropped. Django 4.1+ checks the fallbacks for session auth hashes and for password
reset tokens (which the invitation links are too)."""

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.test import TestCase, override_settings
from django.urls import reverse

from people.tests.factories import UserFactory

OLD_KEY = "old-key-" + "o" * 50
NEW_KEY = "new-key-" + "n" * 50


class SecretKeyRotationTests(TestCase):
    def setUp(self):
        self.user = UserFactory()  # no role: two-factor is optional for it

    def signed_in_client_under_old_key(self):
        with override_settings(SECRET_KEY=OLD_KEY):
            self.client.force_login(self.user)
        return self.client

    def reset_token_under_old_key(self) -> str:
        with override_settings(SECRET_KEY=OLD_KEY):
            return PasswordResetTokenGenerator().make_token(self.user)

    def test_a_session_survives_rotation_while_the_old_key_is_a_fallback(self):
        client = self.signed_in_client_under_old_key()
        with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
            response = client.get(reverse("my_profile"))
        self.assertEqual(response.status_code, 200)

    def test_a_session_ends_once_the_old_key_is_dropped(self):
        client = self.signed_in_client_under_old_key()
        with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
            response = client.get(reverse("my_profile"))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("admin:login"), response["Location"])

    def test_an_emailed_link_survives_rotation_only_with_the_fallback(self):
        token = self.reset_token_under_old_key()
        with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
            self.assertTrue(PasswordResetTokenGenerator().check_token(self.user, token))
        with override_settings(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[]):
            self.assertFalse(PasswordResetTokenGenerator().check_token(self.user, token))
