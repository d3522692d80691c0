"""The doctor admin: the doctor's patients inline (visible ones only), changelist counts."""

from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.tests.admin_forms import doctor_form_data
from clinic.tests.factories import PatientFactory


class DoctorPatientsInlineTests(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.bobs_patient = PatientFactory(first_name="Bea", last_name="Bobson")
        services.patient_assign_primary_doctor(
            patient=cls.bobs_patient, doctor=cls.dr_bob, actor=None, reason="r"
        )

    def inline_patients(self, user, doctor):
        self.login(user)
        response = self.client.get(reverse("admin:clinic_doctor_change", args=[doctor.pk]))
        self.assertEqual(response.status_code, 200)
        formset = next(
            f
            for f in response.context["inline_admin_formsets"]
            if f.opts.verbose_name_plural == "Patients (primary doctor)"
        )
        return [form.instance for form in formset.formset.forms]

    def test_it_lists_the_doctors_patients(self):
        self.assertEqual(self.inline_patients(self.front_desk, self.dr_alice), [self.alice_patient])
        self.assertEqual(self.inline_patients(self.front_desk, self.dr_bob), [self.bobs_patient])

    def test_it_lists_only_patients_the_viewer_may_see(self):
        self.assertEqual(self.inline_patients(self.alice, self.dr_alice), [self.alice_patient])
        self.assertEqual(self.inline_patients(self.alice, self.dr_bob), [])
        self.assertNotContains(
            self.client.get(reverse("admin:clinic_doctor_change", args=[self.dr_bob.pk])), "Bobson"
        )

    def test_it_counts_only_visible_patients_on_the_changelist(self):
        self.login(self.alice)
        response = self.client.get(reverse("admin:clinic_doctor_changelist"))
        counts = {d.pk: d._patient_count for d in response.context["cl"].result_list}
        self.assertEqual(counts[self.dr_alice.pk], 1)
        self.assertEqual(counts[self.dr_bob.pk], 0)

    def test_it_moves_grants_when_the_login_changes_in_the_form(self):
        self.login(self.admin)
        doctor = self.dr_alice
        response = self.client.post(
            reverse("admin:clinic_doctor_change", args=[doctor.pk]),
            doctor_form_data(
                doctor, patients=[self.alice_patient], user="", change_reason="Left the clinic"
            ),
        )
        self.assertRedirects(response, reverse("admin:clinic_doctor_changelist"))
        alice = type(self.alice).objects.get(pk=self.alice.pk)
        from clinic.models import Patient

        self.assertFalse(Patient.objects.visible_to(alice).exists())
        self.assertEqual(doctor.history.latest().history_change_reason, "Left the clinic")

    def test_it_lets_doctors_view_but_not_change_doctors(self):
        self.login(self.alice)
        response = self.client.post(
            reverse("admin:clinic_doctor_change", args=[self.dr_bob.pk]), {}
        )
        self.assertEqual(response.status_code, 403)
