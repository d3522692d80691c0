"""Uploads waiting between preview and confirm live in the database, owned and expiring.

The issue: import-export's default storage left every uploaded PHI file in /tmp
indefinitely, and its confirm step read (and deleted) whatever file in /tmp the
posted name pointed at. See admin_ext/imports/storage.py.
"""

import datetime
import io
import tempfile
from pathlib import Path
from unittest import mock

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from admin_ext.imports.models import ImportJob, ImportUpload
from admin_ext.imports.storage import (
    REFUSAL,
    TAMPERED,
    UNREADABLE,
    DatabaseStorage,
    UploadUnavailable,
    upload_expiry,
)
from admin_ext.testing import ClinicTestCase
from clinic.models import Patient
from clinic.tests.importing import confirm, csv_text, preview, upload

HEADER = ["external_id", "first_name", "last_name", "birth_date", "gender"]
ROWS = [["up-1", "Una", "Upton", "1990-01-02", "F"]]
IMPORT_URL = reverse("admin:clinic_patient_import")
PROCESS_URL = reverse("admin:clinic_patient_process_import")


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


class StorageAdminTestCase(ClinicTestCase):
    def setUp(self):
        self.login(self.steward)

    def preview_ok(self, name="patients.csv", rows=ROWS):
        response = preview(self.client, "patient", upload(name, HEADER, rows))
        self.assertIn("confirm_form", response.context, "the preview offers no confirm")
        return response

    def assertRefused(self, response, message=REFUSAL):
        self.assertRedirects(response, IMPORT_URL, fetch_redirect_response=False)
        self.assertIn(message, messages_of(response))


class PreviewConfirmTests(StorageAdminTestCase):
    def test_the_upload_waits_in_the_database_owned_by_the_uploader_until_confirm(self):
        response = self.preview_ok()

        token = response.context["confirm_form"].initial["import_file_name"]
        stored = ImportUpload.objects.get()
        self.assertEqual(
            (stored.token, stored.owner, stored.name, bytes(stored.content)),
            (token, self.steward, "patients.csv", csv_text(HEADER, ROWS).encode()),
        )
        self.assertRegex(token, r"^[A-Za-z0-9_-]{43}$")
        self.assertAlmostEqual(
            stored.expires_at, timezone.now() + datetime.timedelta(hours=1), delta=_MINUTE
        )

        response = confirm(self.client, "patient", response)

        self.assertRedirects(response, reverse("admin:clinic_patient_changelist"))
        self.assertTrue(Patient.objects.filter(external_id="up-1").exists())
        self.assertFalse(ImportUpload.objects.exists())

    def test_two_uploads_of_the_same_file_get_different_tokens(self):
        first = self.preview_ok().context["confirm_form"].initial["import_file_name"]
        second = self.preview_ok().context["confirm_form"].initial["import_file_name"]

        self.assertNotEqual(first, second)

    def test_nothing_is_written_to_the_temp_folder(self):
        with (
            tempfile.TemporaryDirectory() as folder,
            mock.patch.object(tempfile, "tempdir", folder),
        ):
            response = self.preview_ok()
            self.assertEqual(list(Path(folder).iterdir()), [], "after the preview")
            bad = [["bad-1", "Bea", "Bad", "2990-01-01", "F"]]
            preview(self.client, "patient", upload("bad.csv", HEADER, bad))
            self.assertEqual(list(Path(folder).iterdir()), [], "after a refused preview")

            confirm(self.client, "patient", response)

            self.assertEqual(list(Path(folder).iterdir()), [], "after the confirm")
        self.assertTrue(Patient.objects.filter(external_id="up-1").exists())

    @override_settings(
        IMPORT_EXPORT_TMP_STORAGE_CLASS="import_export.tmp_storages.TempFolderStorage"
    )
    def test_control_the_library_default_would_leave_the_file_in_the_temp_folder(self):
        # Shows the check above can fail: the stock storage writes the PHI file there.
        with (
            tempfile.TemporaryDirectory() as folder,
            mock.patch.object(tempfile, "tempdir", folder),
        ):
            self.preview_ok()

            self.assertEqual(len(list(Path(folder).iterdir())), 1)

    def test_a_preview_with_errors_keeps_the_upload_for_the_next_preview_owned_and_expiring(self):
        rows = [["bad-1", "Bea", "Bad", "2990-01-01", "F"]]  # birth date in the future

        response = preview(self.client, "patient", upload("bad.csv", HEADER, rows))

        self.assertNotIn("confirm_form", response.context)
        kept = ImportUpload.objects.get()  # re-previewed without choosing the file again
        self.assertEqual((kept.owner, kept.name), (self.steward, "bad.csv"))
        self.assertGreater(kept.expires_at, timezone.now())

    def test_a_confirm_that_fails_still_deletes_the_upload(self):
        response = self.preview_ok()
        self.assertTrue(ImportUpload.objects.exists())

        with (
            mock.patch(
                "import_export.admin.ImportMixin.process_dataset", side_effect=RuntimeError("boom")
            ),
            self.assertRaises(RuntimeError),
        ):
            confirm(self.client, "patient", response)

        self.assertFalse(ImportUpload.objects.exists())
        self.assertFalse(Patient.objects.filter(external_id="up-1").exists())

    def test_a_confirmed_upload_cannot_be_confirmed_again(self):
        response = self.preview_ok()
        confirm(self.client, "patient", response)

        again = confirm(self.client, "patient", response)

        self.assertRefused(again)

    def test_the_job_names_the_uploaded_file_not_the_one_posted_back(self):
        response = self.preview_ok(name="patients.csv")
        data = {**response.context["confirm_form"].initial, "original_file_name": "forged.csv"}

        self.client.post(PROCESS_URL, data)

        self.assertTrue(Patient.objects.filter(external_id="up-1").exists())
        self.assertEqual([f["name"] for f in ImportJob.objects.get().files], ["patients.csv"])


