"""The patient admin: SSN masking, form saves through the service, errors on the form."""

import datetime

from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Patient
from clinic.tests.admin_forms import patient_form_data
from clinic.tests.factories import DoctorFactory


class PatientSsnMaskingTests(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.alice_patient.ssn = "999-12-4321"
        services.patient_save(patient=cls.alice_patient, actor=cls.admin, reason="SSN on file")

    def test_it_masks_the_ssn_in_the_changelist_without_view_ssn(self):
        for user in (self.front_desk, self.auditor, self.steward, self.alice):
            self.login(user)
            with self.subTest(user=user.email):
                response = self.client.get(reverse("admin:clinic_patient_changelist"))
                self.assertContains(response, "***-**-4321")
                self.assertNotContains(response, "999-12-4321")

    def test_it_shows_the_ssn_to_administrators(self):
        for user in (self.admin, self.operator):
            self.login(user)
            with self.subTest(user=user.email):
                response = self.client.get(reverse("admin:clinic_patient_changelist"))
                self.assertContains(response, "999-12-4321")
                response = self.client.get(
                    reverse("admin:clinic_patient_change", args=[self.alice_patient.pk])
                )
                self.assertContains(response, 'value="999-12-4321"')

    def test_it_never_puts_the_ssn_in_the_change_form_without_view_ssn(self):
        for user in (self.front_desk, self.auditor, self.alice):
            self.login(user)
            with self.subTest(user=user.email):
                response = self.client.get(
                    reverse("admin:clinic_patient_change", args=[self.alice_patient.pk])
                )
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "***-**-4321")
                self.assertNotContains(response, "999-12-4321")
                self.assertNotContains(response, 'name="ssn"')

    def test_it_keeps_the_ssn_when_a_user_without_view_ssn_saves(self):
        self.login(self.front_desk)
        self.client.post(
            reverse("admin:clinic_patient_change", args=[self.alice_patient.pk]),
            patient_form_data(self.alice_patient, with_ssn=False, city="Lowell", ssn="000-00-0000"),
        )
        patient = Patient.objects.get(pk=self.alice_patient.pk)
        self.assertEqual((patient.city, patient.ssn), ("Lowell", "999-12-4321"))

    def test_it_masks_the_ssn_in_history_diffs_without_view_ssn(self):
        self.login(self.admin)
        self.client.post(
            reverse("admin:clinic_patient_change", args=[self.alice_patient.pk]),
            patient_form_data(self.alice_patient, with_ssn=True, ssn="999-12-8765"),
        )
        url = reverse("admin:clinic_patient_history", args=[self.alice_patient.pk])
        response = self.client.get(url)
        self.assertContains(response, "999-12-4321")
        self.assertContains(response, "999-12-8765")

        for user in (self.front_desk, self.auditor, self.alice):
            self.login(user)
            with self.subTest(user=user.email):
                response = self.client.get(url)
                self.assertContains(response, "***-**-4321")
                self.assertContains(response, "***-**-8765")
                self.assertNotContains(response, "999-12-4321")
                self.assertNotContains(response, "999-12-8765")

    def test_it_never_shows_the_ssn_on_a_historical_version_page(self):
        version = self.alice_patient.history.latest()
        self.login(self.front_desk)
        response = self.client.get(
            reverse("admin:clinic_patient_simple_history", args=[self.alice_patient.pk, version.pk])
        )
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "999-12-4321")


