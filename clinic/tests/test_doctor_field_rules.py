"""A doctor edits their patients' clinical-contact fields, never who looks after them,
their status or their identifiers (issue 5, item 5)."""

from django.core.exceptions import ValidationError
from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Patient
from clinic.tests.admin_forms import patient_form_data

MANAGED = ("primary_doctor", "status", "external_id")


class DoctorFieldRulesTests(ClinicTestCase):
    def change_url(self, patient):
        return reverse("admin:clinic_patient_change", args=[patient.pk])

    def test_it_shows_the_managed_fields_read_only_to_a_doctor(self):
        self.login(self.alice)
        response = self.client.get(self.change_url(self.alice_patient))
        for name in MANAGED:
            with self.subTest(field=name):
                self.assertNotContains(response, f'name="{name}"')
        self.assertContains(response, 'name="city"')
        self.assertContains(response, f"Dr. {self.dr_alice.first_name} {self.dr_alice.last_name}")

    def test_it_keeps_the_inputs_for_staff_who_manage_all_patients(self):
        self.login(self.front_desk)
        response = self.client.get(self.change_url(self.alice_patient))
        for name in MANAGED:
            with self.subTest(field=name):
                self.assertContains(response, f'name="{name}"')

    def test_it_ignores_managed_fields_in_a_crafted_post_and_saves_the_rest(self):
        self.login(self.alice)
        data = patient_form_data(
            self.alice_patient,
            with_ssn=False,
            city="Quincy",
            primary_doctor="",
            status="archived",
            external_id="stolen",
        )
        response = self.client.post(self.change_url(self.alice_patient), data)

        self.assertRedirects(response, reverse("admin:clinic_patient_changelist"))
        stored = Patient.objects.get(pk=self.alice_patient.pk)
        self.assertEqual(stored.city, "Quincy")
        self.assertEqual(
            (stored.primary_doctor, stored.status, stored.external_id),
            (self.dr_alice, "active", self.alice_patient.external_id),
        )
        self.assertTrue(Patient.objects.visible_to(self.alice).filter(pk=stored.pk).exists())

    def test_the_service_refuses_a_doctor_changing_a_managed_field(self):
        for name, value in (
            ("primary_doctor", None),
            ("status", "archived"),
            ("external_id", "stolen"),
        ):
            patient = Patient.objects.get(pk=self.alice_patient.pk)
            setattr(patient, name, value)
            with self.subTest(field=name), self.assertRaises(ValidationError) as caught:
                services.patient_save(patient=patient, actor=self.alice, reason="mine")
            self.assertEqual(caught.exception.error_dict[name][0].code, "not_permitted")
        with self.assertRaises(ValidationError):
            services.patient_archive(
                patient=Patient.objects.get(pk=self.alice_patient.pk),
                actor=self.alice,
                reason="gone",
            )
        self.assertEqual(Patient.objects.get(pk=self.alice_patient.pk).status, "active")

    def test_it_lets_a_doctor_record_a_death_which_makes_the_patient_deceased(self):
        patient = Patient.objects.get(pk=self.alice_patient.pk)
        patient.death_date = "2024-03-01"
        services.patient_save(patient=patient, actor=self.alice, reason="died")
        self.assertEqual(Patient.objects.get(pk=patient.pk).status, "deceased")

    def test_it_offers_a_doctor_no_archive_or_assign_action(self):
        self.login(self.alice)
        response = self.client.get(reverse("admin:clinic_patient_changelist"))
        form = response.context["action_form"]
        choices = [value for value, _ in form.fields["action"].choices] if form else []
        self.assertNotIn("archive_patients", choices)
        self.assertNotIn("assign_primary_doctor", choices)

    def test_it_refuses_a_crafted_action_post_from_a_doctor(self):
        self.login(self.alice)
        for action in ("archive_patients", "assign_primary_doctor"):
            with self.subTest(action=action):
                self.client.post(
                    reverse("admin:clinic_patient_changelist"),
                    {
                        "action": action,
                        "_selected_action": [self.alice_patient.pk],
                        "doctor": self.dr_bob.pk,
                        "reason": "take them",
                        "apply": "1",
                    },
                )
        stored = Patient.objects.get(pk=self.alice_patient.pk)
        self.assertEqual((stored.status, stored.primary_doctor), ("active", self.dr_alice))
        self.assertEqual(stored.version, self.alice_patient.version)
