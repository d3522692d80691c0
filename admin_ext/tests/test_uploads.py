"""Uploaded files never reach the disk and are bounded per file and per request
(``admin_ext.uploads.MemoryOnlyUploadHandler``, settings ``FILE_UPLOAD_HANDLERS``)."""

from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.test import RequestFactory, SimpleTestCase, override_settings
from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic.tests.importing import preview, upload

DJANGO_DEFAULT_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]


def posted_files(**files) -> dict:
    """The ``request.FILES`` Django builds for a multipart POST of ``files``."""
    request = RequestFactory().post("/upload/", files)
    return {name: request.FILES[name] for name in files}


@override_settings(
    FILE_UPLOAD_MAX_MEMORY_SIZE=1000, UPLOAD_MAX_FILE_BYTES=1000, UPLOAD_MAX_REQUEST_BYTES=10_000
)
class MemoryOnlyUploadHandlerTests(SimpleTestCase):
    def test_it_keeps_each_file_of_a_request_over_the_memory_size_in_memory(self):
        data = {
            "a": SimpleUploadedFile("a.csv", b"a" * 600),
            "b": SimpleUploadedFile("b.csv", b"b" * 600),
        }

        files = posted_files(**data)

        for name, expected in (("a", b"a" * 600), ("b", b"b" * 600)):
            self.assertIsInstance(files[name], InMemoryUploadedFile)
            self.assertFalse(hasattr(files[name], "temporary_file_path"))
            self.assertEqual(files[name].read(), expected)

    def test_djangos_own_handlers_would_have_written_them_to_the_temp_folder(self):
        data = {
            "a": SimpleUploadedFile("a.csv", b"a" * 600),
            "b": SimpleUploadedFile("b.csv", b"b" * 600),
        }

        with override_settings(FILE_UPLOAD_HANDLERS=DJANGO_DEFAULT_HANDLERS):
            files = posted_files(**data)

        self.assertTrue(hasattr(files["a"], "temporary_file_path"))
        for file in files.values():
            file.close()

    def test_a_file_over_the_limit_arrives_empty_with_its_real_size(self):
        files = posted_files(big=SimpleUploadedFile("big.csv", b"x" * 5000))

        self.assertEqual(files["big"].size, 5000)
        self.assertEqual(files["big"].read(), b"")

    def test_a_file_at_the_limit_arrives_whole(self):
        files = posted_files(edge=SimpleUploadedFile("edge.csv", b"x" * 1000))

        self.assertEqual(files["edge"].read(), b"x" * 1000)


class UploadLimitPagesTests(ClinicTestCase):
    def test_an_import_over_the_file_limit_is_refused_by_size_on_the_form(self):
        self.login(self.steward)
        rows = [[f"big-{n}", "Kim", "Keeper", "1990-01-02", "F"] for n in range(100)]
        header = ["external_id", "first_name", "last_name", "birth_date", "gender"]

        with override_settings(IMPORT_MAX_UPLOAD_BYTES=1000, UPLOAD_MAX_FILE_BYTES=1000):
            response = preview(self.client, "patient", upload("big.csv", header, rows))

        self.assertEqual(response.status_code, 200)
        self.assertIn("more than the 1,000 bytes", str(response.context["form"].errors))

    @override_settings(UPLOAD_MAX_REQUEST_BYTES=1000)
    def test_a_request_over_the_request_limit_is_answered_400_before_it_is_read(self):
        self.login(self.front_desk)
        photo = SimpleUploadedFile("me.png", b"x" * 5000, "image/png")

        response = self.client.post(reverse("my_profile"), {"photo": photo})

        self.assertEqual(response.status_code, 400)
