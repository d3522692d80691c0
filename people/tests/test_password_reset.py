"""Password reset by email, from the admin login page to a working new password."""

import re

from django.core import mail
from django.http import HttpRequest
from django.test import SimpleTestCase, override_settings
from django.urls import reverse

from admin_ext.audit.models import AccessLog
from admin_ext.testing import ClinicTestCase
from backoffice.tests.test_settings import production_env, run_manage

NEW_PASSWORD = "Autumn-Lighthouse-77"


class PasswordResetTests(ClinicTestCase):
    def test_it_links_forgotten_password_from_the_login_page(self):
        response = self.client.get(reverse("admin:login"))
        self.assertContains(response, f'href="{reverse("admin_password_reset")}"')
        self.assertContains(response, "Forgotten your password")

    def test_it_resets_a_password_through_the_emailed_link(self):
        response = self.client.post(reverse("admin_password_reset"), {"email": "desk@example.com"})
        self.assertRedirects(response, reverse("password_reset_done"))
        self.assertEqual(len(mail.outbox), 1)
        self.assertEqual(mail.outbox[0].to, ["desk@example.com"])
        link = re.search(r"https?://[^/\s]+(/reset/[^/\s]+/[^/\s]+/)", mail.outbox[0].body).group(1)

        # The link puts the token in the session and redirects to the set-password form.
        response = self.client.get(link, follow=True)
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.context["validlink"])
        form_url = response.redirect_chain[-1][0]
        response = self.client.post(
            form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        )
        self.assertRedirects(response, reverse("password_reset_complete"))

        self.assertTrue(
            self.client.login(
                request=HttpRequest(), email="desk@example.com", password=NEW_PASSWORD
            )
        )

    def test_it_sends_nothing_for_an_unknown_email(self):
        response = self.client.post(
            reverse("admin_password_reset"), {"email": "nobody@example.com"}
        )
        self.assertRedirects(response, reverse("password_reset_done"))
        self.assertEqual(mail.outbox, [])

    def test_it_refuses_a_tampered_link(self):
        self.client.post(reverse("admin_password_reset"), {"email": "desk@example.com"})
        link = re.search(r"(/reset/[^/\s]+/)([^/\s]+)/", mail.outbox[0].body)
        response = self.client.get(f"{link.group(1)}bad-token/", follow=True)
        self.assertFalse(response.context["validlink"])

    def test_it_answers_an_existing_and_an_unknown_email_alike(self):
        answers = []
        for email in ("desk@example.com", "nobody@example.com"):
            response = self.client.post(reverse("admin_password_reset"), {"email": email})
            page = self.client.get(response["Location"])
            text = re.sub(r'nonce="[^"]*"|value="[^"]*"', "", page.content.decode())
            answers.append((response.status_code, response["Location"], page.status_code, text))
        self.assertEqual(answers[0], answers[1])
        self.assertEqual(len(mail.outbox), 1)  # only the existing account gets mail


@override_settings(PASSWORD_RESET_RATE_PER_EMAIL="3/h", PASSWORD_RESET_RATE_PER_IP="20/h")
class PasswordResetThrottleTests(ClinicTestCase):
    def ask(self, email, ip="203.0.113.7"):
        response = self.client.post(
            reverse("admin_password_reset"), {"email": email}, REMOTE_ADDR=ip
        )
        self.assertRedirects(response, reverse("password_reset_done"))

    def logged(self):
        return list(
            AccessLog.objects.filter(action=AccessLog.Action.RESET_REQUESTED).order_by("pk")
        )

    def test_it_stops_mailing_one_address_after_the_limit(self):
        for _ in range(5):
            self.ask("desk@example.com")
        self.assertEqual(len(mail.outbox), 3)
        self.assertEqual(
            [entry.detail["throttled"] for entry in self.logged()], [False] * 3 + [True] * 2
        )

    def test_it_counts_an_address_whatever_its_case(self):
        for email in (
            "desk@example.com",
            "DESK@example.com",
            "Desk@Example.COM",
            "desk@example.com",
        ):
            self.ask(email)
        self.assertEqual(len(mail.outbox), 3)

    def test_other_addresses_are_still_mailed(self):
        for _ in range(4):
            self.ask("desk@example.com")
        self.ask("alice@example.com")
        self.assertEqual(mail.outbox[-1].to, ["alice@example.com"])
        self.assertEqual(len(mail.outbox), 4)

    @override_settings(PASSWORD_RESET_RATE_PER_IP="2/h")
    def test_it_stops_one_client_ip_asking_for_many_addresses(self):
        self.ask("desk@example.com")
        self.ask("alice@example.com")
        self.ask("steward@example.com")
        self.ask("auditor@example.com", ip="198.51.100.9")  # another client
        self.assertEqual(
            [m.to for m in mail.outbox],
            [["desk@example.com"], ["alice@example.com"], ["auditor@example.com"]],
        )

    def test_a_throttled_request_answers_as_a_mailed_one(self):
        pages = []
        for _ in range(4):
            response = self.client.post(
                reverse("admin_password_reset"), {"email": "desk@example.com"}, follow=True
            )
            text = re.sub(r'nonce="[^"]*"|value="[^"]*"', "", response.content.decode())
            pages.append((response.status_code, response.redirect_chain, text))
        self.assertEqual(len(mail.outbox), 3)
        self.assertEqual(pages[3], pages[0])

    def test_each_request_is_access_logged_with_the_address_typed(self):
        self.ask("Desk@Example.com")
        self.ask("nobody@example.com")
        known, unknown = self.logged()
        self.assertIsNone(known.actor)
        self.assertEqual(known.actor_label, "Desk@Example.com")
        self.assertEqual(known.object_id, str(self.front_desk.pk))
        self.assertEqual(known.ip_address, "203.0.113.7")
        self.assertEqual(unknown.actor_label, "nobody@example.com")
        self.assertEqual(unknown.object_id, "")
        self.assertEqual(unknown.detail, {"throttled": False})


class PasswordResetRateSettingTests(SimpleTestCase):
    def test_it_refuses_to_start_with_a_malformed_rate(self):
        result = run_manage(
            "check", **production_env(PASSWORD_RESET_RATE_PER_EMAIL="three an hour")
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("PASSWORD_RESET_RATE_PER_* must look like 3/h", result.stderr)
