"""people.services: user_create, user_set_role, user_update (role, history, errors)."""

from django.core.exceptions import ValidationError

from admin_ext.testing import ClinicTestCase
from people import roles, services
from people.models import Profile, User


class UserCreateTests(ClinicTestCase):
    def test_it_gives_the_default_role_when_none_is_chosen(self):
        user = services.user_create(
            email="new@example.com", password="x-Strong-9", actor=self.operator, reason="hire"
        )
        self.assertEqual(roles.DEFAULT_ROLE, roles.FRONT_DESK)
        self.assertEqual(user.role_names, [roles.FRONT_DESK])
        self.assertTrue(user.is_staff)
        self.assertTrue(Profile.objects.filter(user=user).exists())

    def test_it_gives_the_chosen_role(self):
        user = services.user_create(
            email="doc@example.com", password=None, role=roles.DOCTOR, actor=None, reason="r"
        )
        self.assertEqual(user.role_names, [roles.DOCTOR])
        self.assertFalse(user.has_usable_password())

    def test_it_records_history_with_actor_and_reason(self):
        user = services.user_create(
            email="new@example.com", password="x-Strong-9", actor=self.operator, reason="hire"
        )
        created = user.history.earliest()
        self.assertEqual(created.history_type, "+")
        self.assertEqual(created.history_user, self.operator)
        self.assertEqual(created.history_change_reason, "hire")

    def test_it_refuses_an_unknown_role_and_writes_nothing(self):
        with self.assertRaises(ValidationError) as caught:
            services.user_create(
                email="x@example.com", password=None, role="Janitor", actor=None, reason="r"
            )
        self.assertEqual(caught.exception.code, "unknown_role")
        self.assertFalse(User.objects.filter(email="x@example.com").exists())

    def test_it_refuses_a_duplicate_email(self):
        with self.assertRaises(ValidationError) as caught:
            services.user_create(email="desk@example.com", password=None, actor=None, reason="r")
        self.assertIn("email", caught.exception.message_dict)


class UserSetRoleTests(ClinicTestCase):
    def test_it_replaces_the_role_and_records_the_group_change(self):
        services.user_set_role(
            user=self.front_desk, role=roles.AUDITOR, actor=self.operator, reason="moved"
        )
        self.assertEqual(self.front_desk.role_names, [roles.AUDITOR])
        latest = self.front_desk.history.latest()
        self.assertEqual(latest.history_user, self.operator)
        self.assertEqual(latest.history_change_reason, "moved")
        self.assertEqual([row.group.name for row in latest.groups.all()], [roles.AUDITOR])
