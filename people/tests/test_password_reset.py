"""Password reset by email, from the admin login page to a working new password."""

import re

from django.core import mail
from django.http import HttpRequest
from django.urls import reverse

from admin_ext.testing import ClinicTestCase

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
