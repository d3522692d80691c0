"""Every change through a form or an action is in the record's history, with actor and reason."""

from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic.models import Patient
from clinic.tests.admin_forms import doctor_form_data, patient_form_data


class PatientHistoryTests(ClinicTestCase):
    def save_form(self, user, patient, **changes):
        self.login(user)
        return self.client.post(
            reverse("admin:clinic_patient_change", args=[patient.pk]),
            patient_form_data(patient, with_ssn=user.has_perm("clinic.view_ssn"), **changes),
        )

    def test_it_keeps_the_typed_reason(self):
        self.save_form(self.front_desk, self.other_patient, city="Salem", change_reason="Called in")
        row = self.other_patient.history.latest()
        self.assertEqual(
            (row.city, row.history_user, row.history_change_reason),
            ("Salem", self.front_desk, "Called in"),
        )

    def test_it_summarises_the_changed_fields_when_no_reason_is_typed(self):
        self.save_form(self.front_desk, self.other_patient, city="Salem", zip="01970")
        row = self.other_patient.history.latest()
        self.assertEqual(row.history_change_reason, "Changed in admin: City and ZIP")
        self.assertEqual(row.history_user, self.front_desk)

    def test_it_shows_field_level_changes_with_actor_and_reason_on_the_history_page(self):
        self.save_form(self.front_desk, self.other_patient, city="Salem", change_reason="Called in")
        self.login(self.auditor)
        response = self.client.get(
            reverse("admin:clinic_patient_history", args=[self.other_patient.pk])
        )
        self.assertEqual(response.status_code, 200)
        page = response.content.decode()
        self.assertIn("desk@example.com", page)
        self.assertIn("Called in", page)
        changes = response.context["page_obj"].object_list[0].history_delta_changes
        self.assertEqual(changes, [{"field": "City", "old": "", "new": "Salem"}])

    def test_it_shows_an_empty_primary_doctor_as_a_dash_not_a_deleted_doctor(self):
        self.login(self.front_desk)
        response = self.client.get(
            reverse("admin:clinic_patient_history", args=[self.alice_patient.pk])
        )
        changes = response.context["page_obj"].object_list[0].history_delta_changes
        self.assertEqual(
            changes, [{"field": "Primary doctor", "old": "—", "new": "Dr. Alice Adams"}]
        )
        self.assertNotContains(response, "Deleted doctor")

    def test_it_shows_a_doctor_the_history_of_their_patient(self):
        self.login(self.alice)
        response = self.client.get(
            reverse("admin:clinic_patient_history", args=[self.alice_patient.pk])
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(response.context["page_obj"].object_list), 2)

    def test_it_records_work_queue_saves_in_the_patient_history(self):
        # Saves from the proxy admins (work queues) land in the patients' history too.
        self.login(self.front_desk)
        self.client.post(
            reverse("admin:clinic_unassignedpatient_change", args=[self.other_patient.pk]),
            patient_form_data(
                self.other_patient, with_ssn=False, city="Lynn", change_reason="Queue"
            ),
        )
        row = Patient.history.filter(id=self.other_patient.pk).latest()
        self.assertEqual((row.city, row.history_change_reason), ("Lynn", "Queue"))


class DoctorAndOrganizationHistoryTests(ClinicTestCase):
    def test_it_records_a_doctor_form_save_with_actor_and_reason(self):
        self.login(self.steward)
        doctor = self.dr_bob
        response = self.client.post(
            reverse("admin:clinic_doctor_change", args=[doctor.pk]),
            doctor_form_data(doctor, specialty="CARDIOLOGY"),
        )
        self.assertRedirects(response, reverse("admin:clinic_doctor_changelist"))
        row = doctor.history.latest()
        self.assertEqual(
            (row.specialty, row.history_user, row.history_change_reason),
            ("CARDIOLOGY", self.steward, "Changed in admin: Specialty"),
        )

    def test_it_records_an_organization_form_save_with_the_typed_reason(self):
        org = self.dr_alice.organization
        self.login(self.steward)
        self.client.post(
            reverse("admin:clinic_organization_change", args=[org.pk]),
            {
                "name": "East Clinic",
                "external_id": org.external_id,
                "address": "",
                "city": org.city,
                "state": org.state,
                "zip": "",
                "phone": "",
                "change_reason": "Rebranded",
            },
        )
        row = org.history.latest()
        self.assertEqual(
            (row.name, row.history_user, row.history_change_reason),
            ("East Clinic", self.steward, "Rebranded"),
        )
