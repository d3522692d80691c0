"""The email-login User manager (create_user, create_superuser) and the Profile receiver."""

from django.db import IntegrityError
from django.test import TestCase

from people.models import Profile, User


class UserManagerTests(TestCase):
    def test_it_creates_a_user_who_signs_in_with_email(self):
        user = User.objects.create_user("Nina@EXAMPLE.com", password="s3cret-pass")
        self.assertEqual(user.email, "Nina@example.com")
        self.assertFalse(user.is_staff)
        self.assertFalse(user.is_superuser)
        self.assertTrue(user.check_password("s3cret-pass"))
        self.assertEqual(User.USERNAME_FIELD, "email")
        self.assertFalse(hasattr(user, "username") and user.username)

    def test_it_requires_an_email(self):
        with self.assertRaises(ValueError):
            User.objects.create_user("", password="x")

    def test_it_gives_no_usable_password_without_one(self):
        user = User.objects.create_user("nopass@example.com")
        self.assertFalse(user.has_usable_password())

    def test_it_creates_a_superuser(self):
        user = User.objects.create_superuser("root@example.com", password="x")
        self.assertTrue(user.is_staff)
        self.assertTrue(user.is_superuser)

    def test_it_refuses_a_superuser_that_is_not_superuser(self):
        with self.assertRaises(ValueError):
            User.objects.create_superuser("root@example.com", password="x", is_superuser=False)
        with self.assertRaises(ValueError):
            User.objects.create_superuser("root@example.com", password="x", is_staff=False)

    def test_it_rejects_a_duplicate_email(self):
        User.objects.create_user("dup@example.com")
        with self.assertRaises(IntegrityError):
            User.objects.create_user("dup@example.com")


class ProfileReceiverTests(TestCase):
    def test_it_gives_every_new_user_a_profile(self):
        user = User.objects.create_user("p@example.com")
        profile = Profile.objects.get(user=user)
        self.assertEqual(profile.login_count, 0)
        self.assertIsNone(profile.last_login_ip)

    def test_it_does_not_create_a_second_profile_on_later_saves(self):
        user = User.objects.create_user("p@example.com")
        user.first_name = "Pat"
        user.save()
        self.assertEqual(Profile.objects.filter(user=user).count(), 1)
