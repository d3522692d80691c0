"""The upload page keeps the file after a failed preview, names its detected format, and
shows progress (issue 6).

- A preview that read the file but offers no confirm keeps the upload: the form says
  "File: bad.csv (CSV, comma-separated, UTF-8, 2 rows)" and posting it again without
  a file previews the same upload, with the owner and expiry checked as at confirm
  (admin_ext/imports/storage.py, mixins.py; the Synthea folder page alike,
  clinic/admin_synthea.py).
- Preview and confirm record their progress in the cache under the user and a
  page-made id; ``/admin/import-progress/<id>/`` returns it to that user only
  (admin_ext/imports/views.py).
"""

import datetime
import hashlib
import io
import secrets
from unittest import mock

from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from admin_ext.imports.models import ImportJob, ImportUpload
from admin_ext.imports.storage import REFUSAL
from admin_ext.imports.views import ImportProgress, progress_key
from admin_ext.testing import ClinicTestCase
from clinic import admin_synthea
from clinic.models import Doctor, Organization, Patient
from clinic.resources import PatientResource
from clinic.tests.importing import CSV_FORMAT, NATIVE, confirm, csv_text, preview, upload
from clinic.tests.test_admin_synthea_import import folder, zip_upload
from clinic.tests.test_import_synthea_command import patient
from people.services import user_update

HEADER = ["external_id", "first_name", "last_name", "birth_date", "gender"]
GOOD = ["keep-1", "Kim", "Keeper", "1990-01-02", "F"]
BAD = ["keep-2", "Bea", "Bad", "2990-01-01", "F"]  # birth date in the future
IMPORT_URL = reverse("admin:clinic_patient_import")
SYNTHEA_URL = reverse("admin:clinic_patient_synthea_import")
_MINUTE = datetime.timedelta(minutes=1)


def progress_url(progress_id: str) -> str:
    return reverse("import_progress", args=[progress_id])


def new_id() -> str:
    """A progress id as the page's script makes one (18 random bytes, base64url)."""
    return secrets.token_urlsafe(18)


class UploadPageTestCase(ClinicTestCase):
    def setUp(self):
        cache.clear()
        self.login(self.steward)

    def failed_preview(self, name="bad.csv", rows=(GOOD, BAD), **fields):
        """A preview that finds an invalid row: no confirm, the upload kept."""
        response = preview(self.client, "patient", upload(name, HEADER, list(rows)), **fields)
        self.assertEqual(response.status_code, 200)
        self.assertNotIn("confirm_form", response.context)
        self.assertTrue(response.context["result"].problems)
        return response

    def again(self, token, **fields):
        """Post the upload form again without a file, carrying ``token``."""
        data = {"resource": NATIVE, "format": CSV_FORMAT, "kept_upload": token, **fields}
        return self.client.post(IMPORT_URL, data)

    def assertRefused(self, response, message=REFUSAL):
        self.assertEqual(response.status_code, 200)
        self.assertNotIn("result", response.context)
        self.assertNotIn("confirm_form", response.context)
        self.assertIn(message, response.context["form"].errors["import_file"])
        self.assertContains(response, message)

    def assertNothingImported(self):
        self.assertFalse(Patient.objects.filter(external_id__startswith="keep-").exists())


