"""Users added by an administrator get an invitation email and set their own password."""

import re

from django.core import mail
from django.test import override_settings
from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from people import roles, services
from people.models import User

NEW_PASSWORD = "Harbour-Lantern-2031"
LINK = re.compile(r"https?://[^/\s]+(/reset/[^/\s]+/[^/\s]+/)")


class Inviting:
    """Steps of an administrator inviting a user and the user following the link."""

    def invite(self, email="newcomer@example.com"):
        self.login(self.admin)
        return self.client.post(
            reverse("admin:people_user_add"),
            {"email": email, "first_name": "Nia", "last_name": "New", "role": roles.DOCTOR},
        )

    def link(self, message) -> str:
        return LINK.search(message.body).group(1)

    def set_password(self, link: str, password: str):
        """Open the link (it redirects to the form) and post ``password`` twice."""
        response = self.client.get(link, follow=True)
        self.assertTrue(response.context["validlink"])
        form_url = response.redirect_chain[-1][0]
        return self.client.post(form_url, {"new_password1": password, "new_password2": password})

    def sign_in(self, email, password):
        self.client.logout()
        return self.client.post(
            reverse("admin:login"),
            {"username": email, "password": password, "next": reverse("admin:index")},
        )


class InvitationTests(Inviting, ClinicTestCase):
    def test_the_add_form_asks_for_no_password(self):
        self.login(self.admin)
        response = self.client.get(reverse("admin:people_user_add"))
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, 'type="password"')
        self.assertNotContains(response, 'name="password1"')

    def test_adding_a_user_emails_one_invitation_and_the_link_sets_the_password(self):
        response = self.invite()
        user = User.objects.get(email="newcomer@example.com")
        self.assertRedirects(
            response, reverse("admin:people_user_change", args=[user.pk]), target_status_code=200
        )
        self.assertFalse(user.has_usable_password())
        self.assertEqual(user.role_names, [roles.DOCTOR])
        created = user.history.earliest()
        self.assertEqual(created.history_user, self.admin)
        self.assertEqual(created.history_change_reason, f"Invited in admin by {self.admin}")

        self.assertEqual(len(mail.outbox), 1)
        message = mail.outbox[0]
        self.assertEqual(message.to, ["newcomer@example.com"])
        self.assertIn("You have been invited to the Clinic back office by", message.body)
        self.assertIn("valid for 3 days", message.body)
        link = self.link(message)

        self.client.logout()
        response = self.set_password(link, "Short-pw-11")  # 11 characters
        self.assertContains(response, "at least 12 characters")
        response = self.set_password(link, NEW_PASSWORD)
        self.assertRedirects(response, reverse("password_reset_complete"))
        response = self.sign_in("newcomer@example.com", NEW_PASSWORD)
        self.assertRedirects(response, reverse("admin:index"), fetch_redirect_response=False)

    def test_the_link_works_once(self):
        self.invite()
        link = self.link(mail.outbox[0])
        self.client.logout()
        self.set_password(link, NEW_PASSWORD)
        response = self.client.get(link, follow=True)
        self.assertFalse(response.context["validlink"])

    def test_an_administrator_sends_it_again_and_the_old_link_stops_working(self):
        self.invite()
        user = User.objects.get(email="newcomer@example.com")
        first = self.link(mail.outbox[0])
        response = self.client.post(
            reverse("admin:people_user_changelist"),
            {"action": "resend_invitation", "_selected_action": [user.pk], "index": "0"},
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(len(mail.outbox), 2)
        second = self.link(mail.outbox[1])
        self.assertNotEqual(first, second)
        latest = user.history.latest()
        self.assertEqual(latest.history_user, self.admin)
        self.assertEqual(latest.history_change_reason, f"Invitation re-sent by {self.admin}")

        self.client.logout()
        self.assertFalse(self.client.get(first, follow=True).context["validlink"])
        self.assertTrue(self.client.get(second, follow=True).context["validlink"])

    def test_it_sends_no_invitation_to_a_user_who_has_a_password(self):
        self.login(self.admin)
        response = self.client.post(
            reverse("admin:people_user_changelist"),
            {"action": "resend_invitation", "_selected_action": [self.front_desk.pk], "index": "0"},
            follow=True,
        )
        self.assertContains(response, "Not sent")
        self.assertEqual(mail.outbox, [])
        self.assertTrue(User.objects.get(pk=self.front_desk.pk).has_usable_password())

    @override_settings(PASSWORD_RESET_TIMEOUT=12 * 3600)
    def test_the_service_outside_a_request_takes_the_base_url(self):
        with self.assertRaises(ValueError):
            services.user_invite(email="cli@example.com", actor=None, reason="Shell")
        self.assertFalse(User.objects.filter(email="cli@example.com").exists())
        services.user_invite(
            email="cli@example.com", actor=None, reason="Shell", base_url="https://bo.example"
        )
        self.assertIn("https://bo.example/reset/", mail.outbox[0].body)
        self.assertIn("valid for 12 hours", mail.outbox[0].body)
        self.assertIn("by an administrator", mail.outbox[0].body)


class RefusingBackend:
    """A mail backend whose server refuses the connection (EMAIL_BACKEND in the tests below)."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError(111, "Connection refused")


@override_settings(EMAIL_BACKEND=f"{__name__}.RefusingBackend")
class MailServerDownTests(Inviting, ClinicTestCase):
    def test_adding_a_user_says_the_invitation_failed_and_saves_nothing(self):
        users, history = User.objects.count(), User.history.count()
        response = self.invite()
        self.assertRedirects(
            response, reverse("admin:people_user_add"), fetch_redirect_response=False
        )
        page = self.client.get(reverse("admin:people_user_add"))
        self.assertContains(page, "The invitation could not be sent")
        self.assertEqual(User.objects.count(), users)
        self.assertEqual(User.history.count(), history)

    def test_resending_says_the_invitation_failed_and_keeps_the_old_link(self):
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            self.invite()
        invited = User.objects.get(email="newcomer@example.com")
        password_hash = invited.password
        response = self.client.post(
            reverse("admin:people_user_changelist"),
            {"action": "resend_invitation", "_selected_action": [invited.pk]},
            follow=True,
        )
        self.assertContains(response, "The invitation could not be sent")
        invited.refresh_from_db()
        self.assertEqual(invited.password, password_hash)
