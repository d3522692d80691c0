"""Sign-ins, imports and exports leave access-log rows (issue 7, item 2; HIPAA 45 CFR
164.312(b)); a finished import seals the audit chain. The patient pages' rows are in
``clinic/tests/test_access_log_patient.py``."""

import io
import tempfile
from pathlib import Path

from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.urls import reverse

from admin_ext.audit.models import AccessLog, AuditSeal
from admin_ext.imports.models import ImportJob
from admin_ext.testing import PASSWORD, ClinicTestCase
from clinic.models import Doctor
from clinic.tests.exporting import export_from_changelist
from clinic.tests.exporting import rows as exported_rows
from clinic.tests.importing import confirm, preview, upload
from clinic.tests.test_admin_synthea_import import zip_upload
from clinic.tests.test_import_synthea_command import folder
from people.models import LoginEvent

Action = AccessLog.Action

#: What the test client sends, so each row can be traced to its request.
CLIENT = {
    "REMOTE_ADDR": "203.0.113.7",
    "HTTP_USER_AGENT": "TestBrowser/1.0",
    "HTTP_X_REQUEST_ID": "req-abcdef012345",
}
FROM_CLIENT = ("203.0.113.7", "TestBrowser/1.0", "req-abcdef012345")
NO_REQUEST = (None, "", "")

PATIENT_HEADER = ["external_id", "first_name", "last_name", "birth_date", "gender"]


class AccessLogTestCase(ClinicTestCase):
    def setUp(self):
        # Rows the fixtures wrote (grants of the personas' patients) are not the test's.
        last = AccessLog.objects.order_by("-id").values_list("id", flat=True).first()
        self.first_id = (last or 0) + 1
        self.client.defaults.update(CLIENT)

    def rows(self, action):
        return list(AccessLog.objects.filter(id__gte=self.first_id, action=action).order_by("id"))

    def assertSource(self, row, expected):
        self.assertEqual((row.ip_address, row.user_agent, row.request_id), expected)


class SignInTests(AccessLogTestCase):
    def sign_in(self, email, password):
        return self.client.post(
            reverse("admin:login"),
            {"username": email, "password": password, "next": reverse("admin:index")},
        )

    def test_a_sign_in_is_logged_beside_its_login_event(self):
        self.assertRedirects(self.sign_in("desk@example.com", PASSWORD), reverse("admin:index"))

        (row,) = self.rows(Action.LOGIN)
        self.assertEqual((row.actor, row.actor_label), (self.front_desk, "desk@example.com"))
        self.assertEqual((row.content_type, row.object_id), (None, ""))
        self.assertSource(row, FROM_CLIENT)
        event = LoginEvent.objects.get(kind=LoginEvent.Kind.SUCCESS)
        self.assertEqual((event.ip_address, event.user_agent), FROM_CLIENT[:2])

    def test_a_failed_sign_in_names_the_account_it_tried(self):
        self.assertEqual(self.sign_in("DESK@example.com", "wrong-password").status_code, 200)

        (row,) = self.rows(Action.LOGIN_FAILED)
        self.assertEqual((row.actor, row.actor_label), (self.front_desk, "desk@example.com"))
        self.assertSource(row, FROM_CLIENT)
        self.assertNotIn("wrong-password", str(row.__dict__))
        self.assertEqual(self.rows(Action.LOGIN), [])

    def test_a_failed_sign_in_on_an_unknown_email_keeps_the_typed_email(self):
        self.sign_in("nobody@example.com", "whatever")

        (row,) = self.rows(Action.LOGIN_FAILED)
        self.assertEqual((row.actor, row.actor_label), (None, "nobody@example.com"))
        self.assertSource(row, FROM_CLIENT)
        self.assertEqual(LoginEvent.objects.get(kind=LoginEvent.Kind.FAILURE).user, None)

    def test_a_failed_sign_in_while_signed_in_is_not_pinned_on_the_session(self):
        # The admin's login page accepts a second sign-in from a signed-in browser.
        self.client.force_login(self.front_desk)
        self.sign_in("nobody@example.com", "whatever")

        (row,) = self.rows(Action.LOGIN_FAILED)
        self.assertEqual((row.actor, row.actor_label), (None, "nobody@example.com"))

    def test_a_sign_out_is_logged(self):
        self.sign_in("desk@example.com", PASSWORD)

        self.client.post(reverse("admin:logout"), HTTP_X_REQUEST_ID="req-logout-0001")

        (row,) = self.rows(Action.LOGOUT)
        self.assertEqual((row.actor, row.actor_label), (self.front_desk, "desk@example.com"))
        self.assertSource(row, (*FROM_CLIENT[:2], "req-logout-0001"))

    def test_signing_out_without_a_session_writes_nothing(self):
        self.client.post(reverse("admin:logout"))

        self.assertEqual(self.rows(Action.LOGOUT), [])
        self.assertFalse(LoginEvent.objects.filter(kind=LoginEvent.Kind.LOGOUT).exists())


