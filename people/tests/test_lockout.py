"""Sign-in lockout (django-axes): per account and per IP, one answer for every email,
unlocked by administrators with a trace, seen by auditors, hidden from other roles."""

import io
import re
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from admin_ext.audit.models import AccessLog
from admin_ext.testing import PASSWORD, ClinicTestCase
from people import services
from people.lockouts import lockout_message
from people.models import LoginEvent

IP = "203.0.113.10"
OTHER_IP = "198.51.100.20"
#: What differs between any two responses: the CSRF token and the CSP nonce.
PER_RESPONSE = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"|nonce="[^"]*"')


class LockoutTests(ClinicTestCase):
    def sign_in(self, email, password, ip=IP):
        return self.client.post(
            reverse("admin:login"),
            {"username": email, "password": password, "next": reverse("admin:index")},
            REMOTE_ADDR=ip,
        )

    def fail(self, email, times, ip=IP):
        response = None
        for _ in range(times):
            response = self.sign_in(email, "not-the-password", ip=ip)
        return response

    def assert_signed_out(self):
        response = self.client.get(reverse("admin:index"))
        self.assertRedirects(response, f"{reverse('admin:login')}?next={reverse('admin:index')}")

    def test_it_keeps_the_usual_error_below_the_limit(self):
        response = self.fail("desk@example.com", settings.AXES_FAILURE_LIMIT - 1)
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "Too many failed sign-ins")

    def test_it_locks_an_account_and_refuses_even_the_right_password(self):
        self.assertEqual(settings.AXES_FAILURE_LIMIT, 5)
        response = self.fail("desk@example.com", 5)
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, lockout_message(), status_code=429)
        self.assertContains(response, "Try again in 30 minutes", status_code=429)

        response = self.sign_in("desk@example.com", PASSWORD)
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, lockout_message(), status_code=429)
        self.assert_signed_out()
        self.assertFalse(LoginEvent.objects.filter(kind=LoginEvent.Kind.SUCCESS).exists())

    def test_it_answers_the_right_and_a_wrong_password_alike_when_locked(self):
        self.fail("desk@example.com", 5)
        right = self.sign_in("desk@example.com", PASSWORD)
        wrong = self.sign_in("desk@example.com", "still-wrong")
        self.assertEqual(right.status_code, wrong.status_code)
        self.assertEqual(PER_RESPONSE.sub(b"", right.content), PER_RESPONSE.sub(b"", wrong.content))

    def test_it_answers_an_unknown_email_exactly_as_an_existing_one(self):
        known = self.fail("desk@example.com", 5, ip=IP)
        unknown = self.fail("nobody@example.com", 5, ip=OTHER_IP)
        self.assertEqual(known.status_code, 429)
        self.assertEqual(unknown.status_code, known.status_code)
        self.assertEqual(
            PER_RESPONSE.sub(b"", known.content), PER_RESPONSE.sub(b"", unknown.content)
        )
        self.assertNotIn(b"desk@example.com", known.content)

    def test_it_counts_one_account_whatever_case_is_typed(self):
        for email in ("Desk@example.com", "DESK@EXAMPLE.COM", "desk@Example.com"):
            self.sign_in(email, "wrong", ip=IP)
        self.fail("desk@example.com", 2, ip=OTHER_IP)
        response = self.sign_in("desk@example.com", PASSWORD, ip="192.0.2.99")
        self.assertEqual(response.status_code, 429)

    def test_it_locks_an_ip_that_tries_many_accounts(self):
        for n in range(5):
            self.sign_in(f"guess{n}@example.com", "wrong", ip=IP)
        response = self.sign_in("auditor@example.com", PASSWORD, ip=IP)
        self.assertEqual(response.status_code, 429)
        self.assert_signed_out()
        # The account itself is not locked: from elsewhere it signs in.
        response = self.sign_in("auditor@example.com", PASSWORD, ip=OTHER_IP)
        self.assertRedirects(response, reverse("admin:index"), fetch_redirect_response=False)

    def test_the_attempts_list_marks_every_row_of_a_locked_ip(self):
        for n in range(5):
            self.sign_in(f"guess{n}@example.com", "wrong", ip=IP)
        self.sign_in("desk@example.com", "wrong", ip=OTHER_IP)  # one failure elsewhere
        self.login(self.admin)
        response = self.client.get(reverse("admin:axes_accessattempt_changelist"))
        self.assertContains(response, 'alt="True"', count=5)
        self.assertContains(response, 'alt="False"', count=1)

    def test_the_lockout_page_is_the_sign_in_page_with_its_form(self):
        response = self.fail("desk@example.com", 5)
        self.assertContains(response, 'name="username"', status_code=429)
        self.assertContains(response, 'name="password"', status_code=429)
        self.assertContains(response, "Forgotten your password?", status_code=429)

    def test_it_still_records_each_failure_in_the_login_events_and_the_access_log(self):
        self.fail("desk@example.com", 6)
        self.assertEqual(LoginEvent.objects.filter(kind=LoginEvent.Kind.FAILURE).count(), 6)
        self.assertEqual(AccessLog.objects.filter(action=AccessLog.Action.LOGIN_FAILED).count(), 6)

    def test_it_forgets_failures_older_than_the_cool_off(self):
        self.fail("desk@example.com", 5)
        past = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(minutes=1)
        AccessAttempt.objects.update(attempt_time=past)
        response = self.sign_in("desk@example.com", PASSWORD)
        self.assertRedirects(response, reverse("admin:index"), fetch_redirect_response=False)


def unlock_rows():
    """The access-log rows of unlocks."""
    return AccessLog.objects.filter(action=AccessLog.Action.UNLOCK)


