"""The patient form people can read (issue 8, item 2): one page in sections, name and
date lines on a grid, the doctor picker's labels, related-object modals."""

import re

from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic.admin import doctor_label
from clinic.models import Doctor
from clinic.tests.factories import DoctorFactory, OrganizationFactory

SECTIONS = ["Name", "Identifiers", "Demographics", "Address", "Care", "Record", "Reason for change"]


def lines(response) -> list[list[str]]:
    """The form's lines as shown: the field names of each line, section by section."""
    return [
        [
            field.field["name"] if isinstance(field.field, dict) else field.field.name
            for field in line
        ]
        for fieldset in response.context["adminform"]
        for line in fieldset
    ]


class PatientFormLayoutTests(ClinicTestCase):
    add_url = reverse("admin:clinic_patient_add")

    def test_it_shows_the_whole_form_on_one_page_in_sections(self):
        self.login(self.front_desk)
        response = self.client.get(self.add_url)
        html = response.content.decode()
        self.assertNotIn('id="jazzy-tabs"', html)
        self.assertNotIn("tab-pane", html)
        titles = re.findall(r'<div class="card-title">\s*<strong>([^<]+)</strong>', html)
        self.assertEqual(titles, SECTIONS)

    def test_every_other_change_form_is_one_page_too(self):
        # Tabs hid the errors of required fields on the tabs not shown (issue 8).
        self.login(self.admin)
        for name in ("clinic_doctor_add", "clinic_organization_add"):
            with self.subTest(page=name):
                html = self.client.get(reverse(f"admin:{name}")).content.decode()
                self.assertNotIn('id="jazzy-tabs"', html)
                self.assertNotIn("tab-pane", html)

    def test_it_puts_first_middle_and_last_name_on_one_line_without_the_prefix(self):
        self.login(self.front_desk)
        response = self.client.get(self.add_url)
        shown = lines(response)
        self.assertIn(["first_name", "middle_name", "last_name"], shown)
        self.assertIn(["prefix", "suffix", "maiden_name"], shown)
        self.assertIn(["birth_date", "death_date", "gender"], shown)
        self.assertTrue(all(len(line) <= 4 for line in shown))
        html = response.content.decode()
        name_line = re.search(r'<div class="form-group[^"]*field-first_name[^"]*">', html)[0]
        self.assertIn("field-last_name", name_line)
        self.assertNotIn("field-prefix", name_line)
        labels = re.findall(
            r'<label class="[^"]*" for="id_(first_name|middle_name|last_name)">\s*([^<]+?)\s*<',
            html,
        )
        self.assertEqual(
            [label for _name, label in labels], ["First name", "Middle name", "Last name"]
        )

    def test_it_lays_the_lines_out_on_a_grid_from_its_own_stylesheet(self):
        self.login(self.front_desk)
        self.assertContains(self.client.get(self.add_url), "/static/admin_ext/backoffice.css")
        with open(finders.find("admin_ext/backoffice.css"), encoding="utf-8") as css:
            text = css.read()
        self.assertIn(".model-patient", text)
        self.assertRegex(text, r"display: grid;\s*grid-auto-columns: minmax\(0, 1fr\)")
        self.assertIn("@media (max-width: 575.98px)", text)

    def test_it_shows_every_error_of_an_empty_form_on_the_page(self):
        self.login(self.front_desk)
        response = self.client.post(self.add_url, {"status": "active"})
        self.assertEqual(response.status_code, 200)
        errors = response.context["adminform"].form.errors
        self.assertEqual(set(errors), {"first_name", "last_name", "birth_date", "gender"})
        html = response.content.decode()
        self.assertNotIn("tab-pane", html)
        self.assertEqual(html.count('<ul class="errorlist'), len(errors))

    def test_it_keeps_the_masked_ssn_for_users_who_may_not_read_it(self):
        self.login(self.front_desk)
        url = reverse("admin:clinic_patient_change", args=[self.alice_patient.pk])
        self.assertIn(["mrn", "external_id", "masked_ssn"], lines(self.client.get(url)))
        self.login(self.admin)
        self.assertIn(["mrn", "external_id", "ssn"], lines(self.client.get(url)))