class KeptUploadTests(UploadPageTestCase):
    def test_a_failed_preview_keeps_the_upload_and_names_it_on_the_form(self):
        response = self.failed_preview()

        stored = ImportUpload.objects.get()
        self.assertEqual((stored.owner, stored.name), (self.steward, "bad.csv"))
        self.assertAlmostEqual(
            stored.expires_at, timezone.now() + datetime.timedelta(hours=1), delta=_MINUTE
        )
        self.assertContains(
            response,
            "File: <strong>bad.csv</strong> (CSV, comma-separated, UTF-8, 2 rows) &mdash; "
            "choose another file to replace it",
        )
        self.assertContains(
            response, f'<input type="hidden" name="kept_upload" value="{stored.token}">', html=True
        )
        self.assertContains(response, "Nothing will be imported until these are corrected")

    def test_submitting_again_without_a_file_previews_the_kept_upload(self):
        token = self.failed_preview().context["kept_upload"].token

        response = self.again(token, valid_rows_only="on")

        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.context["result"].counts["new"], 1)
        self.assertEqual(response.context["confirm_form"].initial["import_file_name"], token)
        self.assertEqual(ImportUpload.objects.get().token, token)  # no second copy
        confirm(self.client, "patient", response)
        self.assertTrue(Patient.objects.filter(external_id="keep-1").exists())
        self.assertFalse(Patient.objects.filter(external_id="keep-2").exists())
        self.assertFalse(ImportUpload.objects.exists())
        job = ImportJob.objects.latest("pk")
        self.assertEqual(job.status, ImportJob.Status.PARTIAL)
        self.assertEqual([f["name"] for f in job.files], ["bad.csv"])

    def test_a_re_preview_that_fails_again_keeps_it_and_records_the_stored_file(self):
        token = self.failed_preview().context["kept_upload"].token

        response = self.again(token)

        self.assertEqual(response.context["kept_upload"].token, token)
        self.assertContains(response, "File: <strong>bad.csv</strong>")
        self.assertEqual(ImportUpload.objects.count(), 1)
        jobs = ImportJob.objects.order_by("pk")
        self.assertEqual([j.status for j in jobs], [ImportJob.Status.REFUSED] * 2)
        content = csv_text(HEADER, [GOOD, BAD]).encode()
        self.assertEqual(
            jobs[1].files[0],
            {
                "name": "bad.csv",
                "sha256": hashlib.sha256(content).hexdigest(),
                "format": "CSV",
                "bytes": len(content),
                "rows": 2,
            },
        )
        self.assertNothingImported()

    def test_the_duplicate_confirmation_can_be_given_on_the_kept_upload(self):
        twin = ["keep-twin", "Ann", "Patel", "1980-05-17", "F"]  # as alice_patient
        response = preview(self.client, "patient", upload("twin.csv", HEADER, [twin]))
        self.assertNotIn("confirm_form", response.context)
        token = response.context["kept_upload"].token

        response = self.again(token, confirm_not_duplicate="on")

        self.assertEqual(response.context["result"].counts["new"], 1)
        confirm(self.client, "patient", response)
        self.assertTrue(Patient.objects.filter(external_id="keep-twin").exists())

    def test_the_form_names_the_format_read_from_the_content(self):
        text = "external_id;first_name;last_name;birth_date;gender\r\n"
        text += "keep-9;Zoé;Brontë;2990-01-01;F\r\n"
        windows = SimpleUploadedFile("export.csv", text.encode("cp1252"))
        workbook = Workbook()
        sheet = workbook.active
        sheet.append(HEADER)
        sheet.append(BAD)
        out = io.BytesIO()
        workbook.save(out)
        xlsx = SimpleUploadedFile("named.csv", out.getvalue())  # the name never decides
        for upload_, detail in (
            (windows, "CSV, semicolon-separated, Windows-1252, 1 row"),
            (xlsx, "XLSX, 1 row"),
        ):
            with self.subTest(detail=detail):
                response = preview(self.client, "patient", upload_)

                self.assertEqual(response.context["kept_upload"].detail, detail)
                self.assertContains(response, f"({detail}) &mdash;")

    def test_choosing_a_new_file_replaces_the_kept_upload(self):
        old = self.failed_preview().context["kept_upload"].token

        response = preview(
            self.client, "patient", upload("fixed.csv", HEADER, [GOOD]), kept_upload=old
        )

        self.assertIn("confirm_form", response.context)
        self.assertFalse(ImportUpload.objects.filter(token=old).exists())
        self.assertEqual(ImportUpload.objects.get().name, "fixed.csv")

    def test_a_new_file_that_fails_replaces_it_too(self):
        old = self.failed_preview().context["kept_upload"].token

        response = preview(
            self.client, "patient", upload("worse.csv", HEADER, [BAD]), kept_upload=old
        )

        self.assertFalse(ImportUpload.objects.filter(token=old).exists())
        self.assertEqual(response.context["kept_upload"].name, "worse.csv")
        self.assertEqual(ImportUpload.objects.get().name, "worse.csv")

    def test_a_file_refused_before_reading_leaves_the_kept_upload_on_offer(self):
        token = self.failed_preview().context["kept_upload"].token

        with override_settings(IMPORT_MAX_UPLOAD_BYTES=10):
            response = preview(
                self.client, "patient", upload("big.csv", HEADER, [GOOD]), kept_upload=token
            )

        self.assertIn("more than the 10 bytes", str(response.context["form"].errors))
        self.assertEqual(response.context["kept_upload"].token, token)
        self.assertContains(response, "File: <strong>bad.csv</strong>")
        self.assertTrue(ImportUpload.objects.filter(token=token).exists())

    def test_a_file_that_cannot_be_read_is_not_kept(self):
        png = SimpleUploadedFile("patients.csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)

        response = preview(self.client, "patient", png)

        self.assertIn("a PNG image", str(response.context["form"].errors["import_file"]))
        self.assertIsNone(response.context["kept_upload"])
        self.assertFalse(ImportUpload.objects.exists())

    def test_a_successful_preview_is_unchanged_the_confirm_form_carries_the_upload(self):
        response = preview(self.client, "patient", upload("good.csv", HEADER, [GOOD]))

        self.assertNotIn("kept_upload", response.context)
        self.assertNotContains(response, "choose another file to replace it")
        confirm(self.client, "patient", response)
        self.assertTrue(Patient.objects.filter(external_id="keep-1").exists())

    def test_the_empty_form_asks_for_a_file(self):
        response = self.client.get(IMPORT_URL)
        self.assertContains(
            response, '<input type="hidden" name="kept_upload" value="">', html=True
        )

        response = self.again("")

        self.assertIn("This field is required.", response.context["form"].errors["import_file"])


class KeptUploadRefusalTests(UploadPageTestCase):
    def test_another_users_token_is_refused_and_their_upload_stays(self):
        token = self.failed_preview().context["kept_upload"].token
        for user in (self.operator, self.admin):  # a superuser, even
            with self.subTest(user=user.email):
                self.login(user)

                response = self.again(token, valid_rows_only="on")

                self.assertRefused(response)
                self.assertNotContains(response, "Bea")
                self.assertNotContains(response, "bad.csv")
        self.assertTrue(ImportUpload.objects.filter(token=token, owner=self.steward).exists())
        self.assertEqual(ImportJob.objects.count(), 1)  # the steward's own preview only
        self.assertNothingImported()

    def test_an_expired_kept_upload_is_refused_and_deleted(self):
        token = self.failed_preview().context["kept_upload"].token
        ImportUpload.objects.update(expires_at=timezone.now() - _MINUTE)

        response = self.again(token)

        self.assertRefused(response)
        self.assertFalse(ImportUpload.objects.exists())

    def test_forged_tokens_are_refused_without_a_server_error(self):
        self.failed_preview()
        for token in ["../../etc/passwd", "/tmp/x", "A" * 43, "x" * 500, "\x00", "bad.csv"]:
            with self.subTest(token=token[:20]):
                response = self.again(token)

                self.assertEqual(response.status_code, 200)
                self.assertNotIn("result", response.context)
                self.assertTrue(response.context["form"].errors["import_file"])
        self.assertEqual(ImportUpload.objects.count(), 1)

    def test_crafted_choices_with_a_kept_token_are_no_server_error(self):
        token = self.failed_preview().context["kept_upload"].token
        for fields in ({"resource": "9"}, {"format": "abc"}, {"resource": "-1", "format": "7"}):
            with self.subTest(fields=fields):
                response = self.again(token, **fields)

                self.assertEqual(response.status_code, 200)
                self.assertTrue(response.context["form"].errors)
                self.assertEqual(response.context["kept_upload"].token, token)
        self.assertTrue(ImportUpload.objects.filter(token=token).exists())

    def test_a_new_file_never_deletes_another_users_upload(self):
        token = self.failed_preview().context["kept_upload"].token
        self.login(self.admin)

        preview(self.client, "patient", upload("mine.csv", HEADER, [BAD]), kept_upload=token)

        self.assertTrue(ImportUpload.objects.filter(token=token, owner=self.steward).exists())

    def test_roles_that_may_not_import_get_403_and_the_upload_stays(self):
        token = self.failed_preview().context["kept_upload"].token
        for user in (self.front_desk, self.auditor, self.alice, self.bob):
            with self.subTest(user=user.email):
                self.login(user)

                self.assertEqual(self.client.get(IMPORT_URL).status_code, 403)
                self.assertEqual(self.again(token).status_code, 403)
        self.assertTrue(ImportUpload.objects.filter(token=token).exists())

    def test_anonymous_visitors_are_sent_to_the_login_page(self):
        token = self.failed_preview().context["kept_upload"].token
        self.client.logout()

        response = self.again(token)

        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("admin:login"), response["Location"])
        self.assertTrue(ImportUpload.objects.filter(token=token).exists())


