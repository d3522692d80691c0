"""Login events (success, failure, logout) and the profile's login count and IP."""

from django.urls import reverse

from admin_ext.testing import PASSWORD, ClinicTestCase
from people.models import LoginEvent


class LoginEventTests(ClinicTestCase):
    def sign_in(self, email, password):
        return self.client.post(
            reverse("admin:login"),
            {"username": email, "password": password, "next": reverse("admin:index")},
            REMOTE_ADDR="203.0.113.7",
            HTTP_USER_AGENT="TestBrowser/1.0",
        )

    def test_it_records_a_successful_login_with_ip_and_user_agent(self):
        response = self.sign_in("desk@example.com", PASSWORD)
        self.assertRedirects(response, reverse("admin:index"))
        event = LoginEvent.objects.get(kind=LoginEvent.Kind.SUCCESS)
        self.assertEqual(event.user, self.front_desk)
        self.assertEqual(event.email, "desk@example.com")
        self.assertEqual(event.ip_address, "203.0.113.7")
        self.assertEqual(event.user_agent, "TestBrowser/1.0")

    def test_it_counts_logins_and_keeps_the_last_ip(self):
        self.sign_in("desk@example.com", PASSWORD)
        self.client.logout()
        self.sign_in("desk@example.com", PASSWORD)
        self.front_desk.profile.refresh_from_db()
        self.assertEqual(self.front_desk.profile.login_count, 2)
        self.assertEqual(self.front_desk.profile.last_login_ip, "203.0.113.7")

    def test_it_records_a_failure_with_the_typed_email_and_no_password(self):
        response = self.sign_in("desk@example.com", "wrong-password")
        self.assertEqual(response.status_code, 200)  # the form again, with an error
        event = LoginEvent.objects.get(kind=LoginEvent.Kind.FAILURE)
        self.assertEqual(event.user, self.front_desk)
        self.assertEqual(event.email, "desk@example.com")
        self.assertNotIn("wrong-password", str(event.__dict__))
        self.front_desk.profile.refresh_from_db()
        self.assertEqual(self.front_desk.profile.login_count, 0)

    def test_it_records_a_failure_for_an_unknown_email(self):
        self.sign_in("nobody@example.com", "whatever")
        event = LoginEvent.objects.get(kind=LoginEvent.Kind.FAILURE)
        self.assertIsNone(event.user)
        self.assertEqual(event.email, "nobody@example.com")

    def test_it_records_a_logout(self):
        self.sign_in("desk@example.com", PASSWORD)
        self.client.post(reverse("admin:logout"), REMOTE_ADDR="203.0.113.8")
        event = LoginEvent.objects.get(kind=LoginEvent.Kind.LOGOUT)
        self.assertEqual(event.user, self.front_desk)
        self.assertEqual(event.ip_address, "203.0.113.8")

    def test_it_sets_last_login_without_adding_a_history_row(self):
        rows_before = self.front_desk.history.count()
        self.sign_in("desk@example.com", PASSWORD)
        self.front_desk.refresh_from_db()
        self.assertIsNotNone(self.front_desk.last_login)
        self.assertEqual(self.front_desk.history.count(), rows_before)
