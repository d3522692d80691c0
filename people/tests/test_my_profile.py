"""'My profile' (every role edits their own title, phone and photo), the profile photo
view and ``people.services.profile_update`` (issue 8, item 1)."""

import io
import shutil
import tempfile
from unittest import mock

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from PIL import Image

from admin_ext.testing import ClinicTestCase
from people import services
from people.models import Profile


def image_file(name="me.png", fmt="PNG", size=(800, 600), exif=None) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    image = Image.new("RGB", size, (200, 30, 30))
    image.save(buffer, format=fmt, **({"exif": exif} if exif is not None else {}))
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


class MediaRootMixin:
    """Profile photos written to a temporary MEDIA_ROOT, removed after each test."""

    def setUp(self):
        super().setUp()
        media = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, media, ignore_errors=True)
        settings = override_settings(MEDIA_ROOT=media)
        settings.enable()
        self.addCleanup(settings.disable)

    def profile(self, user) -> Profile:
        return Profile.objects.get(user=user)


class MyProfilePageTests(MediaRootMixin, ClinicTestCase):
    url = reverse("my_profile")

    def test_it_shows_every_role_their_own_profile(self):
        for user in (self.front_desk, self.alice, self.bob, self.steward, self.auditor, self.admin):
            with self.subTest(user=user.email):
                self.login(user)
                response = self.client.get(self.url)
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, '<h3 class="mb-0">My profile</h3>', html=False)
                self.assertContains(response, user.email)
                for name in ("title", "phone", "photo"):
                    self.assertContains(response, f'name="{name}"')

    def test_it_saves_title_and_phone_for_every_role(self):
        for user in (self.front_desk, self.alice, self.steward, self.auditor, self.admin):
            with self.subTest(user=user.email):
                self.login(user)
                response = self.client.post(self.url, {"title": "Registrar", "phone": "555-0100"})
                self.assertRedirects(response, self.url, fetch_redirect_response=False)
                profile = self.profile(user)
                self.assertEqual((profile.title, profile.phone), ("Registrar", "555-0100"))
                page = self.client.get(self.url)
                self.assertContains(page, "Your profile was saved.")
                self.assertContains(page, 'value="Registrar"')

    def test_it_never_changes_anyone_elses_profile(self):
        # No user id reaches the page: crafted fields name someone else in vain.
        self.login(self.alice)
        self.client.post(
            self.url,
            {"title": "Chief", "user": self.bob.pk, "id": self.profile(self.bob).pk},
        )
        self.assertEqual(self.profile(self.bob).title, "")
        self.assertEqual(self.profile(self.alice).title, "Chief")
        response = self.client.post(f"{self.url}?user={self.bob.pk}", {"title": "Other"})
        self.assertEqual(self.profile(self.bob).title, "")
        self.assertRedirects(response, self.url)

    def test_it_sends_a_visitor_to_sign_in(self):
        response = self.client.get(self.url)
        self.assertRedirects(response, f"{reverse('admin:login')}?next={self.url}")
        self.client.post(self.url, {"title": "Anon"})
        self.assertEqual(Profile.objects.filter(title="Anon").count(), 0)

    def test_it_stores_a_photo_reencoded_under_a_random_name(self):
        self.login(self.front_desk)
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # "Make": stands for the EXIF a phone writes (GPS too)
        upload = image_file("Jane Doe home.jpg", "JPEG", size=(2000, 1000), exif=exif.tobytes())
        response = self.client.post(self.url, {"photo": upload})
        self.assertRedirects(response, self.url)
        photo = self.profile(self.front_desk).photo
        self.assertRegex(photo.name, r"^profiles/[0-9a-f]{32}\.jpg$")
        with photo.open("rb") as stored, Image.open(stored) as image:
            self.assertEqual(image.format, "JPEG")
            self.assertEqual(image.size, (512, 256))
            self.assertEqual(dict(image.getexif()), {})

    def test_it_refuses_a_file_that_is_not_an_image_whatever_its_name(self):
        self.login(self.front_desk)
        for upload in (
            SimpleUploadedFile("me.png", b"<html><script>alert(1)</script>", "image/png"),
            SimpleUploadedFile(
                "me.svg",
                b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                "image/svg+xml",
            ),
        ):
            with self.subTest(name=upload.name):
                response = self.client.post(self.url, {"photo": upload})
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "text-danger")
                self.assertFalse(self.profile(self.front_desk).photo)

    def test_it_refuses_a_photo_over_the_size_limit(self):
        self.login(self.front_desk)
        with mock.patch.object(services, "PHOTO_MAX_BYTES", 1000):
            response = self.client.post(self.url, {"photo": image_file(size=(400, 400))})
        self.assertContains(response, services.MSG_PHOTO_TOO_LARGE)
        self.assertFalse(self.profile(self.front_desk).photo)

    def test_it_removes_the_photo_and_its_file_when_cleared(self):
        self.login(self.front_desk)
        self.client.post(self.url, {"photo": image_file()})
        photo = self.profile(self.front_desk).photo
        storage, name = photo.storage, photo.name
        self.assertTrue(storage.exists(name))
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(self.url, {"photo-clear": "on", "title": ""})
        self.assertFalse(self.profile(self.front_desk).photo)
        self.assertFalse(storage.exists(name))


