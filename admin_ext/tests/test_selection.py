"""Malformed selections answer as no selection, not a 500 (``admin_ext.selection``; both
found by ``test_fuzz_admin``):

- a changelist action posted with ids that are not keys changes nothing and says so;
- an autocomplete field posted with a value that is not a key shows the form's error.
"""

from django.contrib.auth.models import Group
from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from admin_ext.tests.matrix import main_form
from clinic.models import Doctor, Patient

NO_SELECTION = "Items must be selected in order to perform actions on them"


class SelectionTests(ClinicTestCase):
    def post_action(self, url, action, selected):
        return self.client.post(
            url,
            {"action": action, "_selected_action": selected, "index": "0", "select_across": "0"},
            follow=True,
        )

    def test_it_answers_an_empty_selected_action_with_a_message(self):
        # The fuzzer's input: _selected_action='' (a ValueError in pk__in before).
        self.login(self.operator)
        url = reverse("admin:clinic_patient_changelist")
        response = self.post_action(url, "archive_patients", [""])
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, NO_SELECTION)
        self.assertFalse(Patient.objects.archived().filter(pk=self.other_patient.pk).exists())

    def test_it_keeps_the_valid_ids_of_a_mixed_selection(self):
        self.login(self.operator)
        url = reverse("admin:clinic_patient_changelist")
        response = self.post_action(
            url, "archive_patients", ["abc", str(self.other_patient.pk), "1e309", "-"]
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Archived 1 patient.")
        self.assertTrue(Patient.objects.archived().filter(pk=self.other_patient.pk).exists())

    def test_it_answers_a_malformed_group_and_user_selection_with_a_message(self):
        self.login(self.operator)
        team = Group.objects.create(name="Night team")
        for url, action in (
            (reverse("admin:auth_group_changelist"), "delete_selected"),
            (reverse("admin:people_user_changelist"), None),
        ):
            with self.subTest(url=url):
                if action is None:  # the user list's first action, whatever it is now
                    form = main_form(self.client.get(url).content.decode())
                    select = next(c for c in form.controls if c.name == "action")
                    action = next(value for value, _ in select.options if value)
                response = self.post_action(url, action, ["", "x"])
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, NO_SELECTION)
        self.assertTrue(Group.objects.filter(pk=team.pk).exists())

    def test_it_shows_an_autocomplete_value_that_is_not_a_key_as_a_form_error(self):
        # The fuzzer's input: user=' ' on the doctor add page (a ValueError in the
        # autocomplete widget's lookup while the form was shown again).
        self.login(self.operator)
        url = reverse("admin:clinic_doctor_add")
        for value in (" ", "abc", "1e309", str(2**70)):
            with self.subTest(user=value):
                response = self.client.post(
                    url,
                    {
                        "first_name": "Dana",
                        "last_name": "Fuzz",
                        "user": value,
                        "patients-TOTAL_FORMS": "0",
                        "patients-INITIAL_FORMS": "0",
                    },
                )
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "Select a valid choice")
        self.assertFalse(Doctor.objects.filter(last_name="Fuzz").exists())

    def test_it_shows_a_primary_doctor_that_is_not_a_key_as_a_form_error(self):
        self.login(self.operator)
        url = reverse("admin:clinic_patient_add")
        data = {"first_name": "Walk", "last_name": "In", "birth_date": "1990-02-03"}
        response = self.client.post(url, {**data, "gender": "F", "primary_doctor": "x"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Select a valid choice")
        self.assertFalse(Patient.objects.filter(first_name="Walk").exists())
