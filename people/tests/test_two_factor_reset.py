"""Resetting someone's two-factor sign-in (a lost phone): an administrator on the user's
page, an operator with ``manage.py reset_2fa``; recorded in the access log."""

from io import StringIO

from django.core.management import CommandError, call_command
from django.urls import reverse

from admin_ext.audit.models import AccessLog
from admin_ext.testing import PASSWORD, ClinicTestCase
from people import roles
from people.services import user_create
from people.two_factor import authenticator, recovery_device
from people.two_factor.testing import enrol, sign_in


class AdminResetTests(ClinicTestCase):
    def reset_url(self, user):
        return reverse("admin:people_user_reset_two_factor", args=[user.pk])

    def test_an_administrator_resets_a_users_two_factor(self):
        enrol(self.front_desk)
        self.login(self.admin)
        change = reverse("admin:people_user_change", args=[self.front_desk.pk])
        self.assertContains(self.client.get(change), self.reset_url(self.front_desk))
        self.assertContains(
            self.client.get(self.reset_url(self.front_desk)), "has an authenticator"
        )
        refused = self.client.post(self.reset_url(self.front_desk), {"reason": ""})
        self.assertEqual(refused.status_code, 200)
        self.assertIsNotNone(authenticator(self.front_desk))

        response = self.client.post(self.reset_url(self.front_desk), {"reason": "Lost phone"})
        self.assertRedirects(response, change)
        self.assertIsNone(authenticator(self.front_desk))
        self.assertIsNone(recovery_device(self.front_desk))
        entry = AccessLog.objects.get(action=AccessLog.Action.OTP_RESET)
        self.assertEqual(entry.actor, self.admin)
        self.assertEqual(entry.object_id, str(self.front_desk.pk))
        self.assertEqual(entry.detail["reason"], "Lost phone")

    def test_a_reset_user_of_a_required_role_enrols_again_even_in_an_open_session(self):
        other = self.client_class()
        sign_in(other, self.auditor)  # verified with the old authenticator
        self.assertEqual(other.get(reverse("admin:index")).status_code, 200)
        self.login(self.admin)
        self.client.post(self.reset_url(self.auditor), {"reason": "Lost phone"})
        response = other.get(reverse("admin:index"))
        self.assertTrue(response["Location"].startswith(reverse("two_factor_setup")))

    def test_front_desk_auditor_and_doctors_cannot_reset(self):
        enrol(self.alice)
        for user in (self.front_desk, self.auditor, self.bob):
            with self.subTest(user=user.email):
                self.login(user)
                for method in ("get", "post"):
                    response = getattr(self.client, method)(
                        self.reset_url(self.alice), {"reason": "x"}
                    )
                    self.assertIn(response.status_code, (302, 403))
                    if response.status_code == 302:  # a user they may not view: as missing
                        self.assertEqual(response["Location"], reverse("admin:index"))
        self.assertIsNotNone(authenticator(self.alice))
        self.assertFalse(AccessLog.objects.filter(action=AccessLog.Action.OTP_RESET).exists())

    def test_only_an_operator_resets_an_operator(self):
        enrol(self.operator)
        self.login(self.admin)
        response = self.client.post(self.reset_url(self.operator), {"reason": "Lost phone"})
        self.assertEqual(response.status_code, 403)
        self.assertIsNotNone(authenticator(self.operator))

        second = user_create(
            email="op2@example.com",
            password=PASSWORD,
            role=roles.ADMINISTRATOR,
            is_superuser=True,
            actor=None,
            reason="test",
        )
        self.login(second)
        response = self.client.post(self.reset_url(self.operator), {"reason": "Lost phone"})
        self.assertEqual(response.status_code, 302)
        self.assertIsNone(authenticator(self.operator))


class ResetCommandTests(ClinicTestCase):
    def test_it_resets_and_logs_without_an_actor(self):
        enrol(self.operator)
        out = StringIO()
        call_command("reset_2fa", "Operator@Example.com", reason="Lost phone", stdout=out)
        self.assertIn("Reset two-factor sign-in of", out.getvalue())
        self.assertIsNone(authenticator(self.operator))
        entry = AccessLog.objects.get(action=AccessLog.Action.OTP_RESET)
        self.assertIsNone(entry.actor)
        self.assertEqual(entry.detail["reason"], "Lost phone")

    def test_it_refuses_an_unknown_email_and_an_empty_reason(self):
        with self.assertRaisesMessage(CommandError, "No user"):
            call_command("reset_2fa", "nobody@example.com", reason="x")
        enrol(self.operator)
        with self.assertRaisesMessage(CommandError, "Give a reason"):
            call_command("reset_2fa", self.operator.email, reason="  ")
        self.assertIsNotNone(authenticator(self.operator))
