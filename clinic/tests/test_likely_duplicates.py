"""A likely duplicate patient is named and needs an explicit confirmation (issue 5, item 7)."""

import datetime

from django.urls import reverse

from admin_ext.imports.models import ImportJob
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Patient
from clinic.tests.admin_forms import patient_form_data
from clinic.tests.importing import confirm, preview, upload


def walk_in(**fields) -> Patient:
    """An unsaved patient who matches ``alice_patient`` (Ann Patel, born 1980-05-17)."""
    data = {
        "first_name": "Ann",
        "last_name": "Patel",
        "birth_date": datetime.date(1980, 5, 17),
        "gender": "F",
    }
    return Patient(**{**data, **fields})


class LikelyDuplicateFormTests(ClinicTestCase):
    def add(self, user, confirm_not_duplicate="", **fields):
        self.login(user)
        data = patient_form_data(walk_in(**fields), with_ssn=True)
        data["confirm_not_duplicate"] = confirm_not_duplicate
        return self.client.post(reverse("admin:clinic_patient_add"), data)

    def test_it_warns_naming_the_registered_mrn_and_creates_nothing(self):
        response = self.add(self.front_desk)

        self.assertEqual(response.status_code, 200)
        self.assertContains(response, f"MRN {self.alice_patient.mrn} (Ann Patel, born 1980-05-17")
        self.assertContains(response, 'name="confirm_not_duplicate"')
        self.assertEqual(Patient.objects.filter(last_name="Patel").count(), 1)

    def test_it_offers_the_confirmation_only_when_the_save_was_a_likely_duplicate(self):
        self.login(self.front_desk)
        self.assertNotContains(
            self.client.get(reverse("admin:clinic_patient_add")), 'name="confirm_not_duplicate"'
        )
        response = self.add(self.front_desk, first_name="Anna", zip="not a zip")
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, 'name="confirm_not_duplicate"')

    def test_it_creates_the_patient_once_confirmed_and_keeps_the_confirmation(self):
        response = self.add(self.front_desk, confirm_not_duplicate="on")

        self.assertRedirects(response, reverse("admin:clinic_patient_changelist"))
        created = Patient.objects.filter(last_name="Patel").exclude(pk=self.alice_patient.pk).get()
        self.assertEqual(
            created.history.get().history_change_reason,
            f"Created in admin (confirmed not a duplicate of MRN {self.alice_patient.mrn})",
        )

    def test_it_matches_names_whatever_their_case_accents_and_punctuation(self):
        response = self.add(self.front_desk, first_name="ÁNN", last_name="pa-tel")
        self.assertContains(response, f"MRN {self.alice_patient.mrn}")

    def test_it_does_not_match_another_birth_date_or_name(self):
        for fields in ({"birth_date": datetime.date(1980, 5, 18)}, {"first_name": "Anna"}):
            with self.subTest(fields=fields):
                response = self.add(self.front_desk, **fields)
                self.assertRedirects(response, reverse("admin:clinic_patient_changelist"))

    def test_a_different_ssn_tells_apart_only_for_users_who_may_read_ssns(self):
        stored_ssn = self.alice_patient.ssn
        other_ssn = "999-99-0001" if stored_ssn != "999-99-0001" else "999-99-0002"
        # The Administrator reads SSNs: a different SSN is a different person.
        response = self.add(self.admin, ssn=other_ssn)
        self.assertRedirects(response, reverse("admin:clinic_patient_changelist"))
        # Front desk may type an SSN but not read one: the warning must not depend
        # on whether the typed SSN is the stored one, or it would be an oracle.
        for ssn in (stored_ssn, other_ssn):
            with self.subTest(ssn=ssn):
                response = self.add(self.front_desk, ssn=ssn)
                self.assertContains(response, f"MRN {self.alice_patient.mrn}")


class LikelyDuplicateServiceTests(ClinicTestCase):
    def test_the_service_refuses_without_confirmation_for_every_door(self):
        with self.assertRaises(services.LikelyDuplicateError) as caught:
            services.patient_save(patient=walk_in(), actor=None, reason="command")
        self.assertEqual(caught.exception.code, "likely_duplicate")
        self.assertEqual(caught.exception.matches, [self.alice_patient])

    def test_renaming_a_patient_into_a_registered_one_is_a_duplicate_too(self):
        other = Patient.objects.get(pk=self.other_patient.pk)
        other.first_name, other.last_name = "Ann", "Patel"
        with self.assertRaises(services.LikelyDuplicateError):
            services.patient_save(patient=other, actor=self.front_desk, reason="rename")

    def test_saving_a_patient_without_touching_identity_fields_is_not_checked(self):
        twin = services.patient_save(
            patient=walk_in(), actor=None, reason="r", confirmed_not_duplicate=True
        )
        twin.city = "Lowell"
        services.patient_save(patient=twin, actor=self.front_desk, reason="moved")
        self.assertEqual(Patient.objects.get(pk=twin.pk).city, "Lowell")


class LikelyDuplicateImportTests(ClinicTestCase):
    HEADER = ["external_id", "first_name", "last_name", "birth_date", "gender"]
    ROWS = [["new-twin", "Ann", "Patel", "1980-05-17", "F"]]

    def setUp(self):
        self.login(self.steward)

    def test_the_preview_names_the_registered_mrn_and_offers_no_confirm(self):
        response = preview(self.client, "patient", upload("p.csv", self.HEADER, self.ROWS))

        problems = [str(p) for p in response.context["result"].problems]
        self.assertEqual(len(problems), 1)
        self.assertIn("Row 2: This looks like a patient already registered: MRN", problems[0])
        self.assertIn(self.alice_patient.mrn, problems[0])
        self.assertNotIn("confirm_form", response.context)
        self.assertFalse(Patient.objects.filter(external_id="new-twin").exists())

    def test_a_confirmed_upload_imports_them_with_the_confirmation_in_history(self):
        response = preview(
            self.client,
            "patient",
            upload("p.csv", self.HEADER, self.ROWS),
            confirm_not_duplicate="on",
        )
        self.assertEqual(response.context["result"].counts["new"], 1)
        confirm(self.client, "patient", response)

        created = Patient.objects.get(external_id="new-twin")
        self.assertEqual(
            created.history.get().history_change_reason,
            f"{ImportJob.objects.get().reason} (confirmed not a duplicate of MRN {self.alice_patient.mrn})",
        )