class SyntheaKeptFolderTests(UploadPageTestCase):
    def bad_folder(self):
        return folder(
            patients=[patient("pat-1", "Cy5"), patient("pat-2", "Di6", birth="1990-13-01")]
        )

    def failed_folder_preview(self):
        response = self.client.post(SYNTHEA_URL, {"files": zip_upload(self.bad_folder())})
        self.assertEqual(response.status_code, 200)
        self.assertIsNone(response.context["confirm_form"])
        return response

    def again(self, token, **fields):
        return self.client.post(SYNTHEA_URL, {"kept_upload": token, **fields})

    def test_a_failed_folder_preview_keeps_the_folder_and_names_it(self):
        response = self.failed_folder_preview()

        stored = ImportUpload.objects.get()
        self.assertEqual((stored.owner, stored.name), (self.steward, "synthea.zip"))
        self.assertContains(
            response,
            "File: <strong>synthea.zip</strong> (CSV files: organizations.csv 1 row, "
            "providers.csv 2 rows, patients.csv 2 rows, encounters.csv) &mdash; "
            "choose other files to replace it",  # not reached: patients.csv has an invalid row
        )
        self.assertContains(
            response, f'<input type="hidden" name="kept_upload" value="{stored.token}">', html=True
        )

    def test_submitting_again_without_files_previews_the_kept_folder(self):
        token = self.failed_folder_preview().context["kept_upload"].token

        response = self.again(token, valid_rows_only="on")

        form = response.context["confirm_form"]
        self.assertIsNotNone(form)
        self.assertEqual(form.initial["token"], token)
        self.assertEqual(ImportUpload.objects.count(), 1)
        self.client.post(SYNTHEA_URL, form.initial)
        self.assertTrue(Patient.objects.filter(external_id="pat-1").exists())
        self.assertFalse(Patient.objects.filter(external_id="pat-2").exists())
        self.assertTrue(Organization.objects.filter(external_id="org-1").exists())
        self.assertTrue(Doctor.objects.filter(external_id="prov-a").exists())
        self.assertFalse(ImportUpload.objects.exists())

    def test_the_re_rendered_form_keeps_the_valid_rows_only_choice(self):
        patients = folder(patients=[patient("pat-1", "Cy5", birth="soon")])["patients.csv"]
        files = {"patients.csv": patients}
        response = self.client.post(
            SYNTHEA_URL, {"files": zip_upload(files), "valid_rows_only": "on"}
        )

        self.assertTrue(response.context["upload_form"].initial["valid_rows_only"])
        self.assertRegex(
            response.text, r'<input type="checkbox" name="valid_rows_only"[^>]* checked>'
        )

    def test_another_users_token_is_refused_and_their_folder_stays(self):
        token = self.failed_folder_preview().context["kept_upload"].token
        self.login(self.operator)

        response = self.again(token, valid_rows_only="on")

        self.assertEqual(response.status_code, 200)
        self.assertIn(REFUSAL, response.context["upload_form"].errors["files"])
        self.assertIsNone(response.context.get("result"))
        self.assertTrue(ImportUpload.objects.filter(token=token, owner=self.steward).exists())

    def test_an_expired_kept_folder_is_refused_and_deleted(self):
        token = self.failed_folder_preview().context["kept_upload"].token
        ImportUpload.objects.update(expires_at=timezone.now() - _MINUTE)

        response = self.again(token)

        self.assertIn(REFUSAL, response.context["upload_form"].errors["files"])
        self.assertFalse(ImportUpload.objects.exists())

    def test_forged_tokens_are_refused_without_a_server_error(self):
        for token in ["../../etc/passwd", "A" * 43, "x" * 500, "\x00"]:
            with self.subTest(token=token[:20]):
                response = self.again(token)

                self.assertEqual(response.status_code, 200)
                self.assertTrue(response.context["upload_form"].errors["files"])

    def test_stored_bytes_that_are_not_a_folder_are_refused_and_deleted(self):
        token = self.failed_folder_preview().context["kept_upload"].token
        ImportUpload.objects.update(content=b"not a zip")

        response = self.again(token)

        self.assertIn(REFUSAL, response.context["upload_form"].errors["files"])
        self.assertFalse(ImportUpload.objects.exists())

    def test_choosing_new_files_replaces_the_kept_folder(self):
        old = self.failed_folder_preview().context["kept_upload"].token

        response = self.client.post(
            SYNTHEA_URL, {"files": zip_upload(folder(), name="fixed.zip"), "kept_upload": old}
        )

        self.assertIsNotNone(response.context["confirm_form"])
        self.assertFalse(ImportUpload.objects.filter(token=old).exists())
        self.assertEqual(ImportUpload.objects.get().name, "fixed.zip")

    def test_no_files_and_no_kept_folder_is_still_required(self):
        response = self.again("")

        self.assertIn("This field is required.", response.context["upload_form"].errors["files"])