class DoctorPickerTests(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        boston = OrganizationFactory(name="Boston Clinic")
        cls.dr_lee = DoctorFactory(
            first_name="Ann", last_name="Lee", specialty="Cardiology", organization=boston
        )

    def test_it_labels_a_doctor_with_specialty_and_site(self):
        self.assertEqual(doctor_label(self.dr_lee), "Dr. Ann Lee (Cardiology, Boston Clinic)")
        bare = DoctorFactory(first_name="Al", last_name="Ng", specialty="", organization=None)
        self.assertEqual(doctor_label(bare), "Dr. Al Ng")

    def autocomplete(self, term):
        url = reverse("admin:autocomplete")
        query = {"app_label": "clinic", "model_name": "patient", "field_name": "primary_doctor"}
        return self.client.get(url, {**query, "term": term})

    def test_it_labels_the_autocomplete_results(self):
        self.login(self.front_desk)
        response = self.autocomplete("Lee")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json()["results"],
            [{"id": str(self.dr_lee.pk), "text": "Dr. Ann Lee (Cardiology, Boston Clinic)"}],
        )

    def test_it_labels_the_results_without_a_query_per_doctor(self):
        self.login(self.front_desk)
        self.autocomplete("")  # warm the session and permission caches
        with CaptureQueriesContext(connection) as few:
            self.autocomplete("")
        DoctorFactory.create_batch(10, last_name="Extra")
        with CaptureQueriesContext(connection) as many:
            results = self.autocomplete("").json()["results"]
        self.assertEqual(len(results), Doctor.objects.count())
        self.assertEqual(len(many), len(few))

    def test_it_labels_the_chosen_doctor_on_the_patient_form(self):
        self.login(self.front_desk)
        response = self.client.get(
            reverse("admin:clinic_patient_change", args=[self.alice_patient.pk])
        )
        self.assertContains(response, f'<option value="{self.dr_alice.pk}" selected>')
        self.assertContains(response, doctor_label(self.dr_alice))

    def test_it_labels_the_doctors_of_the_assign_action(self):
        self.login(self.front_desk)
        response = self.client.post(
            reverse("admin:clinic_unassignedpatient_changelist"),
            {"action": "assign_primary_doctor", "_selected_action": [self.other_patient.pk]},
        )
        self.assertContains(response, "Dr. Ann Lee (Cardiology, Boston Clinic)</option>")


class RelatedModalTests(ClinicTestCase):
    def test_it_opens_related_forms_in_a_modal_the_page_may_frame(self):
        self.login(self.admin)
        response = self.client.get(
            reverse("admin:clinic_patient_change", args=[self.alice_patient.pk])
        )
        self.assertContains(response, "jazzmin/js/related-modal.js")
        self.assertContains(response, 'id="add_id_primary_doctor"')
        # Only a popup page may be framed (by our own pages); every other page, none.
        self.assertEqual(response["X-Frame-Options"], "DENY")
        # Browsers obey CSP frame-ancestors over X-Frame-Options: both must say the same.
        self.assertIn("frame-ancestors 'none'", response["Content-Security-Policy"])
        popup = self.client.get(f"{reverse('admin:clinic_doctor_add')}?_to_field=id&_popup=1")
        self.assertEqual(popup.status_code, 200)
        self.assertEqual(popup["X-Frame-Options"], "SAMEORIGIN")
        self.assertIn("frame-ancestors 'self'", popup["Content-Security-Policy"])
        self.assertNotIn("frame-ancestors 'none'", popup["Content-Security-Policy"])
        # The popup page in the modal's narrow frame: AdminLTE's phone overlay is hidden.
        with open(finders.find("admin_ext/backoffice.css"), encoding="utf-8") as css:
            self.assertRegex(css.read(), r"body\.popup \.sidebar-overlay \{\s*display: none")

    def test_it_saves_a_doctor_added_from_the_modal_through_the_service(self):
        self.login(self.admin)
        response = self.client.post(
            f"{reverse('admin:clinic_doctor_add')}?_to_field=id&_popup=1",
            {
                "_popup": "1",
                "_to_field": "id",
                "first_name": "Nia",
                "last_name": "Moss",
                "external_id": "modal-1",
                "active": "on",
                "change_reason": "Added from the patient form",
                "patients-TOTAL_FORMS": "0",
                "patients-INITIAL_FORMS": "0",
                "patients-MIN_NUM_FORMS": "0",
                "patients-MAX_NUM_FORMS": "0",
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["X-Frame-Options"], "SAMEORIGIN")
        self.assertContains(response, "admin/js/popup_response.js")
        doctor = Doctor.objects.get(external_id="modal-1")
        record = doctor.history.get()
        self.assertEqual(record.history_user, self.admin)
        self.assertEqual(record.history_change_reason, "Added from the patient form")
        self.assertContains(response, f"&quot;value&quot;: &quot;{doctor.pk}&quot;")
