"""Django's user commands leave history with a reason (issue 7, item 1: management commands)."""

import io
from unittest import mock

from django.contrib.auth.management.commands import changepassword
from django.core.management import call_command
from django.test import TestCase

from people import roles
from people.models import User
from people.services import user_create


class UserCommandHistoryTests(TestCase):
    def test_createsuperuser_says_how_the_user_was_made(self):
        with mock.patch.dict("os.environ", {"DJANGO_SUPERUSER_PASSWORD": "a-long-pass-phrase-9"}):
            call_command(
                "createsuperuser", "--noinput", email="ops@example.com", stdout=io.StringIO()
            )
        user = User.objects.get(email="ops@example.com")
        record = user.history.get()
        self.assertEqual(
            record.history_change_reason, "Superuser created with manage.py createsuperuser"
        )
        self.assertIsNone(record.history_user)
        self.assertTrue(user.is_superuser)

    def test_changepassword_says_the_password_was_set_from_a_shell(self):
        user = user_create(
            email="desk@example.com", password="old", role=roles.FRONT_DESK, actor=None, reason="t"
        )
        with mock.patch.object(
            changepassword.Command, "_get_pass", return_value="a-new-pass-phrase-7"
        ):
            call_command("changepassword", "desk@example.com", stdout=io.StringIO())
        user.refresh_from_db()
        self.assertTrue(user.check_password("a-new-pass-phrase-7"))
        record = user.history.latest()
        self.assertEqual(
            record.history_change_reason, "Password changed with manage.py changepassword"
        )

    def test_a_reason_given_by_the_code_is_kept(self):
        from admin_ext.audit.services import default_change_reason

        with default_change_reason("fallback"):
            user = user_create(
                email="x@example.com",
                password="p",
                role=roles.FRONT_DESK,
                actor=None,
                reason="given",
            )
        self.assertEqual(user.history.earliest().history_change_reason, "given")
