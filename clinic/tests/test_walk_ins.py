"""Walk-in patients: no external ID needed, and Front desk types an SSN it never reads."""

import datetime

from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic.models import Patient
from clinic.tests.admin_forms import patient_form_data


def walk_in(**fields) -> Patient:
    data = {
        "first_name": "Wes",
        "last_name": "Walker",
        "birth_date": datetime.date(2001, 2, 3),
        "gender": "M",
    }
    return Patient(**{**data, **fields})


class WalkInTests(ClinicTestCase):
    def add(self, user, ssn=None, **fields):
        self.login(user)
        data = patient_form_data(walk_in(**fields), with_ssn=False)
        if ssn is not None:
            data["ssn"] = ssn
        return self.client.post(reverse("admin:clinic_patient_add"), data)

    def test_it_registers_walk_ins_without_an_external_id(self):
        for first_name in ("Wes", "Wyn"):
            with self.subTest(first_name=first_name):
                response = self.add(self.front_desk, first_name=first_name)
                self.assertRedirects(response, reverse("admin:clinic_patient_changelist"))
        created = Patient.objects.filter(last_name="Walker")
        self.assertEqual(created.count(), 2)
        for patient in created:
            self.assertIsNone(patient.external_id)
            self.assertRegex(patient.mrn, r"^\d{8}$")

    def test_it_keeps_an_external_id_unique_when_present(self):
        response = self.add(self.front_desk, external_id=self.other_patient.external_id)
        self.assertEqual(response.status_code, 200)
        self.assertIn("external_id", response.context["adminform"].form.errors)
        self.assertFalse(Patient.objects.filter(last_name="Walker").exists())

    def test_front_desk_types_an_ssn_on_the_add_form(self):
        self.login(self.front_desk)
        self.assertContains(self.client.get(reverse("admin:clinic_patient_add")), 'name="ssn"')

        self.add(self.front_desk, ssn="123-45-6789")

        created = Patient.objects.get(last_name="Walker")
        self.assertEqual(created.ssn, "123-45-6789")
        change = self.client.get(reverse("admin:clinic_patient_change", args=[created.pk]))
        self.assertContains(change, "***-**-6789")
        self.assertNotContains(change, "123-45-6789")
        self.assertNotContains(change, 'name="ssn"')

    def test_a_malformed_typed_ssn_is_an_error_on_the_field(self):
        response = self.add(self.front_desk, ssn="12-ABC-9")
        self.assertEqual(
            response.context["adminform"].form.errors.as_data()["ssn"][0].code, "invalid_ssn"
        )

    def test_users_without_enter_ssn_get_no_ssn_input_and_a_crafted_one_is_ignored(self):
        self.login(self.steward)
        self.assertNotContains(self.client.get(reverse("admin:clinic_patient_add")), 'name="ssn"')

        self.add(self.steward, ssn="123-45-6789")

        self.assertEqual(Patient.objects.get(last_name="Walker").ssn, "")
