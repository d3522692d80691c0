"""A user's history and version pages only read: no role or email changes from them.

simple-history's version page saved the posted form after checking only the view
permission: an auditor made themselves Administrator through their own version
page, and a non-superuser with change_user rewrote an operator's email.
"""

from django.contrib.auth.models import Group
from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from people import roles
from people.models import User
from people.services import user_set_role, user_update

#: The history's many-to-many rows: each version's groups.
HistoricalGroups = User.history.model._meta.get_field("historicaluser_groups").related_model


#: Every user column but last_login, which each test login moves.
USER_COLUMNS = [f.attname for f in User._meta.concrete_fields if f.name != "last_login"]


def user_form_data(user, **changes) -> dict:
    """The user change form's fields as a browser would post them, with ``changes``."""
    return {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on",
        "is_staff": "on",
        "groups": [g.pk for g in user.groups.all()],
        **changes,
    }


class UserVersionPageTests(ClinicTestCase):
    def version_url(self, user, version=None):
        version = version or user.history.latest()
        return reverse("admin:people_user_simple_history", args=[user.pk, version.pk])

    def snapshot(self):
        """Every user row, membership and history row the attacks could touch."""
        return {
            "users": list(User.objects.order_by("pk").values(*USER_COLUMNS)),
            "memberships": sorted(User.groups.through.objects.values_list("user_id", "group_id")),
            "history": User.history.count(),
            "group_history": HistoricalGroups.objects.count(),
        }

    def assertRefused(self, response):
        self.assertIn(response.status_code, (403, 405))

    def test_it_refuses_an_auditor_making_themselves_administrator(self):
        before = self.snapshot()
        administrator = Group.objects.get(name=roles.ADMINISTRATOR)
        self.login(self.auditor)
        response = self.client.post(
            self.version_url(self.auditor), user_form_data(self.auditor, groups=[administrator.pk])
        )
        self.assertRefused(response)
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(User.objects.get(pk=self.auditor.pk).role_names, [roles.AUDITOR])

    def test_it_refuses_a_non_superuser_changing_a_superusers_email(self):
        before = self.snapshot()
        self.login(self.admin)
        response = self.client.post(
            self.version_url(self.operator),
            user_form_data(self.operator, email="taken-over@example.com"),
        )
        self.assertRefused(response)
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(User.objects.get(pk=self.operator.pk).email, "operator@example.com")

    def test_it_refuses_everyone_superusers_included(self):
        before = self.snapshot()
        for user in (self.operator, self.admin, self.auditor):
            self.login(user)
            with self.subTest(user=user.email):
                response = self.client.post(
                    self.version_url(self.front_desk),
                    user_form_data(self.front_desk, first_name="Changed"),
                )
                self.assertRefused(response)
                response = self.client.post(
                    reverse("admin:people_user_history", args=[self.front_desk.pk]),
                    user_form_data(self.front_desk, first_name="Changed"),
                )
                self.assertRefused(response)
        self.assertEqual(self.snapshot(), before)

    def test_it_shows_the_version_read_only_with_the_roles_it_had(self):
        # The version after user_create gave the Front desk role; then name and role change.
        version = self.front_desk.history.latest()
        user_update(user=self.front_desk, actor=self.admin, reason="test", first_name="Fran")
        user_set_role(user=self.front_desk, role=roles.AUDITOR, actor=self.admin, reason="test")
        self.assertEqual(self.front_desk.role_names, [roles.AUDITOR])
        self.login(self.auditor)
        response = self.client.get(self.version_url(self.front_desk, version))
        self.assertEqual(response.status_code, 200)
        content = response.content.decode().split('id="content-main"', 1)[1]
        for tag in ("<form", "<input", "<select", "<textarea", "<button", 'type="submit"'):
            self.assertNotIn(tag, content)
        self.assertIn("desk@example.com", content)
        self.assertIn(roles.FRONT_DESK, content)
        self.assertNotIn(roles.AUDITOR, content)
        self.assertNotIn("Fran", content)
        # The password hash is not in the history; the page shows none.
        self.assertNotIn("pbkdf2", content)
        self.assertNotIn("md5", content)

    def test_it_answers_malformed_ids_with_404(self):
        version = self.front_desk.history.latest()
        self.login(self.operator)
        for args in ([self.front_desk.pk, "abc"], ["abc", version.pk], ["abc", "abc"]):
            with self.subTest(args=args):
                url = reverse("admin:people_user_simple_history", args=args)
                self.assertEqual(self.client.get(url).status_code, 404)

    def test_it_answers_a_malformed_id_on_the_history_list_as_missing(self):
        self.login(self.operator)
        response = self.client.get(reverse("admin:people_user_history", args=["abc"]))
        self.assertRedirects(response, reverse("admin:index"), fetch_redirect_response=False)

    def test_it_answers_a_user_without_view_user_as_for_a_missing_user(self):
        self.login(self.steward)
        version = self.front_desk.history.latest()
        for url_name, args, missing_args in (
            ("admin:people_user_history", [self.front_desk.pk], [987654]),
            (
                "admin:people_user_simple_history",
                [self.front_desk.pk, version.pk],
                [987654, version.pk],
            ),
        ):
            with self.subTest(page=url_name):
                for url_args in (args, missing_args):
                    response = self.client.get(reverse(url_name, args=url_args))
                    self.assertRedirects(
                        response, reverse("admin:index"), fetch_redirect_response=False
                    )
