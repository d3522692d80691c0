"""A profile photo is judged by its pixels, stored under a name of ours and served as an
image only (OWASP ASVS 4.0 V12.1-V12.5; people.services.photo_process,
people.views.profile_photo). test_my_profile.py covers the page; these are the
hostile files."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from admin_ext.testing import ClinicTestCase
from people import services
from people.tests.test_my_profile import MediaRootMixin, image_file

MY_PROFILE = reverse("my_profile")


class HostilePhotoTests(MediaRootMixin, ClinicTestCase):
    def test_bytes_after_the_image_are_not_stored(self):
        # A polyglot: a real PNG that is also an HTML page for a browser that sniffs.
        upload = image_file("me.png", "PNG", size=(64, 64))
        upload = SimpleUploadedFile(
            "me.png", upload.read() + b"<html><script>alert(1)</script></html>", "image/png"
        )
        self.login(self.front_desk)

        self.client.post(MY_PROFILE, {"photo": upload})

        photo = self.profile(self.front_desk).photo
        with photo.open("rb") as stored:
            data = stored.read()
        self.assertNotIn(b"<script", data)
        self.assertEqual(Image.open(io.BytesIO(data)).size, (64, 64))

    def test_a_file_name_with_a_path_does_not_choose_where_it_is_stored(self):
        self.login(self.front_desk)
        upload = image_file("../../../etc/cron.d/evil.png", "PNG", size=(32, 32))

        self.client.post(MY_PROFILE, {"photo": upload})

        self.assertRegex(self.profile(self.front_desk).photo.name, r"^profiles/[0-9a-f]{32}\.jpg$")

    def test_a_small_file_that_decodes_to_too_many_pixels_is_refused(self):
        # 50 megapixels of one colour: a few kilobytes of PNG, 150 MB once decoded as RGB.
        buffer = io.BytesIO()
        Image.new("1", (10_000, 5_000)).save(buffer, format="PNG")
        self.assertLess(len(buffer.getvalue()), services.PHOTO_MAX_BYTES)
        self.login(self.front_desk)

        response = self.client.post(
            MY_PROFILE, {"photo": SimpleUploadedFile("bomb.png", buffer.getvalue(), "image/png")}
        )

        self.assertContains(response, services.MSG_PHOTO_TOO_MANY_PIXELS)
        self.assertFalse(self.profile(self.front_desk).photo)

    def test_the_photo_is_served_as_an_image_a_browser_may_not_sniff_or_run(self):
        services.profile_update(
            profile=self.profile(self.alice), actor=self.alice, reason="test", photo=image_file()
        )
        self.login(self.alice)

        response = self.client.get(reverse("profile_photo", args=[self.alice.pk]))

        self.assertEqual(response["Content-Type"], "image/jpeg")
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")
        self.assertEqual(response["Content-Security-Policy"], "default-src 'none'; sandbox")
        self.assertNotIn("attachment", response.get("Content-Disposition", ""))