class ImportTests(AccessLogTestCase):
    def assertImportRow(self, row, job, actor, source):
        job.refresh_from_db()
        self.assertEqual((row.actor, row.action), (actor, Action.IMPORT))
        self.assertEqual(
            (row.content_type, row.object_id, row.object_repr),
            (ContentType.objects.get_for_model(ImportJob), str(job.pk), f"Import #{job.pk}"),
        )
        self.assertEqual(row.detail, {"job": job.pk, "status": job.status, "counts": job.counts})
        self.assertSource(row, source)

    def seals(self):
        return list(AuditSeal.objects.values_list("trigger", flat=True))

    def test_an_admin_import_is_one_row_and_seals_the_chain_once_committed(self):
        self.login(self.steward)
        rows = [["imp-1", "Ida", "Imported", "1990-01-02", "F"]]
        response = preview(self.client, "patient", upload("p.csv", PATIENT_HEADER, rows))
        self.assertEqual(self.rows(Action.IMPORT), [])  # a clean preview is no import yet

        with self.captureOnCommitCallbacks(execute=True):
            confirm(self.client, "patient", response)

        job = ImportJob.objects.get()
        self.assertEqual(job.status, ImportJob.Status.SUCCEEDED)
        (row,) = self.rows(Action.IMPORT)
        self.assertImportRow(row, job, self.steward, FROM_CLIENT)
        self.assertEqual(self.seals(), [f"Import #{job.pk}"])
        # The seal covers the import's own access-log row.
        self.assertGreaterEqual(AuditSeal.objects.get().sources["audit.AccessLog"]["upto"], row.pk)

    def test_a_refused_import_is_logged_but_seals_nothing(self):
        self.login(self.steward)
        rows = [["bad-1", "Ida", "Imported", "2999-01-02", "F"]]

        with self.captureOnCommitCallbacks(execute=True):
            preview(self.client, "patient", upload("p.csv", PATIENT_HEADER, rows))

        job = ImportJob.objects.get()
        self.assertEqual(job.status, ImportJob.Status.REFUSED)
        (row,) = self.rows(Action.IMPORT)
        self.assertImportRow(row, job, self.steward, FROM_CLIENT)
        self.assertEqual(self.seals(), [])

    def test_a_synthea_folder_import_in_the_admin_is_one_row_and_a_seal(self):
        self.login(self.steward)
        url = reverse("admin:clinic_patient_synthea_import")
        page = self.client.post(url, {"files": zip_upload(folder())})

        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(url, page.context["confirm_form"].initial)

        job = ImportJob.objects.get()
        self.assertEqual(job.status, ImportJob.Status.SUCCEEDED)
        (row,) = self.rows(Action.IMPORT)
        self.assertImportRow(row, job, self.steward, FROM_CLIENT)
        self.assertEqual(self.seals(), [f"Import #{job.pk}"])

    def run_command(self, *args):
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in folder().items():
                (Path(tmp) / name).write_text(text, encoding="utf-8")
            with self.captureOnCommitCallbacks(execute=True):
                call_command("import_synthea", tmp, *args, stdout=io.StringIO())

    def test_the_import_synthea_command_is_one_row_and_a_seal(self):
        self.run_command("--actor", "steward@example.com")

        job = ImportJob.objects.get()
        (row,) = self.rows(Action.IMPORT)
        self.assertImportRow(row, job, self.steward, NO_REQUEST)
        self.assertEqual(self.seals(), [f"Import #{job.pk}"])

    def test_a_command_without_an_actor_is_logged_as_the_system(self):
        self.run_command()

        (row,) = self.rows(Action.IMPORT)
        self.assertEqual((row.actor, row.actor_label), (None, ""))

    def test_a_failed_command_is_logged_and_seals_nothing(self):
        with self.assertRaises(CommandError):
            self.run_command("--actor", "alice@example.com")  # may not import

        job = ImportJob.objects.get()
        self.assertEqual(job.status, ImportJob.Status.FAILED)
        (row,) = self.rows(Action.IMPORT)
        self.assertImportRow(row, job, self.alice, NO_REQUEST)
        self.assertEqual(self.seals(), [])


class ExportTests(AccessLogTestCase):
    def test_any_models_export_is_logged_with_its_count(self):
        self.login(self.steward)

        _, response = export_from_changelist(
            self.client, reverse("admin:clinic_doctor_changelist") + "?q=Adams", "csv"
        )

        (row,) = self.rows(Action.EXPORT)
        self.assertEqual((row.actor, row.object_id), (self.steward, ""))
        self.assertEqual(row.content_type, ContentType.objects.get_for_model(Doctor))
        self.assertEqual(row.detail, {"rows": 1, "filter": "q=Adams", "format": "csv"})
        self.assertSource(row, FROM_CLIENT)
        self.assertEqual(len(exported_rows(response, "csv")), 1)
