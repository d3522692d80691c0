"""The "Unassigned patients" queue and its "Assign primary doctor…" action."""

from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic.models import Patient
from clinic.tests.factories import DoctorFactory, PatientFactory

QUEUE = "admin:clinic_unassignedpatient_changelist"


class UnassignedQueueTests(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.second = PatientFactory(first_name="Sam", last_name="Second")
        PatientFactory(first_name="Arch", last_name="Ived", status=Patient.Status.ARCHIVED)

    def test_it_lists_only_active_patients_without_a_doctor(self):
        self.login(self.front_desk)
        response = self.client.get(reverse(QUEUE))
        self.assertEqual(set(response.context["cl"].result_list), {self.other_patient, self.second})

    def test_it_is_not_open_to_doctors(self):
        self.login(self.alice)
        self.assertEqual(self.client.get(reverse(QUEUE)).status_code, 403)

    def test_it_asks_for_the_doctor_and_reason_on_an_intermediate_page(self):
        self.login(self.front_desk)
        response = self.client.post(
            reverse(QUEUE),
            {
                "action": "assign_primary_doctor",
                "_selected_action": [self.other_patient.pk],
                "index": "0",
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertTemplateUsed(response, "admin/clinic/assign_primary_doctor.html")
        self.assertContains(response, 'name="doctor"')
        self.assertContains(response, 'name="reason"')
        self.assertContains(response, "Otto Other")
        self.assertIsNone(Patient.objects.get(pk=self.other_patient.pk).primary_doctor)

    def test_it_assigns_through_the_service_with_history_grants_and_a_count(self):
        self.login(self.front_desk)
        response = self.client.post(
            reverse(QUEUE),
            {
                "action": "assign_primary_doctor",
                "_selected_action": [self.other_patient.pk, self.second.pk],
                "apply": "1",
                "doctor": self.dr_bob.pk,
                "reason": "New registrations",
            },
            follow=True,
        )
        self.assertContains(response, "Assigned Dr. Bob Brown to 2 patients.")
        self.assertEqual(list(response.context["cl"].result_list), [])
        for patient in (self.other_patient, self.second):
            row = patient.history.latest()
            self.assertEqual(row.primary_doctor_id, self.dr_bob.pk)
            self.assertEqual(
                (row.history_user, row.history_change_reason),
                (self.front_desk, "New registrations"),
            )
        self.assertEqual(
            set(Patient.objects.visible_to(self.bob)), {self.other_patient, self.second}
        )

    def test_it_asks_again_when_no_doctor_is_chosen(self):
        self.login(self.front_desk)
        response = self.client.post(
            reverse(QUEUE),
            {
                "action": "assign_primary_doctor",
                "_selected_action": [self.other_patient.pk],
                "apply": "1",
                "doctor": "",
                "reason": "x",
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.context["form"].errors["doctor"])
        self.assertIsNone(Patient.objects.get(pk=self.other_patient.pk).primary_doctor)

    def test_it_does_not_offer_inactive_doctors(self):
        retired = DoctorFactory(active=False)
        self.login(self.front_desk)
        response = self.client.post(
            reverse(QUEUE),
            {
                "action": "assign_primary_doctor",
                "_selected_action": [self.other_patient.pk],
                "apply": "1",
                "doctor": retired.pk,
                "reason": "x",
            },
        )
        self.assertTrue(response.context["form"].errors["doctor"])
        self.assertIsNone(Patient.objects.get(pk=self.other_patient.pk).primary_doctor)

    def test_it_reassigns_from_the_patient_list_and_moves_the_grants(self):
        self.login(self.front_desk)
        self.client.post(
            reverse("admin:clinic_patient_changelist"),
            {
                "action": "assign_primary_doctor",
                "_selected_action": [self.alice_patient.pk],
                "apply": "1",
                "doctor": self.dr_bob.pk,
                "reason": "Cover",
            },
        )
        self.assertEqual(list(Patient.objects.visible_to(self.bob)), [self.alice_patient])
        alice = type(self.alice).objects.get(pk=self.alice.pk)
        self.assertFalse(Patient.objects.visible_to(alice).exists())