class PatientFormSaveTests(ClinicTestCase):
    def change(self, user, patient, **changes):
        self.login(user)
        return self.client.post(
            reverse("admin:clinic_patient_change", args=[patient.pk]),
            patient_form_data(patient, with_ssn=user.has_perm("clinic.view_ssn"), **changes),
        )

    def test_it_lets_a_doctor_change_their_own_patient(self):
        response = self.change(self.alice, self.alice_patient, city="Quincy", change_reason="Moved")
        self.assertRedirects(response, reverse("admin:clinic_patient_changelist"))
        patient = Patient.objects.get(pk=self.alice_patient.pk)
        self.assertEqual(patient.city, "Quincy")
        self.assertEqual(patient.updated_by, self.alice)
        row = patient.history.latest()
        self.assertEqual((row.history_user, row.history_change_reason), (self.alice, "Moved"))

    def test_it_shows_an_inactive_doctor_on_the_form_not_a_500(self):
        retired = DoctorFactory(active=False, last_name="Gone")
        response = self.change(self.front_desk, self.other_patient, primary_doctor=retired.pk)
        self.assertEqual(response.status_code, 200)
        errors = response.context["adminform"].form.errors
        self.assertEqual(errors.as_data()["primary_doctor"][0].code, "inactive_doctor")
        self.assertContains(response, "is inactive and cannot take patients")
        self.assertIsNone(Patient.objects.get(pk=self.other_patient.pk).primary_doctor)

    def test_it_shows_invalid_input_on_the_form(self):
        response = self.change(self.front_desk, self.other_patient, birth_date="not a date")
        self.assertEqual(response.status_code, 200)
        self.assertIn("birth_date", response.context["adminform"].form.errors)

    def test_it_refuses_the_auditor_a_save(self):
        response = self.change(self.auditor, self.other_patient, city="Nowhere")
        self.assertEqual(response.status_code, 403)
        self.assertEqual(Patient.objects.get(pk=self.other_patient.pk).city, "")

    def test_it_shows_the_auditor_a_read_only_page(self):
        self.login(self.auditor)
        response = self.client.get(
            reverse("admin:clinic_patient_change", args=[self.other_patient.pk])
        )
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, 'name="_save"')
        self.assertNotContains(response, 'name="city"')

    def test_it_adds_a_patient_through_the_service(self):
        self.login(self.front_desk)
        patient = Patient(
            external_id="walk-in-1",
            first_name="Wes",
            last_name="Walker",
            birth_date=datetime.date(2001, 2, 3),
            gender="M",
        )
        data = patient_form_data(patient, with_ssn=False)
        response = self.client.post(reverse("admin:clinic_patient_add"), data)
        created = Patient.objects.get(external_id="walk-in-1")
        self.assertRedirects(response, reverse("admin:clinic_patient_changelist"))
        self.assertRegex(created.mrn, r"^\d{8}$")
        self.assertEqual(created.created_by, self.front_desk)
        row = created.history.get()
        self.assertEqual(
            (row.history_user, row.history_change_reason), (self.front_desk, "Created in admin")
        )


class PatientArchiveActionTests(ClinicTestCase):
    def post_action(self, url_name, action, patients):
        return self.client.post(
            reverse(url_name),
            {"action": action, "_selected_action": [p.pk for p in patients], "index": "0"},
            follow=True,
        )

    def test_it_archives_and_restores_with_history(self):
        self.login(self.front_desk)
        response = self.post_action(
            "admin:clinic_patient_changelist",
            "archive_patients",
            [self.other_patient, self.alice_patient],
        )
        self.assertContains(response, "Archived 2 patients.")
        self.assertEqual(Patient.objects.archived().count(), 2)
        row = self.other_patient.history.latest()
        self.assertEqual(
            (row.status, row.history_user, row.history_change_reason),
            ("archived", self.front_desk, "Archived in admin"),
        )

        response = self.post_action(
            "admin:clinic_archivedpatient_changelist", "restore_patients", [self.other_patient]
        )
        self.assertContains(response, "Restored 1 patient.")
        self.assertEqual(list(Patient.objects.archived()), [self.alice_patient])
        row = self.other_patient.history.latest()
        self.assertEqual(
            (row.status, row.history_user, row.history_change_reason),
            ("active", self.front_desk, "Restored in admin"),
        )

    def test_it_lists_archived_patients_in_their_queue(self):
        self.login(self.front_desk)
        self.post_action(
            "admin:clinic_patient_changelist", "archive_patients", [self.other_patient]
        )
        response = self.client.get(reverse("admin:clinic_archivedpatient_changelist"))
        self.assertEqual(
            [p.pk for p in response.context["cl"].result_list], [self.other_patient.pk]
        )

    def test_it_offers_the_auditor_no_write_actions(self):
        self.login(self.auditor)
        response = self.client.get(reverse("admin:clinic_patient_changelist"))
        # Read-only: "Export selected" (the auditor holds export_patient) and nothing else.
        actions = response.context["action_form"].fields["action"].choices
        self.assertEqual([name for name, _ in actions if name], ["export_admin_action"])
        response = self.post_action(
            "admin:clinic_patient_changelist", "archive_patients", [self.other_patient]
        )
        self.assertFalse(Patient.objects.archived().exists())