class ProfilePhotoViewTests(MediaRootMixin, ClinicTestCase):
    def setUp(self):
        super().setUp()
        services.profile_update(
            profile=self.profile(self.alice), actor=self.alice, reason="test", photo=image_file()
        )

    def photo_url(self, user) -> str:
        return reverse("profile_photo", args=[user.pk])

    def test_it_serves_a_user_their_own_photo(self):
        self.login(self.alice)
        response = self.client.get(self.photo_url(self.alice))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "image/jpeg")
        self.assertIn("private", response["Cache-Control"])
        body = b"".join(response.streaming_content)
        self.assertEqual(Image.open(io.BytesIO(body)).format, "JPEG")

    def test_it_answers_someone_elses_photo_as_missing_without_permission(self):
        for user in (self.bob, self.front_desk, self.steward):
            with self.subTest(user=user.email):
                self.login(user)
                self.assertEqual(self.client.get(self.photo_url(self.alice)).status_code, 404)
                self.assertEqual(
                    self.client.get(reverse("profile_photo", args=[987654])).status_code, 404
                )

    def test_it_serves_anyones_photo_to_who_may_view_users(self):
        for user in (self.admin, self.auditor):
            with self.subTest(user=user.email):
                self.login(user)
                self.assertEqual(self.client.get(self.photo_url(self.alice)).status_code, 200)

    def test_it_sends_a_user_without_a_photo_to_the_default_avatar(self):
        self.login(self.bob)
        response = self.client.get(self.photo_url(self.bob))
        self.assertRedirects(
            response, "/static/admin_ext/avatar.svg", fetch_redirect_response=False
        )

    def test_it_serves_no_photo_to_a_visitor_nor_from_media(self):
        response = self.client.get(self.photo_url(self.alice))
        self.assertRedirects(
            response, f"{reverse('admin:login')}?next={self.photo_url(self.alice)}"
        )
        name = self.profile(self.alice).photo.name
        self.login(self.alice)
        self.assertEqual(self.client.get(f"/media/{name}").status_code, 404)

    def test_it_answers_only_get(self):
        self.login(self.alice)
        self.assertEqual(self.client.post(self.photo_url(self.alice)).status_code, 405)


class ProfileUpdateServiceTests(MediaRootMixin, ClinicTestCase):
    def test_it_refuses_someone_elses_profile_without_permission(self):
        with self.assertRaises(PermissionDenied):
            services.profile_update(
                profile=self.profile(self.bob), actor=self.alice, reason="test", title="X"
            )
        self.assertEqual(self.profile(self.bob).title, "")

    def test_it_lets_who_may_change_profiles_change_anyones(self):
        services.profile_update(
            profile=self.profile(self.bob), actor=self.admin, reason="test", title="Dr"
        )
        self.assertEqual(self.profile(self.bob).title, "Dr")

    def test_it_refuses_fields_it_does_not_change(self):
        with self.assertRaises(TypeError):
            services.profile_update(
                profile=self.profile(self.bob), actor=self.bob, reason="test", login_count=99
            )

    def test_it_refuses_a_too_long_title(self):
        with self.assertRaises(ValidationError):
            services.profile_update(
                profile=self.profile(self.bob), actor=self.bob, reason="test", title="x" * 101
            )


class UserAdminProfileTests(MediaRootMixin, ClinicTestCase):
    def test_it_saves_the_inline_photo_through_the_service_and_links_it_privately(self):
        self.login(self.admin)
        url = reverse("admin:people_user_change", args=[self.bob.pk])
        data = {
            "email": self.bob.email,
            "first_name": self.bob.first_name,
            "last_name": self.bob.last_name,
            "is_active": "on",
            "is_staff": "on",
            "groups": [g.pk for g in self.bob.groups.all()],
            "profile-TOTAL_FORMS": "1",
            "profile-INITIAL_FORMS": "1",
            "profile-MIN_NUM_FORMS": "0",
            "profile-MAX_NUM_FORMS": "1",
            "profile-0-id": self.profile(self.bob).pk,
            "profile-0-user": self.bob.pk,
            "profile-0-title": "Cardiologist",
            "profile-0-phone": "",
            "profile-0-photo": image_file("bob.png"),
        }
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 302, getattr(response, "context", None))
        profile = self.profile(self.bob)
        self.assertEqual(profile.title, "Cardiologist")
        self.assertRegex(profile.photo.name, r"^profiles/[0-9a-f]{32}\.jpg$")
        page = self.client.get(url)
        self.assertContains(page, f'href="{reverse("profile_photo", args=[self.bob.pk])}"')
        self.assertNotContains(page, "/media/")

    def test_it_shows_a_bad_inline_photo_on_the_form(self):
        self.login(self.admin)
        url = reverse("admin:people_user_change", args=[self.bob.pk])
        data = {
            "email": self.bob.email,
            "is_active": "on",
            "is_staff": "on",
            "profile-TOTAL_FORMS": "1",
            "profile-INITIAL_FORMS": "1",
            "profile-MIN_NUM_FORMS": "0",
            "profile-MAX_NUM_FORMS": "1",
            "profile-0-id": self.profile(self.bob).pk,
            "profile-0-user": self.bob.pk,
            "profile-0-photo": SimpleUploadedFile("x.png", b"not an image", "image/png"),
        }
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 200)
        self.assertFalse(self.profile(self.bob).photo)