class ProgressViewTests(UploadPageTestCase):
    def record(self, user, progress_id, rows=45_000, total=100_000):
        recorder = ImportProgress(progress_key(user, progress_id))
        recorder.stage("checking", total=total)
        recorder.rows(rows, total)
        recorder._write(force=True)
        return recorder

    def test_it_returns_the_recorded_figures_to_the_user_who_started_the_work(self):
        progress_id = new_id()
        clock = iter([0.0, 0.0, 0.0, 2.5, 2.5, 2.5, 2.5])
        recorder = ImportProgress(
            progress_key(self.steward, progress_id), clock=lambda: next(clock)
        )
        recorder.stage("checking", total=100_000, file="patients.csv")
        recorder.rows(45_000, 100_000)

        response = self.client.get(progress_url(progress_id))

        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/json")
        self.assertIn("no-cache", response["Cache-Control"])
        self.assertEqual(
            response.json(),
            {
                "stage": "checking",
                "file": "patients.csv",
                "rows": 45_000,
                "total": 100_000,
                "rate": 18_000,
                "elapsed": 2.5,
                "done": False,
            },
        )

    def test_every_other_user_gets_404(self):
        progress_id = new_id()
        self.record(self.steward, progress_id)
        for user in (
            self.operator,
            self.admin,
            self.front_desk,
            self.auditor,
            self.alice,
            self.bob,
        ):
            with self.subTest(user=user.email):
                self.login(user)
                self.assertEqual(self.client.get(progress_url(progress_id)).status_code, 404)

    def test_an_anonymous_visitor_gets_404(self):
        progress_id = new_id()
        self.record(self.steward, progress_id)
        self.client.logout()

        self.assertEqual(self.client.get(progress_url(progress_id)).status_code, 404)

    def test_a_post_gets_405_even_from_the_owner(self):
        progress_id = new_id()
        self.record(self.steward, progress_id)

        for method in ("post", "put", "delete"):
            with self.subTest(method=method):
                response = getattr(self.client, method)(progress_url(progress_id))
                self.assertEqual(response.status_code, 405)
        self.assertIsNotNone(cache.get(progress_key(self.steward, progress_id)))

    def test_unknown_or_malformed_ids_get_404(self):
        for progress_id in (new_id(), "short", "x" * 65, "bad!id" * 4, "%00" * 8):
            with self.subTest(progress_id=progress_id):
                self.assertEqual(self.client.get(progress_url(progress_id)).status_code, 404)

    def test_a_user_no_longer_staff_gets_404(self):
        progress_id = new_id()
        self.record(self.steward, progress_id)
        user_update(user=self.steward, actor=self.admin, reason="Left", is_staff=False)

        self.assertEqual(self.client.get(progress_url(progress_id)).status_code, 404)

    def test_a_cache_outage_answers_404_not_a_server_error(self):
        with mock.patch("admin_ext.imports.views.cache.get", side_effect=ConnectionError):
            response = self.client.get(progress_url(new_id()))

        self.assertEqual(response.status_code, 404)


