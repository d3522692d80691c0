"""Every password set leaves a User history row with actor and reason (issue 7, item 1)."""

import re

from django.core import mail
from django.db.models import Max
from django.urls import reverse

from admin_ext.testing import PASSWORD, ClinicTestCase
from people import services
from people.models import User

NEW_PASSWORD = "Quiet-Meadow-Lantern-58"


class PasswordHistoryTests(ClinicTestCase):
    def setUp(self):
        self.after = User.history.aggregate(last=Max("history_id"))["last"]

    def new_rows(self, user) -> list[tuple]:
        """``(type, actor, reason)`` of the history rows written for ``user`` in this test."""
        rows = User.history.filter(id=user.pk, history_id__gt=self.after).order_by("history_id")
        return [(r.history_type, r.history_user, r.history_change_reason) for r in rows]

    def reset_link(self, email: str) -> str:
        self.client.post(reverse("admin_password_reset"), {"email": email})
        return re.search(r"https?://[^/\s]+(/reset/[^/\s]+/[^/\s]+/)", mail.outbox[-1].body)[1]

    def test_it_records_a_reset_by_email_as_the_users_own_act(self):
        response = self.client.get(self.reset_link("desk@example.com"), follow=True)
        form_url = response.redirect_chain[-1][0]
        response = self.client.post(
            form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
        )
        self.assertRedirects(response, reverse("password_reset_complete"))
        self.assertEqual(
            self.new_rows(self.front_desk),
            [("~", self.front_desk, services.REASON_PASSWORD_RESET)],
        )
        self.assertTrue(User.objects.get(pk=self.front_desk.pk).check_password(NEW_PASSWORD))

    def test_it_writes_nothing_for_a_reset_refused_by_the_password_rules(self):
        response = self.client.get(self.reset_link("desk@example.com"), follow=True)
        form_url = response.redirect_chain[-1][0]
        response = self.client.post(form_url, {"new_password1": "123", "new_password2": "123"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.new_rows(self.front_desk), [])

    def test_it_records_an_administrator_setting_a_users_password(self):
        self.login(self.admin)
        response = self.client.post(
            reverse("admin:auth_user_password_change", args=[self.alice.pk]),
            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
        )
        self.assertRedirects(response, reverse("admin:people_user_change", args=[self.alice.pk]))
        self.assertEqual(
            self.new_rows(self.alice), [("~", self.admin, f"Password changed by {self.admin}")]
        )

    def test_it_records_an_administrator_turning_password_sign_in_off(self):
        self.login(self.admin)
        self.client.post(
            reverse("admin:auth_user_password_change", args=[self.alice.pk]),
            {"usable_password": "false", "unset-password": "1"},
        )
        self.assertFalse(User.objects.get(pk=self.alice.pk).has_usable_password())
        self.assertEqual(
            self.new_rows(self.alice),
            [("~", self.admin, f"Password-based sign-in disabled by {self.admin}")],
        )

    def test_it_records_a_user_changing_their_own_password(self):
        self.login(self.auditor)
        url = reverse("admin:password_change")
        self.assertContains(self.client.get(url), 'name="old_password"')
        response = self.client.post(
            url,
            {
                "old_password": PASSWORD,
                "new_password1": NEW_PASSWORD,
                "new_password2": NEW_PASSWORD,
            },
        )
        self.assertRedirects(response, reverse("admin:password_change_done"))
        self.assertEqual(
            self.new_rows(self.auditor),
            [("~", self.auditor, f"Password changed by {self.auditor}")],
        )
        # Still signed in (Django's update_session_auth_hash), with the new password set.
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 200)
        self.assertTrue(User.objects.get(pk=self.auditor.pk).check_password(NEW_PASSWORD))

    def test_it_writes_nothing_when_the_old_password_is_wrong(self):
        self.login(self.auditor)
        response = self.client.post(
            reverse("admin:password_change"),
            {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.new_rows(self.auditor), [])

    def test_it_sends_an_anonymous_visitor_of_the_password_page_to_sign_in(self):
        response = self.client.get(reverse("admin:password_change"))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("admin:login"), response["Location"])

    def test_the_service_writes_only_the_password_column(self):
        stale = User.objects.get(pk=self.front_desk.pk)
        fresh = User.objects.get(pk=self.front_desk.pk)
        fresh.first_name = "Changed meanwhile"
        services.user_update(user=fresh, actor=self.admin, reason="Renamed")
        services.user_set_password(
            user=stale, password=NEW_PASSWORD, actor=self.operator, reason="Operator reset"
        )
        stored = User.objects.get(pk=self.front_desk.pk)
        self.assertEqual(stored.first_name, "Changed meanwhile")
        self.assertTrue(stored.check_password(NEW_PASSWORD))
        self.assertEqual(self.new_rows(self.front_desk)[-1][1:], (self.operator, "Operator reset"))

    def test_the_history_never_holds_a_password(self):
        history_columns = {f.attname for f in User.history.model._meta.fields}
        self.assertNotIn("password", history_columns)
