"""The Users admin: add page through the service, change page, history, who may use it."""

from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from people import roles
from people.models import Profile, User

PASSWORD = "Quiet-Meadow-93"


class UserAdminAddTests(ClinicTestCase):
    def add(self, **data):
        return self.client.post(
            reverse("admin:people_user_add"),
            {
                "email": "nurse@example.com",
                "first_name": "Nora",
                "last_name": "Nurse",
                "role": roles.DOCTOR,
                "password1": PASSWORD,
                "password2": PASSWORD,
                **data,
            },
        )

    def test_it_shows_the_add_page_with_the_role_choice(self):
        self.login(self.operator)
        response = self.client.get(reverse("admin:people_user_add"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'name="role"')
        self.assertEqual(
            response.context["adminform"].form.fields["role"].initial, roles.FRONT_DESK
        )

    def test_it_creates_the_user_with_the_chosen_role_profile_and_history(self):
        self.login(self.admin)
        response = self.add()
        user = User.objects.get(email="nurse@example.com")
        self.assertRedirects(response, reverse("admin:people_user_change", args=[user.pk]))
        self.assertEqual(user.role_names, [roles.DOCTOR])
        self.assertTrue(user.is_staff)
        self.assertFalse(user.is_superuser)
        # An invitation: no password until the user sets one (people/tests/test_invitations.py).
        self.assertFalse(user.has_usable_password())
        self.assertEqual(mail.outbox[0].to, ["nurse@example.com"])
        self.assertTrue(Profile.objects.filter(user=user).exists())
        created = user.history.earliest()
        self.assertEqual(created.history_user, self.admin)
        self.assertEqual(created.history_change_reason, f"Invited in admin by {self.admin}")

    def test_it_gives_the_default_role_when_left_as_offered(self):
        self.login(self.operator)
        self.add(role=roles.DEFAULT_ROLE)
        self.assertEqual(User.objects.get(email="nurse@example.com").role_names, [roles.FRONT_DESK])

    def test_it_shows_errors_on_the_form_for_a_duplicate_email(self):
        self.login(self.operator)
        response = self.add(email="desk@example.com")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.context["adminform"].form.errors["email"])

    def test_it_takes_no_password_typed_by_the_administrator(self):
        self.login(self.operator)
        self.add()  # password1 and password2 posted anyway
        user = User.objects.get(email="nurse@example.com")
        self.assertFalse(user.has_usable_password())
        self.assertFalse(user.check_password(PASSWORD))


class UserAdminChangeTests(ClinicTestCase):
    def change_url(self, user):
        return reverse("admin:people_user_change", args=[user.pk])

    def form_data(self, user, **data):
        return {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "is_active": "on",
            "is_staff": "on",
            "groups": [g.pk for g in user.groups.all()],
            "profile-TOTAL_FORMS": "1",
            "profile-INITIAL_FORMS": "1",
            "profile-MIN_NUM_FORMS": "0",
            "profile-MAX_NUM_FORMS": "1",
            "profile-0-id": user.profile.pk,
            "profile-0-user": user.pk,
            "profile-0-title": "",
            "profile-0-phone": "",
            **data,
        }

    def test_it_shows_the_profile_inline(self):
        self.login(self.admin)
        response = self.client.get(self.change_url(self.front_desk))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'name="profile-0-title"')

    def test_it_records_a_role_change_in_history_with_actor_and_reason(self):
        self.login(self.admin)
        auditor = Group.objects.get(name=roles.AUDITOR)
        response = self.client.post(
            self.change_url(self.front_desk),
            self.form_data(self.front_desk, groups=[auditor.pk], **{"profile-0-title": "Clerk"}),
        )
        self.assertRedirects(response, reverse("admin:people_user_changelist"))
        self.assertEqual(self.front_desk.role_names, [roles.AUDITOR])
        self.front_desk.profile.refresh_from_db()
        self.assertEqual(self.front_desk.profile.title, "Clerk")
        latest = self.front_desk.history.latest()
        self.assertEqual(latest.history_user, self.admin)
        self.assertIn("Groups", latest.history_change_reason)
        previous = latest.prev_record
        delta = latest.diff_against(previous)
        self.assertIn("groups", delta.changed_fields)

    def test_it_shows_group_changes_on_the_history_page(self):
        self.login(self.admin)
        auditor = Group.objects.get(name=roles.AUDITOR)
        self.client.post(
            self.change_url(self.front_desk), self.form_data(self.front_desk, groups=[auditor.pk])
        )
        response = self.client.get(reverse("admin:people_user_history", args=[self.front_desk.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Changed in admin: Groups")
        self.assertContains(response, roles.AUDITOR)

    def test_it_does_not_let_an_administrator_make_a_superuser(self):
        self.login(self.admin)
        self.client.post(
            self.change_url(self.front_desk), self.form_data(self.front_desk, is_superuser="on")
        )
        self.front_desk.refresh_from_db()
        self.assertFalse(self.front_desk.is_superuser)

    def test_it_shows_an_operator_read_only_to_an_administrator(self):
        self.login(self.admin)
        response = self.client.post(
            self.change_url(self.operator), self.form_data(self.operator, email="x@example.com")
        )
        self.assertEqual(response.status_code, 403)
        self.operator.refresh_from_db()
        self.assertEqual(self.operator.email, "operator@example.com")

    def test_it_lets_an_operator_change_an_operator(self):
        self.login(self.operator)
        response = self.client.get(self.change_url(self.operator))
        self.assertContains(response, 'name="email"')


class UserAdminAccessTests(ClinicTestCase):
    def test_it_hides_users_from_front_desk_stewards_and_doctors(self):
        for user in (self.front_desk, self.steward, self.alice):
            self.login(user)
            with self.subTest(user=user.email):
                self.assertEqual(
                    self.client.get(reverse("admin:people_user_changelist")).status_code, 403
                )
                self.assertEqual(self.client.get(reverse("admin:people_user_add")).status_code, 403)
                response = self.client.get(reverse("admin:index"))
                self.assertNotContains(response, reverse("admin:people_user_changelist"))

    def test_it_shows_users_read_only_to_the_auditor(self):
        self.login(self.auditor)
        self.assertEqual(self.client.get(reverse("admin:people_user_changelist")).status_code, 200)
        self.assertEqual(self.client.get(reverse("admin:people_user_add")).status_code, 403)
        response = self.client.post(
            reverse("admin:people_user_change", args=[self.front_desk.pk]),
            {"email": "x@example.com"},
        )
        self.assertEqual(response.status_code, 403)

    def test_it_lists_users_with_their_roles(self):
        self.login(self.admin)
        response = self.client.get(reverse("admin:people_user_changelist"))
        listed = {u.email: u for u in response.context["cl"].result_list}
        self.assertIn("alice@example.com", listed)
        self.assertContains(response, roles.DOCTOR)

    def test_it_lets_nobody_delete_a_user(self):
        self.login(self.operator)
        response = self.client.get(reverse("admin:people_user_delete", args=[self.front_desk.pk]))
        self.assertEqual(response.status_code, 403)