class DoubleConfirmTests(StorageAdminTestCase):
    def test_a_second_confirm_of_the_same_upload_is_refused_and_imports_nothing_more(self):
        response = self.preview_ok()
        first = confirm(self.client, "patient", response)
        self.assertRedirects(first, reverse("admin:clinic_patient_changelist"))
        jobs = ImportJob.objects.count()

        second = confirm(self.client, "patient", response)  # a double click, a replay

        self.assertRefused(second)
        self.assertEqual(ImportJob.objects.count(), jobs)

    def test_the_storage_hands_an_upload_to_one_claiming_reader_only(self):
        storage = DatabaseStorage(user=self.steward, file_name="p.csv", read_mode="rb")
        storage.save(b"data")

        claimed = DatabaseStorage(name=storage.name, user=self.steward, read_mode="rb", claim=True)
        self.assertEqual(claimed.read(), b"data")
        with self.assertRaises(UploadUnavailable):
            DatabaseStorage(name=storage.name, user=self.steward, read_mode="rb", claim=True).read()


class RefusalTests(StorageAdminTestCase):
    def test_another_user_cannot_confirm_or_destroy_someone_elses_upload(self):
        response = self.preview_ok()
        stolen = response.context["confirm_form"].initial
        self.login(self.operator)  # a superuser, even

        refused = self.client.post(PROCESS_URL, stolen)

        self.assertRefused(refused)
        self.assertFalse(Patient.objects.filter(external_id="up-1").exists())
        self.assertTrue(ImportUpload.objects.filter(token=stolen["import_file_name"]).exists())
        # The owner can still confirm it.
        self.login(self.steward)
        confirm(self.client, "patient", response)
        self.assertTrue(Patient.objects.filter(external_id="up-1").exists())

    def test_a_path_or_forged_name_is_refused_and_no_file_is_read_or_deleted(self):
        initial = self.preview_ok().context["confirm_form"].initial
        with (
            tempfile.TemporaryDirectory() as folder,
            mock.patch.object(tempfile, "tempdir", folder),
        ):
            victim = Path(folder) / "victim.csv"
            victim.write_text(csv_text(HEADER, [["victim-1", "Vic", "Tim", "1970-01-01", "F"]]))
            names = [
                "victim.csv",
                "../victim.csv",
                str(victim),
                "../../etc/passwd",
                "/tmp/x",
                "A" * 43,  # token-shaped, never issued
                "x" * 10000,
            ]
            for name in names:
                with self.subTest(name=name[:50]):
                    response = self.client.post(PROCESS_URL, {**initial, "import_file_name": name})

                    self.assertRefused(response)
            self.assertTrue(victim.exists())
        self.assertFalse(Patient.objects.filter(external_id="victim-1").exists())
        self.assertFalse(Patient.objects.filter(external_id="up-1").exists())

    def test_an_expired_upload_is_refused_and_deleted(self):
        response = self.preview_ok()
        ImportUpload.objects.update(expires_at=timezone.now() - _MINUTE)

        refused = confirm(self.client, "patient", response)

        self.assertRefused(refused)
        self.assertFalse(Patient.objects.filter(external_id="up-1").exists())
        self.assertFalse(ImportUpload.objects.exists())

    def test_altered_format_or_resource_fields_are_refused_not_a_server_error(self):
        for field, value in [
            ("format", "7"),
            ("format", "abc"),
            ("format", "-1"),
            ("resource", "9"),
            ("resource", "-1"),
        ]:
            with self.subTest(field=field, value=value):
                initial = self.preview_ok().context["confirm_form"].initial

                response = self.client.post(PROCESS_URL, {**initial, field: value})

                self.assertRefused(response, TAMPERED)
                self.assertFalse(ImportUpload.objects.exists())
        self.assertFalse(Patient.objects.filter(external_id="up-1").exists())

    def test_stored_bytes_that_are_no_table_are_refused_not_a_server_error(self):
        storage = DatabaseStorage(user=self.steward, file_name="p.xlsx", read_mode="rb")
        storage.save(b"PK\x03\x04\xff\xfe\x00 not utf-8")

        response = self.client.post(
            PROCESS_URL,
            {"import_file_name": storage.name, "original_file_name": "p.xlsx", "format": "0"},
        )

        self.assertRefused(response, UNREADABLE)
        self.assertFalse(ImportUpload.objects.exists())

    def test_without_import_permission_the_confirm_is_still_forbidden(self):
        initial = self.preview_ok().context["confirm_form"].initial
        self.login(self.front_desk)

        response = self.client.post(PROCESS_URL, initial)

        self.assertEqual(response.status_code, 403)
        self.assertTrue(ImportUpload.objects.exists())


