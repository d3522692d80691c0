"""Imported writes leave history rows with the importing user and the file name."""

from unittest import mock

from admin_ext.imports.models import ImportJob
from admin_ext.testing import ClinicTestCase
from clinic.models import Patient
from clinic.tests.importing import confirm, preview, upload

HEADER = ["external_id", "first_name", "last_name", "birth_date", "gender"]


class ImportHistoryTests(ClinicTestCase):
    def test_it_records_the_actor_and_the_import_job_as_reason(self):
        self.login(self.steward)
        rows = [
            ["h-1", "Hana", "Hart", "1990-01-02", "F"],
            [self.other_patient.external_id, "Otto", "Renamed", "1980-05-17", "F"],
        ]

        confirm(
            self.client,
            "patient",
            preview(self.client, "patient", upload("people.csv", HEADER, rows)),
        )

        created = Patient.objects.get(external_id="h-1").history.get()
        self.assertEqual(
            (created.history_type, created.history_user, created.history_change_reason),
            ("+", self.steward, ImportJob.objects.get().reason),
        )
        changed = self.other_patient.history.latest()
        self.assertEqual(
            (changed.history_type, changed.history_user, changed.history_change_reason),
            ("~", self.steward, ImportJob.objects.get().reason),
        )
        self.assertEqual(Patient.objects.get(external_id="h-1").created_by, self.steward)

    def test_it_writes_no_history_for_unchanged_rows(self):
        self.login(self.steward)
        before = self.alice_patient.history.count()
        row = [self.alice_patient.external_id, "Ann", "Patel", "1980-05-17", "F"]

        confirm(
            self.client, "patient", preview(self.client, "patient", upload("p.csv", HEADER, [row]))
        )

        self.assertEqual(self.alice_patient.history.count(), before)


class ImportJobFailureTests(ClinicTestCase):
    def test_an_unexpected_error_at_confirm_marks_the_job_failed_and_writes_nothing(self):
        self.login(self.steward)
        rows = [["h-1", "Hana", "Hart", "1990-01-02", "F"]]
        previewed = preview(self.client, "patient", upload("people.csv", HEADER, rows))
        self.client.raise_request_exception = False

        with mock.patch(
            "admin_ext.imports.resources.ServiceModelResource.import_data",
            side_effect=RuntimeError("database gone"),
        ):
            response = confirm(self.client, "patient", previewed)

        self.assertEqual(response.status_code, 500)
        job = ImportJob.objects.get()
        self.assertEqual(job.status, ImportJob.Status.FAILED)
        self.assertIn("unexpected error", job.message)
        self.assertFalse(Patient.objects.filter(external_id="h-1").exists())
