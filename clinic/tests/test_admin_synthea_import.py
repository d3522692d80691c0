"""The admin's Synthea folder import (clinic/admin_synthea.py): one upload (a ZIP or
several CSV files), one preview over the whole folder, one confirm."""

import datetime
import io
import zipfile
from unittest import mock

from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from admin_ext.imports.models import ImportJob, ImportUpload
from admin_ext.imports.storage import REFUSAL
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Doctor, Organization, Patient
from clinic.synthea import FOLDER_FILES
from clinic.tests.factories import PatientFactory
from clinic.tests.test_import_synthea_command import (
    ORG_HEADER,
    PATIENT_HEADER,
    PROVIDER_HEADER,
    folder,
    patient,
    row,
)
from people.tests.factories import UserFactory

URL = "admin:clinic_patient_synthea_import"


def zip_bytes(files: dict, prefix: str = "output/csv/", extra: dict | None = None) -> bytes:
    """A ZIP archive of ``files`` (name -> text or bytes) under ``prefix``, plus ``extra``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in {**{prefix + n: c for n, c in files.items()}, **(extra or {})}.items():
            archive.writestr(name, content)
    return out.getvalue()


def zip_upload(files: dict, name: str = "synthea.zip", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, zip_bytes(files, **kwargs), content_type="application/zip")


def csv_uploads(files: dict) -> list:
    return [
        SimpleUploadedFile(name, text.encode(), content_type="text/csv")
        for name, text in files.items()
    ]


def imported_ids(model) -> set:
    return set(
        model.objects.exclude(external_id=None)
        .exclude(external_id="")
        .values_list("external_id", flat=True)
    ) & {
        "org-1",
        "prov-a",
        "prov-b",
        "pat-1",
        "pat-2",
    }


class SyntheaImportTestCase(ClinicTestCase):
    def preview(self, files, user=None, **fields):
        """POST the upload form (``files``: one upload or a list) as ``user`` (default the
        data steward); returns the response."""
        self.login(user or self.steward)
        return self.client.post(reverse(URL), {"files": files, **fields})

    def confirm(self, preview, user=None):
        """POST the confirm form the ``preview`` response rendered."""
        if user is not None:
            self.login(user)
        form = preview.context["confirm_form"]
        self.assertIsNotNone(form, self.page_errors(preview))
        return self.client.post(reverse(URL), form.initial)

    def page_errors(self, response) -> str:
        context = response.context or {}
        form = context.get("upload_form")
        return f"{context.get('error')} {form.errors if form else ''} {context.get('problems')}"

    def counts(self, response) -> dict:
        return {f.name: f.counts for f in response.context["files"]}

    def assertNothingImported(self):
        self.assertEqual(
            imported_ids(Organization) | imported_ids(Doctor) | imported_ids(Patient), set()
        )

    def job_change_url(self, job):
        try:
            return reverse("admin:imports_importjob_change", args=[job.pk])
        except NoReverseMatch:
            return None


class PreviewTests(SyntheaImportTestCase):
    def test_a_zip_previews_all_four_files_in_order_and_writes_nothing(self):
        response = self.preview(zip_upload(folder()))

        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            [f.name for f in response.context["files"]],
            ["organizations.csv", "providers.csv", "patients.csv"],
        )
        new = {"new": 0, "changed": 0, "unchanged": 0, "invalid": 0}
        self.assertEqual(
            self.counts(response),
            {
                "organizations.csv": {**new, "new": 1},
                "providers.csv": {**new, "new": 2},
                "patients.csv": {**new, "new": 2},
            },
        )
        self.assertEqual(response.context["primary"], {"assigned": 2, "unchanged": 0, "invalid": 0})
        self.assertEqual(response.context["encounters"], 5)
        self.assertContains(response, 'id="synthea-confirm-form"')
        self.assertContains(response, "Ben3")  # a sample row's diff
        self.assertNothingImported()
        self.assertFalse(ImportJob.objects.exists())
        self.assertEqual(ImportUpload.objects.get().owner, self.steward)

    def test_the_confirm_form_carries_only_the_token_and_the_choices(self):
        response = self.preview(zip_upload(folder()))

        form = response.context["confirm_form"]
        self.assertEqual(
            set(form.initial), {"step", "token", "valid_rows_only", "confirm_not_duplicate"}
        )
        self.assertEqual(form.initial["token"], ImportUpload.objects.get().token)

    def test_the_preview_masks_ssns_for_users_without_view_ssn(self):
        response = self.preview(zip_upload(folder()))

        self.assertNotContains(response, "999-11-2222")
        self.assertContains(response, "***-**-2222")

    def test_several_csv_files_at_once_preview_the_same(self):
        response = self.preview(csv_uploads(folder()))

        self.assertEqual(response.context["folder"].names, list(FOLDER_FILES))
        self.assertEqual(self.counts(response)["patients.csv"]["new"], 2)
        self.assertEqual(response.context["primary"]["assigned"], 2)
        self.assertNothingImported()

    def test_members_match_by_base_name_whatever_their_folder_and_case_and_others_are_listed(self):
        files = {name.upper(): text for name, text in folder().items()}
        upload = zip_upload(
            files, prefix="export/CSV/", extra={"export/csv/conditions.csv": "Id\n1\n"}
        )

        response = self.preview(upload)

        self.assertEqual(self.counts(response)["providers.csv"]["new"], 2)
        self.assertEqual(response.context["folder"].ignored, ["export/csv/conditions.csv"])
        self.assertContains(response, "export/csv/conditions.csv")

    def test_a_folder_already_imported_previews_as_all_unchanged(self):
        self.confirm(self.preview(zip_upload(folder())))

        response = self.preview(zip_upload(folder()))

        for counts in self.counts(response).values():
            self.assertEqual((counts["new"], counts["changed"], counts["invalid"]), (0, 0, 0))
        self.assertEqual(response.context["primary"], {"assigned": 0, "unchanged": 2, "invalid": 0})

    def test_whichever_files_are_there_are_read(self):
        response = self.preview(csv_uploads({"patients.csv": folder()["patients.csv"]}))

        self.assertEqual(list(self.counts(response)), ["patients.csv"])
        self.assertIsNone(response.context["primary"])


class ConfirmTests(SyntheaImportTestCase):
    def test_confirm_writes_the_folder_and_assigns_primary_doctors(self):
        response = self.confirm(self.preview(zip_upload(folder())))

        self.assertRedirects(response, reverse("admin:clinic_patient_changelist"))
        self.assertEqual(Organization.objects.get(external_id="org-1").name, "PCP1")
        self.assertEqual(Doctor.objects.get(external_id="prov-b").organization.external_id, "org-1")
        primary = dict(
            Patient.objects.filter(external_id__in=["pat-1", "pat-2"]).values_list(
                "external_id", "primary_doctor__external_id"
            )
        )
        self.assertEqual(primary, {"pat-1": "prov-a", "pat-2": "prov-b"})
        self.assertFalse(
            Patient.objects.unassigned().filter(external_id__in=["pat-1", "pat-2"]).exists()
        )

    def test_it_leaves_one_job_and_history_rows_with_actor_and_reason(self):
        response = self.confirm(self.preview(zip_upload(folder())))

        job = ImportJob.objects.get()
        self.assertEqual(
            (job.status, job.source, job.kind, job.actor),
            (ImportJob.Status.SUCCEEDED, ImportJob.Source.ADMIN, "Synthea folder", self.steward),
        )
        self.assertEqual(
            [(f["name"], f["format"], f["rows"]) for f in job.files],
            [
                ("organizations.csv", "CSV", 1),
                ("providers.csv", "CSV", 2),
                ("patients.csv", "CSV", 2),
                ("encounters.csv", "CSV", 5),
            ],
        )
        self.assertTrue(all(len(f["sha256"]) == 64 for f in job.files))
        self.assertEqual(job.counts["new"], 5)
        for record in (
            Organization.objects.get(external_id="org-1"),
            Doctor.objects.get(external_id="prov-a"),
            Patient.objects.get(external_id="pat-1"),
        ):
            for entry in record.history.all():
                self.assertEqual(
                    (entry.history_user, entry.history_change_reason),
                    (self.steward, f"Import #{job.pk}"),
                )
        assigned = Patient.objects.get(external_id="pat-1").history.latest()
        self.assertEqual(assigned.primary_doctor.external_id, "prov-a")
        message = str(list(get_messages(response.wsgi_request))[-1])
        self.assertIn(f"Import #{job.pk}", message)
        self.assertIn("2 patients created", message)
        self.assertIn("2 primary doctors assigned", message)
        url = self.job_change_url(job)
        if url:
            self.assertIn(f'href="{url}"', message)

    def test_the_upload_is_deleted_after_the_confirm_and_cannot_be_confirmed_again(self):
        preview = self.preview(zip_upload(folder()))
        self.confirm(preview)
        self.assertFalse(ImportUpload.objects.exists())

        again = self.client.post(reverse(URL), preview.context["confirm_form"].initial)

        self.assertRedirects(again, reverse(URL))
        self.assertEqual(ImportJob.objects.count(), 1)

    def test_several_csv_files_confirm_the_same(self):
        self.confirm(self.preview(csv_uploads(folder())))

        self.assertEqual(
            Patient.objects.get(external_id="pat-2").primary_doctor.external_id, "prov-b"
        )
        self.assertEqual(ImportJob.objects.get().status, ImportJob.Status.SUCCEEDED)

    def test_a_change_between_preview_and_confirm_that_makes_a_row_invalid_keeps_nothing(self):
        preview = self.preview(zip_upload(folder()))
        # Meanwhile the front desk registers pat-1 as a walk-in: same name and birth date.
        walk_in = Patient(
            first_name="Cy5", last_name="Lee1", birth_date=datetime.date(1980, 1, 1), gender="F"
        )
        services.patient_save(patient=walk_in, actor=self.front_desk, reason="walk-in")

        response = self.confirm(preview)

        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "patients.csv, row 2")
        self.assertNothingImported()
        job = ImportJob.objects.get()
        self.assertEqual(job.status, ImportJob.Status.REFUSED)
        self.assertFalse(ImportUpload.objects.exists())


class InvalidRowTests(SyntheaImportTestCase):
    def bad_folder(self):
        return folder(
            patients=[patient("pat-1", "Cy5"), patient("pat-2", "Di6", birth="1990-13-01")]
        )

    def test_an_invalid_row_is_listed_nothing_is_kept_and_a_refused_job_names_it(self):
        response = self.preview(zip_upload(self.bad_folder()))

        self.assertEqual(response.status_code, 200)
        self.assertContains(
            response,
            "patients.csv, row 3, column BIRTHDATE: &quot;1990-13-01&quot; is not a valid date",
        )
        self.assertIsNone(response.context["confirm_form"])
        self.assertNothingImported()
        # Kept for the next preview (the user fixes nothing in it; it still expires).
        self.assertEqual(ImportUpload.objects.get().owner, self.steward)
        job = ImportJob.objects.get()
        self.assertEqual((job.status, job.actor), (ImportJob.Status.REFUSED, self.steward))
        self.assertEqual([(r["file"], r["row"]) for r in job.failed_rows], [("patients.csv", 3)])
        self.assertEqual(job.problems[0]["column"], "BIRTHDATE")
        url = self.job_change_url(job)
        if url:
            self.assertContains(response, f'href="{url}"')

    def test_valid_rows_only_imports_the_valid_rows_and_the_job_is_partial(self):
        preview = self.preview(zip_upload(self.bad_folder()), valid_rows_only="on")
        self.assertContains(
            preview, "will be skipped and listed in the import job's report (2 problems)"
        )

        self.confirm(preview)

        self.assertTrue(Patient.objects.filter(external_id="pat-1").exists())
        self.assertFalse(Patient.objects.filter(external_id="pat-2").exists())
        job = ImportJob.objects.get()
        self.assertEqual(job.status, ImportJob.Status.PARTIAL)
        self.assertTrue(job.valid_rows_only)
        self.assertEqual([(r["file"], r["row"]) for r in job.failed_rows], [("patients.csv", 3)])

    def test_an_invalid_ssn_is_listed_masked_for_users_without_view_ssn(self):
        bad = patient("pat-1", "Cy5")
        bad[PATIENT_HEADER.index("SSN")] = "123-45-67890"
        files = {"patients.csv": folder(patients=[bad])["patients.csv"]}

        steward = self.preview(zip_upload(files))
        admin = self.preview(zip_upload(files), user=self.admin)

        self.assertIn("patients.csv, row 2, column SSN", steward.context["problems"][0])
        self.assertNotContains(steward, "123-45-67890")
        self.assertContains(steward, "***-**-7890")
        self.assertContains(admin, "123-45-67890")

    def test_valid_rows_only_with_nothing_valid_offers_no_confirm_and_records_a_refused_job(self):
        files = {
            "patients.csv": folder(patients=[patient("pat-1", "Cy5", birth="soon")])["patients.csv"]
        }

        response = self.preview(zip_upload(files), valid_rows_only="on")

        self.assertIsNone(response.context["confirm_form"])
        self.assertEqual(ImportJob.objects.get().status, ImportJob.Status.REFUSED)
        self.assertEqual(ImportUpload.objects.count(), 1)  # kept for the next preview

    def test_providers_without_their_organizations_get_one_message_naming_organizations_csv(self):
        providers = [
            row(
                PROVIDER_HEADER,
                Id=f"prov-{i}",
                ORGANIZATION=f"org-{i}",
                NAME="Ann1 Able2",
                GENDER="F",
            )
            for i in range(5)
        ]
        files = {"providers.csv": folder(providers=providers)["providers.csv"]}

        response = self.preview(zip_upload(files))

        problems = response.context["problems"]
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("providers.csv", problems[0])
        self.assertIn("import organizations.csv first", problems[0])
        self.assertNothingImported()

    def test_later_files_are_shown_as_not_checked(self):
        files = folder(organizations=[row(ORG_HEADER, Id="org-1", NAME="", CITY="Boston")])

        response = self.preview(zip_upload(files))

        self.assertEqual(
            response.context["unchecked"], ["providers.csv", "patients.csv", "encounters.csv"]
        )
        self.assertContains(response, "Not checked")


class UploadRefusalTests(SyntheaImportTestCase):
    def refusal(self, response) -> str:
        self.assertEqual(response.status_code, 200)
        self.assertIsNone(response.context["confirm_form"])
        errors = response.context["upload_form"].errors.get("files") or [response.context["error"]]
        self.assertFalse(ImportUpload.objects.exists())
        self.assertNothingImported()
        return " ".join(errors)

    def test_a_zip_with_none_of_the_files_names_them(self):
        upload = zip_upload({}, extra={"output/csv/conditions.csv": "Id\n1\n", "README.txt": "hi"})

        message = self.refusal(self.preview(upload))

        self.assertIn("synthea.zip holds none of the files", message)
        for name in FOLDER_FILES:
            self.assertIn(name, message)

    @override_settings(IMPORT_MAX_UPLOAD_BYTES=20_000)
    def test_a_zip_bomb_is_refused_before_anything_is_unpacked(self):
        # 11 x 20 KB of zeros compress to a few hundred bytes.
        upload = zip_upload({"patients.csv": b"0" * 220_000}, prefix="")
        self.assertLess(upload.size, 20_000)

        with mock.patch.object(
            zipfile.ZipFile, "open", side_effect=AssertionError("unpacked")
        ) as opened:
            message = self.refusal(self.preview(upload))

        self.assertIn("synthea.zip would unpack to", message)
        opened.assert_not_called()

    @override_settings(IMPORT_MAX_UPLOAD_BYTES=20_000)
    def test_a_known_member_over_the_size_limit_is_refused_before_it_is_unpacked(self):
        upload = zip_upload({"patients.csv": b"0" * 30_000})

        with mock.patch.object(zipfile.ZipFile, "open", side_effect=AssertionError("unpacked")):
            message = self.refusal(self.preview(upload))

        self.assertIn("synthea.zip: output/csv/patients.csv is", message)
        self.assertIn("import_synthea", message)

    def test_a_zip_with_too_many_members_is_refused(self):
        extra = {f"other/{i}.txt": "x" for i in range(101)}

        message = self.refusal(self.preview(zip_upload(folder(), extra=extra)))

        self.assertIn("synthea.zip holds 105 files, more than the 100", message)

    @override_settings(IMPORT_MAX_UPLOAD_BYTES=1_000)
    def test_an_upload_over_the_size_limit_is_refused_before_it_is_read(self):
        upload = SimpleUploadedFile("patients.csv", b"x" * 2_000)

        message = self.refusal(self.preview(upload))

        self.assertIn("patients.csv is", message)
        self.assertIn("more than the", message)

    def test_a_file_that_is_neither_zip_nor_csv_is_refused_by_what_it_is(self):
        upload = SimpleUploadedFile("folder.zip", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)

        message = self.refusal(self.preview(upload))

        self.assertIn("folder.zip is a PNG image", message)
        self.assertIn("ZIP archive", message)

    def test_an_excel_workbook_is_refused(self):
        upload = SimpleUploadedFile(
            "patients.xlsx", zip_bytes({"xl/workbook.xml": "<workbook/>"}, prefix="")
        )

        message = self.refusal(self.preview(upload))

        self.assertIn("patients.xlsx is an Excel workbook", message)

    def test_a_damaged_zip_is_refused(self):
        data = zip_bytes(folder())
        upload = SimpleUploadedFile("synthea.zip", data[: len(data) // 2])

        message = self.refusal(self.preview(upload))

        self.assertIn("synthea.zip", message)
        self.assertIn("damaged", message)

    def test_a_member_that_is_not_csv_is_refused(self):
        files = {**folder(), "patients.csv": b"%PDF-1.7 ..."}

        message = self.refusal(self.preview(zip_upload(files)))

        self.assertIn("patients.csv is a PDF document", message)

    def test_a_zip_among_csv_files_is_refused(self):
        uploads = [*csv_uploads({"patients.csv": folder()["patients.csv"]}), zip_upload(folder())]

        message = self.refusal(self.preview(uploads))

        self.assertIn("either one ZIP archive or CSV files", message)

    def test_the_same_file_twice_is_refused(self):
        text = folder()["patients.csv"]
        uploads = [
            SimpleUploadedFile("patients.csv", text.encode()),
            SimpleUploadedFile("PATIENTS.CSV", text.encode()),
        ]

        message = self.refusal(self.preview(uploads))

        self.assertIn("patients.csv is there twice (patients.csv, PATIENTS.CSV)", message)

    def test_no_file_is_refused(self):
        self.login(self.steward)

        response = self.client.post(reverse(URL), {"valid_rows_only": "on"})

        self.assertIn("This field is required.", self.refusal(response))

    @override_settings(IMPORT_MAX_ROWS=1)
    def test_a_file_over_the_row_limit_points_to_the_command(self):
        message = self.refusal(self.preview(zip_upload(folder())))

        self.assertRegex(message, r"(providers|patients|encounters)\.csv has more than 1 data rows")
        self.assertIn("python manage.py import_synthea", message)
        self.assertEqual(ImportJob.objects.get().status, ImportJob.Status.FAILED)

    def test_a_file_with_a_broken_header_names_the_file(self):
        files = folder()
        files["patients.csv"] = "Id,Id\npat-1,pat-1\n"

        message = self.refusal(self.preview(zip_upload(files)))

        self.assertIn("patients.csv", message)


class TokenTests(SyntheaImportTestCase):
    def test_another_users_token_is_refused_nothing_is_imported_and_their_upload_stays(self):
        preview = self.preview(zip_upload(folder()), user=self.admin)
        token = preview.context["confirm_form"].initial["token"]
        self.login(self.steward)

        response = self.client.post(reverse(URL), {"step": "confirm", "token": token})

        self.assertRedirects(response, reverse(URL))
        self.assertIn(REFUSAL, [str(m) for m in get_messages(response.wsgi_request)])
        self.assertNothingImported()
        self.assertFalse(ImportJob.objects.exists())
        self.assertTrue(ImportUpload.objects.filter(token=token, owner=self.admin).exists())

    def test_an_expired_token_is_refused(self):
        preview = self.preview(zip_upload(folder()))
        ImportUpload.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))

        response = self.client.post(reverse(URL), preview.context["confirm_form"].initial)

        self.assertRedirects(response, reverse(URL))
        self.assertNothingImported()

    def test_forged_tokens_are_refused_without_a_server_error(self):
        self.login(self.steward)
        for token in ["", "../../etc/passwd", "x" * 43, "x" * 500, "\x00"]:
            with self.subTest(token=token):
                response = self.client.post(reverse(URL), {"step": "confirm", "token": token})
                self.assertRedirects(response, reverse(URL))
        self.assertNothingImported()

    def test_stored_bytes_that_are_not_a_folder_are_refused(self):
        preview = self.preview(zip_upload(folder()))
        ImportUpload.objects.update(content=b"not a zip")

        response = self.client.post(reverse(URL), preview.context["confirm_form"].initial)

        self.assertRedirects(response, reverse(URL))
        self.assertNothingImported()
        self.assertFalse(ImportUpload.objects.exists())


class PermissionTests(SyntheaImportTestCase):
    def steward_token(self) -> str:
        return self.preview(zip_upload(folder())).context["confirm_form"].initial["token"]

    def test_roles_that_may_not_import_get_403_on_get_and_post(self):
        token = self.steward_token()
        for user in (self.front_desk, self.alice, self.bob, self.auditor):
            with self.subTest(user=user.email):
                self.login(user)
                self.assertEqual(self.client.get(reverse(URL)).status_code, 403)
                upload = self.client.post(reverse(URL), {"files": zip_upload(folder())})
                self.assertEqual(upload.status_code, 403)
                confirm = self.client.post(reverse(URL), {"step": "confirm", "token": token})
                self.assertEqual(confirm.status_code, 403)
        self.assertNothingImported()
        self.assertFalse(ImportJob.objects.exists())
        self.assertEqual(ImportUpload.objects.count(), 1)

    def test_patient_import_without_doctor_and_organization_rights_is_403(self):
        user = UserFactory(is_staff=True)
        user.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="clinic",
                codename__in=["view_patient", "add_patient", "change_patient", "import_patient"],
            )
        )
        self.login(user)

        self.assertEqual(self.client.get(reverse(URL)).status_code, 403)
        self.assertEqual(
            self.client.post(reverse(URL), {"files": zip_upload(folder())}).status_code, 403
        )

    def test_anonymous_users_are_sent_to_the_login_page(self):
        response = self.client.get(reverse(URL))

        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("admin:login"), response["Location"])

    def test_the_steward_administrator_and_operator_get_the_page(self):
        for user in (self.steward, self.admin, self.operator):
            with self.subTest(user=user.email):
                self.login(user)
                response = self.client.get(reverse(URL))
                self.assertContains(response, 'type="file"')
                self.assertContains(response, "multiple")
                self.assertContains(response, "Import the valid rows only")

    def test_other_methods_are_not_allowed(self):
        self.login(self.steward)

        self.assertEqual(self.client.put(reverse(URL)).status_code, 405)

    def test_the_changelist_links_the_page_only_for_users_who_may_import(self):
        link = f'href="{reverse(URL)}"'
        for user, shown in (
            (self.steward, True),
            (self.admin, True),
            (self.front_desk, False),
            (self.auditor, False),
        ):
            with self.subTest(user=user.email):
                self.login(user)
                response = self.client.get(reverse("admin:clinic_patient_changelist"))
                self.assertEqual(response.status_code, 200)
                self.assertEqual(link in response.text, shown)
                if shown:
                    self.assertContains(response, "Import Synthea folder")

    def test_the_work_queues_have_no_folder_import(self):
        for name in ("unassignedpatient", "archivedpatient"):
            with self.subTest(queue=name), self.assertRaises(NoReverseMatch):
                reverse(f"admin:clinic_{name}_synthea_import")
        self.login(self.steward)
        response = self.client.get(reverse("admin:clinic_unassignedpatient_changelist"))
        self.assertEqual(response.status_code, 200)
        # The queue has no button of its own (the side menu's "Imports" links to the
        # patients' folder import on every page).
        self.assertNotContains(response, "synthea_import_link")


class LikelyDuplicateFolderTests(SyntheaImportTestCase):
    def test_a_likely_duplicate_is_created_only_with_the_confirmation(self):
        registered = PatientFactory(
            first_name="Cy5", last_name="Lee1", birth_date="1980-01-01", ssn="999-11-2222"
        )

        refused = self.preview(zip_upload(folder()))
        self.assertIsNone(refused.context["confirm_form"])
        self.assertContains(
            refused, f"looks like a patient already registered: MRN {registered.mrn}"
        )

        confirmed = self.preview(zip_upload(folder()), confirm_not_duplicate="on")
        response = self.confirm(confirmed)

        self.assertEqual(response.status_code, 302)
        created = Patient.objects.get(external_id="pat-1").history.earliest()
        job = ImportJob.objects.latest("pk")
        self.assertEqual(
            created.history_change_reason,
            f"{job.reason} (confirmed not a duplicate of MRN {registered.mrn})",
        )
