"""No silent lost updates: a save carrying an older version than the stored one is refused."""

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Patient
from clinic.resources import PatientResource
from clinic.tests.admin_forms import patient_form_data
from clinic.tests.exporting import content
from clinic.tests.importing import CSV_FORMAT, confirm, preview


class ConcurrentFormSaveTests(ClinicTestCase):
    def url(self):
        return reverse("admin:clinic_patient_change", args=[self.other_patient.pk])

    def open_form(self, user):
        """What ``user``'s browser holds after opening the change form."""
        self.login(user)
        response = self.client.get(self.url())
        self.assertContains(response, 'name="seen_version"')
        form = response.context["adminform"].form
        self.assertEqual(form.initial["seen_version"], self.other_patient.version)
        return Patient.objects.get(pk=self.other_patient.pk)

    def admin_moves_the_patient(self) -> Patient:
        """Meanwhile, the Administrator saves a new city through the service."""
        theirs = Patient.objects.get(pk=self.other_patient.pk)
        theirs.city = "Lowell"
        return services.patient_save(patient=theirs, actor=self.admin, reason="moved")

    def test_it_refuses_the_second_save_naming_what_changed_and_who(self):
        opened_by_desk = self.open_form(self.front_desk)
        opened_by_admin = self.open_form(self.admin)

        self.client.post(
            self.url(), patient_form_data(opened_by_admin, with_ssn=True, city="Lowell")
        )
        self.login(self.front_desk)
        response = self.client.post(
            self.url(), patient_form_data(opened_by_desk, with_ssn=False, middle_name="Quinn")
        )

        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "This patient was changed after you opened or exported it")
        self.assertContains(response, "The form now shows their values")
        self.assertContains(response, f"City by {self.admin}")
        stored = Patient.objects.get(pk=self.other_patient.pk)
        self.assertEqual((stored.city, stored.middle_name), ("Lowell", ""))
        self.assertEqual(stored.history.latest().history_user, self.admin)

    def test_it_keeps_the_users_input_and_shows_the_others_change_then_saves_both(self):
        opened_by_desk = self.open_form(self.front_desk)
        theirs = self.admin_moves_the_patient()

        self.login(self.front_desk)
        refused = self.client.post(
            self.url(), patient_form_data(opened_by_desk, with_ssn=False, middle_name="Quinn")
        )
        form = refused.context["adminform"].form
        self.assertEqual(form.data["middle_name"], "Quinn")  # the user's input, kept
        self.assertEqual(form.data["city"], "Lowell")  # their change, shown
        self.assertEqual(form.data["seen_version"], str(theirs.version))

        saved = self.client.post(self.url(), form.data)

        self.assertRedirects(saved, reverse("admin:clinic_patient_changelist"))
        stored = Patient.objects.get(pk=self.other_patient.pk)
        self.assertEqual((stored.city, stored.middle_name), ("Lowell", "Quinn"))

    def test_it_keeps_the_users_value_where_both_changed_the_same_field(self):
        opened_by_desk = self.open_form(self.front_desk)
        self.admin_moves_the_patient()

        self.login(self.front_desk)
        refused = self.client.post(
            self.url(), patient_form_data(opened_by_desk, with_ssn=False, city="Quincy")
        )

        self.assertEqual(refused.context["adminform"].form.data["city"], "Quincy")
        self.assertEqual(Patient.objects.get(pk=self.other_patient.pk).city, "Lowell")

    def test_it_refuses_a_form_posted_without_its_version(self):
        self.login(self.front_desk)
        data = patient_form_data(self.other_patient, with_ssn=False, city="Lowell")
        del data["seen_version"]
        response = self.client.post(self.url(), data)
        self.assertEqual(response.status_code, 200)
        self.assertIn("seen_version", response.context["adminform"].form.errors)
        self.assertEqual(Patient.objects.get(pk=self.other_patient.pk).city, "")


class ConcurrentServiceWriteTests(ClinicTestCase):
    def test_an_action_on_a_patient_read_before_a_change_is_refused(self):
        read_by_action = Patient.objects.get(pk=self.other_patient.pk)
        meanwhile = Patient.objects.get(pk=self.other_patient.pk)
        meanwhile.city = "Lowell"
        services.patient_save(patient=meanwhile, actor=self.admin, reason="moved")

        with self.assertRaises(services.StaleRecordError) as caught:
            services.patient_archive(patient=read_by_action, actor=self.front_desk, reason="r")

        self.assertEqual(caught.exception.code, "stale")
        self.assertEqual(caught.exception.changes[0]["fields"], ["City"])
        self.assertEqual(caught.exception.changes[0]["user"], self.admin)
        stored = Patient.objects.get(pk=self.other_patient.pk)
        self.assertEqual((stored.status, stored.city), ("active", "Lowell"))

    def test_each_save_raises_the_version_by_one(self):
        patient = Patient.objects.get(pk=self.other_patient.pk)
        before = patient.version
        patient.city = "Lowell"
        services.patient_save(patient=patient, actor=self.admin, reason="moved")
        self.assertEqual(Patient.objects.get(pk=patient.pk).version, before + 1)
        self.assertEqual(patient.history.latest().version, before + 1)


class ConcurrentImportTests(ClinicTestCase):
    def export_csv(self):
        data = {"format": CSV_FORMAT, "resource": 0}
        for name in PatientResource().get_export_order():
            data[f"patientresource_{name}"] = "on"
        return content(self.client.post(reverse("admin:clinic_patient_export"), data))

    def test_an_import_of_rows_exported_before_a_change_is_refused(self):
        self.login(self.steward)
        exported = self.export_csv()
        rows = list(csv.DictReader(io.StringIO(exported.decode("utf-8"))))
        self.assertIn("version", rows[0])
        meanwhile = Patient.objects.get(pk=self.other_patient.pk)
        meanwhile.city = "Lowell"
        services.patient_save(patient=meanwhile, actor=self.admin, reason="moved")

        file = SimpleUploadedFile("patients.csv", exported, content_type="text/csv")
        response = preview(self.client, "patient", file)

        problems = [str(p) for p in response.context["result"].problems]
        self.assertEqual(len(problems), 1, problems)
        self.assertTrue(problems[0].startswith("Row 2: This patient was changed after you"))
        self.assertIn(f"City by {self.admin}", problems[0])
        self.assertNotIn("confirm_form", response.context)
        self.assertEqual(Patient.objects.get(pk=self.other_patient.pk).city, "Lowell")

    def test_an_unchanged_export_reads_back_unchanged(self):
        self.login(self.steward)
        file = SimpleUploadedFile("patients.csv", self.export_csv(), content_type="text/csv")
        response = preview(self.client, "patient", file)
        confirm(self.client, "patient", response)
        self.assertEqual(response.context["result"].counts["unchanged"], Patient.objects.count())