class ProgressRecordingTests(UploadPageTestCase):
    def figures(self, user, progress_id):
        return cache.get(progress_key(user, progress_id))

    def test_the_preview_records_every_row_and_the_final_figure(self):
        progress_id = new_id()
        rows = [[f"keep-{i}", f"Kim{i}", "Keeper", f"1990-01-0{i + 1}", "F"] for i in range(5)]
        with (
            mock.patch.object(PatientResource, "progress_every", 1),
            mock.patch.object(
                ImportProgress, "rows", autospec=True, side_effect=ImportProgress.rows
            ) as reported,
        ):
            response = preview(
                self.client,
                "patient",
                upload("many.csv", HEADER, rows),
                progress_id=progress_id,
            )

        self.assertIn("confirm_form", response.context)
        self.assertEqual(
            [c.args[1:] for c in reported.call_args_list], [(i, 5) for i in range(1, 6)]
        )
        figures = self.figures(self.steward, progress_id)
        self.assertEqual(
            {k: figures[k] for k in ("stage", "rows", "total", "done")},
            {"stage": "done", "rows": 5, "total": 5, "done": True},
        )
        self.assertEqual(self.client.get(progress_url(progress_id)).json(), figures)

    def test_the_confirm_records_its_progress_too(self):
        response = preview(self.client, "patient", upload("good.csv", HEADER, [GOOD]))
        progress_id = new_id()
        data = {**response.context["confirm_form"].initial, "progress_id": progress_id}

        self.client.post(reverse("admin:clinic_patient_process_import"), data)

        figures = self.figures(self.steward, progress_id)
        self.assertEqual((figures["stage"], figures["done"]), ("done", True))

    def test_the_folder_preview_records_rows_read_per_file(self):
        progress_id = new_id()
        with (
            mock.patch.object(admin_synthea, "PROGRESS_EVERY", 1),
            mock.patch.object(
                ImportProgress, "file_rows", autospec=True, side_effect=ImportProgress.file_rows
            ) as reported,
        ):
            self.client.post(
                SYNTHEA_URL, {"files": zip_upload(folder()), "progress_id": progress_id}
            )

        files = [c.args[1] for c in reported.call_args_list]
        self.assertEqual(
            sorted(set(files)),
            ["encounters.csv", "organizations.csv", "patients.csv", "providers.csv"],
        )
        figures = self.figures(self.steward, progress_id)
        self.assertEqual(
            {k: figures[k] for k in ("stage", "file", "rows", "total", "done")},
            {"stage": "done", "file": "patients.csv", "rows": 2, "total": None, "done": True},
        )

    def test_without_a_progress_id_nothing_is_recorded(self):
        with mock.patch("admin_ext.imports.views.cache.set") as cache_set:
            preview(self.client, "patient", upload("good.csv", HEADER, [GOOD]))
            self.client.post(SYNTHEA_URL, {"files": zip_upload(folder())})

        cache_set.assert_not_called()

    def test_a_malformed_progress_id_is_ignored(self):
        with mock.patch("admin_ext.imports.views.cache.set") as cache_set:
            response = preview(
                self.client, "patient", upload("good.csv", HEADER, [GOOD]), progress_id="../x"
            )

        self.assertIn("confirm_form", response.context)
        cache_set.assert_not_called()

    def test_a_cache_outage_never_fails_the_preview(self):
        with mock.patch("admin_ext.imports.views.cache.set", side_effect=ConnectionError):
            response = preview(
                self.client, "patient", upload("good.csv", HEADER, [GOOD]), progress_id=new_id()
            )

        self.assertIn("confirm_form", response.context)

    def test_writes_are_spaced_but_the_last_figure_is_always_written(self):
        now = [0.0]
        recorder = ImportProgress(progress_key(self.steward, "p" * 24), clock=lambda: now[0])
        with mock.patch("admin_ext.imports.views.cache.set") as cache_set:
            recorder.stage("checking", total=1000)
            for done in range(1, 1001):
                now[0] += 0.001  # a row a millisecond: one second in all
                recorder.rows(done, 1000)
            recorder.finish()

        written = [c.args[1]["rows"] for c in cache_set.call_args_list]
        self.assertLessEqual(len(written), 6, written)  # stage, ~2 a second, last, finish
        self.assertEqual(written[-2:], [1000, 1000])
        self.assertTrue(cache_set.call_args_list[-1].args[1]["done"])


class UploadPageMarkupTests(UploadPageTestCase):
    def test_both_pages_load_the_progress_script_from_a_static_file(self):
        self.assertIsNotNone(finders.find("imports/upload_progress.js"))
        for url in (IMPORT_URL, SYNTHEA_URL):
            with self.subTest(url=url):
                response = self.client.get(url)

                self.assertContains(response, "imports/upload_progress.js")
                self.assertContains(response, f'data-import-progress="{progress_url("__id__")}"')
                self.assertContains(response, 'class="import-progress mt-2" hidden')

    def test_the_forms_hold_no_inline_script(self):
        for url, form_id in (
            (IMPORT_URL, "import-upload-form"),
            (SYNTHEA_URL, "synthea-upload-form"),
        ):
            with self.subTest(url=url):
                html = self.client.get(url).content.decode()
                form = html[html.index(f'id="{form_id}"') :].split("</form>")[0]
                self.assertNotIn("<script", form)