class UnlockTests(ClinicTestCase):
    def setUp(self):
        for _ in range(5):
            self.client.post(
                reverse("admin:login"),
                {"username": "desk@example.com", "password": "wrong"},
                REMOTE_ADDR=IP,
            )
        self.attempt = AccessAttempt.objects.get(username="desk@example.com")
        self.changelist = reverse("admin:axes_accessattempt_changelist")

    def desk_signs_in(self):
        self.client.logout()
        return self.client.post(
            reverse("admin:login"),
            {"username": "desk@example.com", "password": PASSWORD},
            REMOTE_ADDR=IP,
        )

    def test_an_administrator_sees_the_lockout_in_the_side_menu_section_list(self):
        self.login(self.admin)
        response = self.client.get(self.changelist)
        self.assertContains(response, "desk@example.com")
        self.assertContains(response, IP)

    def test_an_administrator_unlocks_and_the_access_log_names_them(self):
        self.login(self.admin)
        response = self.client.post(
            self.changelist,
            {"action": "delete_selected", "_selected_action": [self.attempt.pk], "index": "0"},
        )
        self.assertEqual(response.status_code, 302)
        self.assertFalse(AccessAttempt.objects.exists())
        row = unlock_rows().get()
        self.assertEqual(row.actor, self.admin)
        self.assertEqual(row.object_id, str(self.front_desk.pk))
        self.assertEqual(row.detail["email"], "desk@example.com")
        self.assertEqual(row.detail["ip_address"], IP)
        self.assertEqual(row.detail["reason"], f"Unlocked in admin by {self.admin}")

        response = self.desk_signs_in()
        self.assertRedirects(response, reverse("admin:index"), fetch_redirect_response=False)

    def test_the_delete_page_of_an_attempt_unlocks_through_the_service(self):
        self.login(self.admin)
        url = reverse("admin:axes_accessattempt_delete", args=[self.attempt.pk])
        self.assertContains(self.client.get(url), "desk@example.com from 203.0.113.10")
        response = self.client.post(url, {"post": "yes"})
        self.assertEqual(response.status_code, 302)
        self.assertFalse(AccessAttempt.objects.exists())
        self.assertTrue(unlock_rows().filter(actor=self.admin).exists())

    def test_the_service_unlocks_an_ip_alone(self):
        cleared = services.lockout_clear(ip_address=IP, actor=self.operator, reason="Call")
        self.assertEqual(cleared, 1)
        row = unlock_rows().get()
        self.assertEqual(row.object_repr, f"Sign-in lockout of {IP}")
        self.assertEqual(row.detail["attempts_cleared"], 1)

    def test_an_auditor_sees_lockouts_but_cannot_unlock_add_or_change(self):
        self.login(self.auditor)
        response = self.client.get(self.changelist)
        self.assertContains(response, "desk@example.com")
        self.assertNotContains(response, 'value="delete_selected"')
        change = reverse("admin:axes_accessattempt_change", args=[self.attempt.pk])
        self.assertEqual(self.client.get(change).status_code, 200)
        posts = [
            (change, {"username": "x@example.com", "failures_since_start": "0"}),
            (reverse("admin:axes_accessattempt_delete", args=[self.attempt.pk]), {"post": "yes"}),
            (reverse("admin:axes_accessattempt_add"), {"username": "x@example.com"}),
        ]
        for url, data in posts:
            with self.subTest(url=url):
                self.assertEqual(self.client.post(url, data).status_code, 403)
        response = self.client.post(
            self.changelist,
            {"action": "delete_selected", "_selected_action": [self.attempt.pk], "index": "0"},
        )
        self.attempt.refresh_from_db()
        self.assertEqual(self.attempt.failures_since_start, 5)
        self.assertFalse(unlock_rows().exists())

    def test_other_roles_do_not_see_lockouts(self):
        for user in (self.front_desk, self.alice, self.steward):
            with self.subTest(user=user.email):
                self.login(user)
                self.assertEqual(self.client.get(self.changelist).status_code, 403)
                request = self.client.get(reverse("admin:index")).wsgi_request
                models = [
                    m["object_name"]
                    for app in admin.site.get_app_list(request)
                    for m in app["models"]
                ]
                self.assertNotIn("AccessAttempt", models)


class UnlockCommandTests(ClinicTestCase):
    def test_it_unlocks_from_a_shell_with_a_reason_in_the_access_log(self):
        AccessAttempt.objects.create(
            username="desk@example.com", ip_address=IP, user_agent="x", failures_since_start=5
        )
        out = io.StringIO()
        call_command("unlock_sign_in", email="Desk@example.com", reason="Phoned in", stdout=out)
        self.assertIn("Cleared 1", out.getvalue())
        self.assertFalse(AccessAttempt.objects.exists())
        row = unlock_rows().get()
        self.assertIsNone(row.actor)
        self.assertEqual(row.detail["reason"], "Phoned in (manage.py unlock_sign_in)")

    def test_it_needs_an_email_or_an_ip(self):
        with self.assertRaisesMessage(CommandError, "Give --email, --ip or both."):
            call_command("unlock_sign_in", reason="x")

    def test_axes_own_reset_commands_refuse_and_point_to_unlock_sign_in(self):
        AccessAttempt.objects.create(
            username="desk@example.com", ip_address=IP, user_agent="x", failures_since_start=5
        )
        for name, args in (
            ("axes_reset", []),
            ("axes_reset_ip", [IP]),
            ("axes_reset_username", ["desk@example.com"]),
            ("axes_reset_ip_username", [IP, "desk@example.com"]),
        ):
            with self.subTest(name), self.assertRaisesMessage(CommandError, "unlock_sign_in"):
                call_command(name, *args)
        # Nothing was cleared behind the access log's back.
        self.assertEqual(AccessAttempt.objects.count(), 1)
