"""Changing a password on the admin's password page keeps the session signed in."""

from django.http import HttpRequest
from django.urls import reverse

from admin_ext.testing import PASSWORD, ClinicTestCase
from people.models import User
from people.two_factor.testing import verify_session

NEW_PASSWORD = "Winter-Harbour-42"


class PasswordChangeTests(ClinicTestCase):
    def change_password(self, user):
        return self.client.post(
            reverse("admin:auth_user_password_change", args=[user.pk]),
            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )

    def test_it_keeps_you_signed_in_after_changing_your_own_password(self):
        self.assertTrue(
            self.client.login(request=HttpRequest(), email="admin@example.com", password=PASSWORD)
        )
        verify_session(self.client, self.admin)  # Administrators sign in with two factors
        response = self.change_password(self.admin)
        self.assertRedirects(response, reverse("admin:people_user_change", args=[self.admin.pk]))

        response = self.client.get(reverse("admin:index"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.wsgi_request.user, self.admin)
        self.assertTrue(User.objects.get(pk=self.admin.pk).check_password(NEW_PASSWORD))

    def test_it_records_the_change_in_history_with_actor_and_reason(self):
        self.client.login(request=HttpRequest(), email="admin@example.com", password=PASSWORD)
        verify_session(self.client, self.admin)
        self.change_password(self.front_desk)
        latest = self.front_desk.history.latest()
        self.assertEqual(latest.history_user, self.admin)
        self.assertEqual(latest.history_change_reason, f"Password changed by {self.admin}")

    def test_it_refuses_an_administrator_changing_an_operators_password(self):
        self.client.login(request=HttpRequest(), email="admin@example.com", password=PASSWORD)
        verify_session(self.client, self.admin)
        response = self.change_password(self.operator)
        self.assertEqual(response.status_code, 403)
        self.assertTrue(User.objects.get(pk=self.operator.pk).check_password(PASSWORD))

    def test_it_refuses_front_desk(self):
        self.client.login(request=HttpRequest(), email="desk@example.com", password=PASSWORD)
        response = self.change_password(self.alice)
        self.assertEqual(response.status_code, 403)
