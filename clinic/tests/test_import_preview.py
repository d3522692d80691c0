"""The admin import: a preview with counts first, then confirm writes."""

from django.urls import reverse

from admin_ext.imports.models import ImportJob
from admin_ext.testing import ClinicTestCase
from clinic.models import Patient
from clinic.tests.importing import NATIVE, SYNTHEA, confirm, preview, upload

HEADER = ["external_id", "first_name", "last_name", "birth_date", "gender", "primary_doctor"]


class ImportPreviewTests(ClinicTestCase):
    def rows(self):
        return [
            ["new-1", "Nina", "Novak", "1990-01-02", "F", self.dr_alice.external_id],
            [self.other_patient.external_id, "Otto", "Changed", "1980-05-17", "F", ""],
            [
                self.alice_patient.external_id,
                "Ann",
                "Patel",
                "1980-05-17",
                "F",
                self.dr_alice.external_id,
            ],
        ]

    def setUp(self):
        self.login(self.steward)

    def test_it_shows_counts_of_new_changed_unchanged_and_invalid_rows(self):
        response = preview(self.client, "patient", upload("patients.csv", HEADER, self.rows()))

        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'class="count-new">1<')
        self.assertContains(response, 'class="count-changed">1<')
        self.assertContains(response, 'class="count-unchanged">1<')
        self.assertContains(response, 'class="count-invalid">0<')
        self.assertContains(response, "Confirm import")

    def test_it_writes_nothing_before_confirm(self):
        before = Patient.objects.count()

        preview(self.client, "patient", upload("patients.csv", HEADER, self.rows()))

        self.assertEqual(Patient.objects.count(), before)
        self.other_patient.refresh_from_db()
        self.assertEqual(self.other_patient.last_name, "Other")

    def test_it_writes_the_rows_on_confirm(self):
        response = preview(self.client, "patient", upload("patients.csv", HEADER, self.rows()))

        response = confirm(self.client, "patient", response)

        self.assertRedirects(response, reverse("admin:clinic_patient_changelist"))
        new = Patient.objects.get(external_id="new-1")
        self.assertEqual((new.first_name, new.primary_doctor), ("Nina", self.dr_alice))
        self.assertRegex(new.mrn, r"^\d{8}$")
        self.other_patient.refresh_from_db()
        self.assertEqual(self.other_patient.last_name, "Changed")
        messages = [str(m) for m in response.wsgi_request._messages]
        job = ImportJob.objects.get()
        self.assertIn(
            f'<a href="/admin/imports/importjob/{job.pk}/change/">{job}</a>: '
            "1 new, 1 changed and 1 unchanged patients.",
            messages,
        )

    def test_it_grants_the_primary_doctor_the_imported_patient(self):
        confirm(
            self.client,
            "patient",
            preview(self.client, "patient", upload("patients.csv", HEADER, self.rows())),
        )

        visible = Patient.objects.visible_to(self.alice).values_list("external_id", flat=True)
        self.assertIn("new-1", list(visible))

    def test_it_previews_a_synthea_patients_file(self):
        header = ["Id", "BIRTHDATE", "DEATHDATE", "SSN", "FIRST", "LAST", "GENDER", "ZIP"]
        rows = [["syn-1", "1971-03-04", "", "999-12-3456", "Guy979", "Brown30", "M", "2128"]]

        response = preview(
            self.client, "patient", upload("patients.csv", header, rows), resource=SYNTHEA
        )
        confirm(self.client, "patient", response)

        patient = Patient.objects.get(external_id="syn-1")
        self.assertEqual(
            (patient.first_name, patient.last_name, patient.zip), ("Guy979", "Brown30", "02128")
        )

    def test_it_offers_the_native_format_first(self):
        response = self.client.get(reverse("admin:clinic_patient_import"))

        choices = response.context["form"].fields["resource"].choices
        self.assertEqual(choices[NATIVE][1], "Patients (native CSV)")
        self.assertEqual(choices[SYNTHEA][1], "Synthea patients.csv")


class ValidRowsOnlyTests(ClinicTestCase):
    ROWS = [
        ["good-1", "Gina", "Good", "1990-01-02", "F", ""],
        ["bad-1", "Bea", "Bad", "2990-01-01", "F", ""],  # born in the future
    ]

    def setUp(self):
        self.login(self.steward)

    def test_without_the_choice_nothing_is_offered_and_a_refused_job_keeps_the_rows(self):
        response = preview(self.client, "patient", upload("p.csv", HEADER, self.ROWS))

        self.assertNotIn("confirm_form", response.context)
        job = ImportJob.objects.get()
        self.assertEqual(job.status, ImportJob.Status.REFUSED)
        self.assertEqual([r["row"] for r in job.failed_rows], [3])

    def test_with_the_choice_the_valid_rows_are_imported_and_one_job_lists_the_skipped(self):
        response = preview(
            self.client, "patient", upload("p.csv", HEADER, self.ROWS), valid_rows_only="on"
        )
        self.assertContains(response, "These rows will be skipped")
        self.assertFalse(ImportJob.objects.exists())  # the confirm records the import

        response = confirm(self.client, "patient", response)

        self.assertRedirects(response, reverse("admin:clinic_patient_changelist"))
        self.assertTrue(Patient.objects.filter(external_id="good-1").exists())
        self.assertFalse(Patient.objects.filter(external_id="bad-1").exists())
        job = ImportJob.objects.get()
        self.assertEqual(job.status, ImportJob.Status.PARTIAL)
        self.assertEqual((job.counts["new"], job.counts["skipped"]), (1, 1))
        self.assertEqual([(r["row"], r["cells"][0]) for r in job.failed_rows], [(3, "bad-1")])
        messages = [str(m) for m in response.wsgi_request._messages]
        self.assertTrue(any("1 invalid rows skipped" in m for m in messages), messages)


class BlankRowTests(ClinicTestCase):
    def test_a_blank_row_between_rows_is_neither_counted_nor_an_error(self):
        self.login(self.steward)
        rows = [
            ["b-1", "Bo", "Blank", "1990-01-02", "F", ""],
            ["", "", "", "", "", ""],
            ["b-2", "Bea", "Blank", "1991-01-02", "F", ""],
        ]

        response = preview(self.client, "patient", upload("p.csv", HEADER, rows))

        result = response.context["result"]
        self.assertEqual(result.problems, [])
        self.assertEqual(result.counts, {"new": 2, "changed": 0, "unchanged": 0, "invalid": 0})
