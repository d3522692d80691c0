"""The export page people can read (issue 8): columns labelled by the model's verbose
names, a "Select all" box, no empty resource chooser, CSV chosen."""

import re

from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic.resources import PatientResource


class ExportPageTests(ClinicTestCase):
    url = reverse("admin:clinic_patient_export")

    def page(self) -> str:
        self.login(self.admin)
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def column_labels(self, html) -> list[str]:
        return re.findall(
            r'<label class="form-check-label" for="id_patientresource_\w+">([^<]+)</label>', html
        )

    def test_it_labels_the_columns_by_the_models_verbose_names(self):
        labels = self.column_labels(self.page())
        self.assertEqual(len(labels), len(PatientResource().get_export_order()))
        for expected in ("MRN", "SSN", "First name", "Birth date", "ZIP", "Primary doctor"):
            self.assertIn(expected, labels)
        for raw in ("Mrn", "Ssn", "Zip", "First Name"):
            self.assertNotIn(raw, labels)

    def test_it_offers_select_all_with_import_exports_script(self):
        html = self.page()
        self.assertRegex(
            html,
            r'<input type="checkbox" class="form-check-input select-toggle" id="export-select-all"'
            r"[^>]*checked>",
        )
        self.assertIn('<label class="form-check-label fw-semibold" for="export-select-all">', html)
        # Bound by a script file: the Content-Security-Policy refuses onchange="".
        self.assertNotIn("onchange=", html)
        library = html.index("/static/import_export/export_selectable_fields.js")
        self.assertGreater(html.index("/static/admin_ext/js/export_select_all.js"), library)
        # The script ticks the boxes inside these rows.
        rows = html.count('class="form-check selectable-field-export-row"')
        self.assertEqual(rows, len(self.column_labels(html)))

    def test_it_hides_the_resource_chooser_when_there_is_one_resource(self):
        html = self.page()
        self.assertNotIn('for="id_resource"', html)
        self.assertNotIn("Resource:", html)
        self.assertRegex(html, r'<input type="hidden" name="resource" value="0" id="id_resource">')

    def test_it_starts_on_csv_and_names_the_page(self):
        html = self.page()
        self.assertRegex(html, r'<option value="0" selected>csv</option>')
        self.assertIn('<h3 class="mb-0">Export patients</h3>', html)

    def test_it_exports_the_columns_ticked(self):
        self.login(self.admin)
        response = self.client.post(
            self.url,
            {
                "resource": "0",
                "format": "0",
                "patientresource_mrn": "on",
                "patientresource_last_name": "on",
            },
        )
        self.assertEqual(response.status_code, 200)
        body = b"".join(response.streaming_content).decode()
        self.assertEqual(body.splitlines()[0], "mrn,last_name")
