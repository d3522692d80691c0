"""Invalid rows are reported by row, column and value, and nothing is written."""

import tablib
from django.urls import reverse
from django.utils.html import escape

from admin_ext.imports.models import ImportJob
from admin_ext.testing import ClinicTestCase
from clinic.models import Doctor, Patient
from clinic.resources import PatientResource
from clinic.tests.factories import DoctorFactory
from clinic.tests.importing import SYNTHEA, confirm, csv_text, preview, upload

HEADER = ["external_id", "first_name", "last_name", "birth_date", "gender", "primary_doctor"]
GOOD = ["ok-1", "Olga", "Okafor", "1990-01-02", "F", ""]


class ImportErrorsTests(ClinicTestCase):
    def setUp(self):
        self.login(self.steward)

    def assertReports(self, rows, message, header=HEADER, resource=0):
        response = preview(self.client, "patient", upload("patients.csv", header, rows), resource)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, escape(message))
        self.assertNotContains(response, "Traceback")
        self.assertNotContains(response, "Confirm import")
        self.assertIsNone(response.context.get("confirm_form"))
        return response

    def test_it_reports_a_bad_date(self):
        self.assertReports(
            [GOOD, ["bad-1", "Bea", "Bad", "1990-13-01", "F", ""]],
            'Row 3, column birth_date: "1990-13-01" is not a valid date (YYYY-MM-DD)',
        )

    def test_it_reports_a_bad_date_in_a_synthea_file_by_its_column(self):
        header = ["Id", "BIRTHDATE", "FIRST", "LAST", "GENDER"]
        rows = [["a", "1990-01-01", "Al", "A", "M"], ["b", "1990-02-30", "Bo", "B", "M"]]
        self.assertReports(
            rows,
            'Row 3, column BIRTHDATE: "1990-02-30" is not a valid date (YYYY-MM-DD)',
            header,
            SYNTHEA,
        )

    def test_it_reports_an_unknown_doctor(self):
        self.assertReports(
            [GOOD, ["u-1", "Uma", "Unknown", "1990-01-02", "F", "no-such-doctor"]],
            'Row 3, column primary_doctor: "no-such-doctor" is not a known doctor (no doctor has this external ID)',
        )

    def test_it_reports_a_missing_required_value(self):
        self.assertReports(
            [GOOD, ["m-1", "", "Missing", "1990-01-02", "F", ""]],
            "Row 3, column first_name: a value is required",
        )

    def test_it_reports_a_duplicate_key_in_the_file(self):
        self.assertReports(
            [GOOD, ["x-1", "Xia", "X", "1990-01-02", "F", ""], GOOD],
            'Row 4, column external_id: "ok-1" appears more than once in this file (first on row 2)',
        )

    def test_it_reports_a_value_that_is_not_a_choice(self):
        self.assertReports(
            [["g-1", "Gus", "G", "1990-01-02", "X", ""]],
            'Row 2, column gender: "X" is not one of F, M, O, U',
        )

    def test_it_reports_a_missing_column_once(self):
        header = ["Id", "BIRTHDATE", "FIRST", "GENDER"]
        response = self.assertReports(
            [["a", "1990-01-01", "Al", "M"], ["b", "1990-01-01", "Bo", "M"]],
            "Column LAST is missing from the header (accepted names: LAST)",
            header,
            SYNTHEA,
        )
        self.assertEqual(len(response.context["result"].problems), 1)

    def test_it_counts_invalid_rows_in_the_preview(self):
        response = self.assertReports(
            [GOOD, ["bad-1", "Bea", "Bad", "1990-13-01", "F", ""]], "is not a valid date"
        )
        self.assertContains(response, 'class="count-invalid">1<')

    def test_it_writes_nothing_when_any_row_is_invalid(self):
        before = Patient.history.count()
        rows = [GOOD, ["bad-1", "Bea", "Bad", "1990-13-01", "F", ""]]

        result = PatientResource(user=self.steward).import_data(
            tablib.import_set(csv_text(HEADER, rows), format="csv"),
            dry_run=False,
            file_name="patients.csv",
            user=self.steward,
        )

        self.assertFalse(result.is_valid())
        self.assertFalse(Patient.objects.filter(external_id="ok-1").exists())
        self.assertEqual(Patient.history.count(), before)

    def test_it_writes_nothing_when_a_row_turns_invalid_between_preview_and_confirm(self):
        doctor = DoctorFactory()
        rows = [GOOD, ["late-1", "Lea", "Late", "1990-01-02", "F", doctor.external_id]]
        response = preview(self.client, "patient", upload("patients.csv", HEADER, rows))
        Doctor.objects.filter(pk=doctor.pk).delete()

        response = confirm(self.client, "patient", response)

        self.assertRedirects(response, reverse("admin:clinic_patient_import"))
        self.assertFalse(Patient.objects.filter(external_id="ok-1").exists())
        messages = [str(m) for m in response.wsgi_request._messages]
        job = ImportJob.objects.get()
        self.assertEqual(job.status, ImportJob.Status.REFUSED)
        self.assertTrue(any(f"{job}</a>: nothing was imported" in m for m in messages), messages)
        self.assertTrue(any("Row 3, column primary_doctor" in m for m in messages))
