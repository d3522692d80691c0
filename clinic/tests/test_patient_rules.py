"""Records that cannot be true are refused at every door: form, service, import, database."""

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from admin_ext.audit.guards import allow_untracked_update
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Patient
from clinic.tests.admin_forms import patient_form_data
from clinic.tests.importing import preview, upload


def future_day() -> datetime.date:
    """A birth date in the future when the test runs: two days ahead, so a run that
    crosses midnight (CI collects before it, tests after) still gets a future date."""
    return timezone.localdate() + datetime.timedelta(days=2)


HEADER = ["external_id", "first_name", "last_name", "birth_date", "death_date", "gender"]
IMPORT_HEADER = [*HEADER, "ssn", "state", "zip"]


class PatientRecordRulesTests(ClinicTestCase):
    def post_change(self, user, **changes):
        self.login(user)
        patient = Patient.objects.get(pk=self.other_patient.pk)
        return self.client.post(
            reverse("admin:clinic_patient_change", args=[patient.pk]),
            patient_form_data(patient, with_ssn=user.has_perm("clinic.view_ssn"), **changes),
        )

    def field_errors(self, response):
        self.assertEqual(response.status_code, 200)
        return response.context["adminform"].form.errors.as_data()

    def assert_unchanged(self):
        stored = Patient.objects.get(pk=self.other_patient.pk)
        self.assertEqual(stored.version, self.other_patient.version)
        self.assertEqual(stored.history.count(), self.other_patient.history.count())

    def test_it_refuses_a_birth_date_in_the_future_on_the_form(self):
        errors = self.field_errors(self.post_change(self.front_desk, birth_date=future_day()))
        self.assertEqual(errors["birth_date"][0].code, "future_date")
        self.assert_unchanged()

    def test_it_refuses_a_death_date_before_the_birth_date_on_the_form(self):
        errors = self.field_errors(self.post_change(self.front_desk, death_date="1970-01-01"))
        self.assertEqual(errors["death_date"][0].code, "death_before_birth")
        self.assertContains(
            self.post_change(self.front_desk, death_date="1970-01-01"),
            "The death date is before the birth date.",
        )
        self.assert_unchanged()

    def test_it_refuses_an_ssn_of_the_wrong_shape_on_the_form(self):
        response = self.post_change(self.admin, ssn="12-ABC-9")
        self.assertEqual(self.field_errors(response)["ssn"][0].code, "invalid_ssn")
        self.assertContains(response, "is not an SSN: use the form 123-45-6789.")
        self.assert_unchanged()

    def test_it_refuses_a_zip_or_state_of_the_wrong_shape_on_the_form(self):
        errors = self.field_errors(self.post_change(self.front_desk, zip="0214", state="Narnia"))
        self.assertEqual(errors["zip"][0].code, "invalid_zip")
        self.assertEqual(errors["state"][0].code, "invalid_state")
        self.assert_unchanged()

    def test_it_accepts_state_names_and_codes_in_any_case(self):
        for state in ("Massachusetts", "MA", "ma", "District of Columbia", "PR"):
            patient = Patient.objects.get(pk=self.other_patient.pk)
            patient.state = state
            with self.subTest(state=state):
                services.patient_save(patient=patient, actor=self.front_desk, reason="test")
                self.assertEqual(Patient.objects.get(pk=patient.pk).state, state)

    def test_the_service_refuses_each_rule_with_its_code(self):
        cases = {
            "birth_date": (future_day(), "future_date"),
            "death_date": (datetime.date(1970, 1, 1), "death_before_birth"),
            "ssn": ("12-ABC-9", "invalid_ssn"),
            "zip": ("ABCDE", "invalid_zip"),
            "state": ("Narnia", "invalid_state"),
        }
        for field, (value, code) in cases.items():
            patient = Patient.objects.get(pk=self.other_patient.pk)
            setattr(patient, field, value)
            with self.subTest(field=field), self.assertRaises(ValidationError) as caught:
                services.patient_save(patient=patient, actor=self.admin, reason="test")
            self.assertEqual(caught.exception.error_dict[field][0].code, code)
        self.assert_unchanged()

    def test_an_import_names_the_row_column_and_value_of_each_broken_rule(self):
        self.login(self.steward)
        future = future_day().isoformat()
        rows = [
            ["n-1", "Fay", "Future", future, "", "F", "", "", ""],
            ["n-2", "Dee", "Dead", "1990-01-01", "1989-12-31", "F", "", "", ""],
            ["n-3", "Sam", "Ssn", "1990-01-01", "", "M", "12-ABC-9", "", ""],
            ["n-4", "Zed", "Zip", "1990-01-01", "", "M", "", "Narnia", "ABCDE"],
        ]
        response = preview(self.client, "patient", upload("patients.csv", IMPORT_HEADER, rows))

        problems = [str(p) for p in response.context["result"].problems]
        self.assertEqual(
            problems,
            [
                f"Row 2, column birth_date: {future} is in the future.",
                'Row 3, column death_date: "1989-12-31" is not accepted: '
                "The death date is before the birth date.",
                "Row 4, column ssn: “12-ABC-9” is not an SSN: use the form 123-45-6789.",
                "Row 5, column state: “Narnia” is not a US state: "
                "use its name or its two-letter code (MA).",
                "Row 5, column zip: “ABCDE” is not a ZIP code: use 12345 or 12345-6789.",
            ],
        )
        self.assertNotIn("confirm_form", response.context)
        self.assertFalse(Patient.objects.filter(external_id__startswith="n-").exists())

    def test_the_database_refuses_them_even_past_the_services(self):
        # QuerySet.update() skips clean(); the CheckConstraints still hold.
        cases = [
            {"ssn": "12-ABC-9"},
            {"zip": "ABCDE"},
            {"death_date": datetime.date(1970, 1, 1), "status": "deceased"},
            {"death_date": datetime.date(2020, 1, 1), "status": "active"},
            {"status": "deceased"},
            {"external_id": ""},
        ]
        # Bypassing the services (and their history) is this test's point.
        bypass = "proves the constraints hold past the services"
        for values in cases:
            with self.subTest(values=values), self.assertRaises(IntegrityError):
                with transaction.atomic(), allow_untracked_update(bypass):
                    Patient.objects.filter(pk=self.other_patient.pk).update(**values)
        self.assert_unchanged()