_MINUTE = datetime.timedelta(minutes=1)


class DatabaseStorageTests(ClinicTestCase):
    def test_text_and_binary_reads_return_what_was_saved(self):
        text = DatabaseStorage(user=self.steward, encoding="utf-8-sig", read_mode="r")
        text.save("id,name\n1,Zoë\n")
        binary = DatabaseStorage(user=self.steward, read_mode="rb")
        binary.save(b"\x00\x01")

        self.assertEqual(
            DatabaseStorage(name=text.name, user=self.steward, encoding="utf-8-sig").read(),
            "id,name\n1,Zoë\n",
        )
        self.assertEqual(
            DatabaseStorage(name=binary.name, user=self.steward, read_mode="rb").read(), b"\x00\x01"
        )

    def test_only_the_owner_reads_and_removes(self):
        storage = DatabaseStorage(user=self.steward)
        storage.save(b"data")

        for user in (self.operator, None):
            other = DatabaseStorage(name=storage.name, user=user)
            with self.subTest(user=user), self.assertRaisesMessage(UploadUnavailable, REFUSAL):
                other.read()
            other.remove()
        self.assertTrue(ImportUpload.objects.filter(token=storage.name).exists())
        storage.remove()
        self.assertFalse(ImportUpload.objects.exists())

    def test_a_refusal_is_a_permission_error_so_any_view_answers_403(self):
        self.assertTrue(issubclass(UploadUnavailable, PermissionDenied))

    def test_saving_needs_a_user(self):
        with self.assertRaises(ImproperlyConfigured):
            DatabaseStorage().save(b"data")
        self.assertFalse(ImportUpload.objects.exists())

    def test_each_save_purges_expired_uploads_in_one_delete(self):
        old = DatabaseStorage(user=self.operator)
        old.save(b"old")
        fresh = DatabaseStorage(user=self.operator)
        fresh.save(b"fresh")
        ImportUpload.objects.filter(token=old.name).update(expires_at=timezone.now())

        with CaptureQueriesContext(connection) as queries:
            DatabaseStorage(user=self.steward).save(b"new")

        deletes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("DELETE")]
        self.assertEqual(len(deletes), 1, deletes)
        self.assertEqual(len(queries), 2, [q["sql"] for q in queries])  # DELETE, INSERT
        self.assertFalse(ImportUpload.objects.filter(token=old.name).exists())
        self.assertTrue(ImportUpload.objects.filter(token=fresh.name).exists())

    def test_the_expiry_setting_takes_a_timedelta_or_seconds(self):
        for value, expected in [
            (datetime.timedelta(minutes=5), datetime.timedelta(minutes=5)),
            (90, datetime.timedelta(seconds=90)),
        ]:
            with self.subTest(value=value), override_settings(IMPORT_UPLOAD_EXPIRY=value):
                storage = DatabaseStorage(user=self.steward)
                storage.save(b"x")
                stored = ImportUpload.objects.get(token=storage.name)
                self.assertAlmostEqual(
                    stored.expires_at,
                    timezone.now() + expected,
                    delta=datetime.timedelta(seconds=5),
                )
        for value in (0, -1, "1h", True):
            with self.subTest(value=value), override_settings(IMPORT_UPLOAD_EXPIRY=value):
                with self.assertRaises(ImproperlyConfigured):
                    upload_expiry()


class PurgeImportsCommandTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        from django.contrib.auth import get_user_model

        cls.user = get_user_model().objects.create_user(email="u@example.com", password="x")

    def make(self, *expires_in):
        """One upload per offset from now; saved first, then aged (a save purges)."""
        tokens = []
        for _ in expires_in:
            storage = DatabaseStorage(user=self.user, file_name="p.csv")
            storage.save(b"phi")
            tokens.append(storage.name)
        for token, offset in zip(tokens, expires_in, strict=True):
            ImportUpload.objects.filter(token=token).update(expires_at=timezone.now() + offset)
        return tokens

    def test_it_deletes_expired_uploads_and_keeps_fresh_ones(self):
        *expired, fresh = self.make(-_MINUTE, -datetime.timedelta(days=3), _MINUTE)
        out = io.StringIO()

        call_command("purge_imports", stdout=out)

        self.assertIn("Deleted 2 expired import uploads.", out.getvalue())
        self.assertFalse(ImportUpload.objects.filter(token__in=expired).exists())
        self.assertTrue(ImportUpload.objects.filter(token=fresh).exists())

    def test_dry_run_counts_and_deletes_nothing(self):
        self.make(-_MINUTE, _MINUTE)
        out = io.StringIO()

        call_command("purge_imports", "--dry-run", stdout=out)

        self.assertIn("1 expired import upload would be deleted.", out.getvalue())
        self.assertEqual(ImportUpload.objects.count(), 2)
