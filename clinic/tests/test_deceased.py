"""Deceased patients have their own status and leave the everyday lists (issue 5, item 9)."""

import datetime

from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Patient
from clinic.tests.admin_forms import patient_form_data
from clinic.tests.factories import PatientFactory


class DeceasedTests(ClinicTestCase):
    def record_death(self, patient, user):
        self.login(user)
        return self.client.post(
            reverse("admin:clinic_patient_change", args=[patient.pk]),
            patient_form_data(patient, with_ssn=False, death_date="2024-03-01"),
        )

    def listed(self, user, url_name="admin:clinic_patient_changelist", **params):
        self.login(user)
        response = self.client.get(reverse(url_name), params)
        self.assertEqual(response.status_code, 200)
        return {p.pk for p in response.context["cl"].result_list}

    def test_recording_a_death_date_makes_the_patient_deceased_with_history(self):
        self.record_death(self.other_patient, self.front_desk)

        stored = Patient.objects.get(pk=self.other_patient.pk)
        self.assertEqual(
            (stored.status, stored.death_date), ("deceased", datetime.date(2024, 3, 1))
        )
        row = stored.history.latest()
        self.assertEqual((row.status, row.history_user), ("deceased", self.front_desk))

    def test_a_deceased_patient_leaves_the_unassigned_queue(self):
        queue = "admin:clinic_unassignedpatient_changelist"
        self.assertIn(self.other_patient.pk, self.listed(self.front_desk, queue))
        self.record_death(self.other_patient, self.front_desk)
        self.assertNotIn(self.other_patient.pk, self.listed(self.front_desk, queue))
        self.assertNotIn(self.other_patient, Patient.objects.unassigned())

    def test_a_doctors_default_list_shows_current_patients_and_the_filter_the_others(self):
        late = PatientFactory(first_name="Lee", last_name="Late")
        services.patient_assign_primary_doctor(
            patient=late, doctor=self.dr_alice, actor=self.front_desk, reason="test"
        )
        late = Patient.objects.get(pk=late.pk)
        late.death_date = datetime.date(2024, 3, 1)
        services.patient_save(patient=late, actor=self.front_desk, reason="died")

        self.assertEqual(self.listed(self.alice), {self.alice_patient.pk})
        self.assertEqual(self.listed(self.alice, status="deceased"), {late.pk})
        self.assertEqual(self.listed(self.alice, status="all"), {self.alice_patient.pk, late.pk})

    def test_staff_lists_show_every_status_by_default_and_filter_deceased(self):
        self.record_death(self.other_patient, self.front_desk)
        everyone = {self.alice_patient.pk, self.other_patient.pk}
        self.assertEqual(self.listed(self.front_desk), everyone)
        self.assertEqual(self.listed(self.front_desk, status="deceased"), {self.other_patient.pk})
        response = self.client.get(reverse("admin:clinic_patient_changelist"))
        self.assertContains(response, '<option value="deceased">Deceased</option>', html=True)

    def test_an_import_with_a_death_date_registers_a_deceased_patient(self):
        patient = Patient(
            external_id="synthea-dead",
            first_name="Dee",
            last_name="Dead",
            birth_date=datetime.date(1930, 1, 1),
            death_date=datetime.date(2001, 1, 1),
            gender="F",
        )
        services.patient_save(patient=patient, actor=None, reason="Imported from patients.csv")
        self.assertEqual(Patient.objects.get(external_id="synthea-dead").status, "deceased")
