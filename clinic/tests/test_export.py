"""Export writes the native CSV, needs export_<model>, and masks SSNs without view_ssn."""

import csv
import io

from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic.resources import PatientResource
from clinic.tests.exporting import content
from clinic.tests.importing import CSV_FORMAT

EXPORT_URL = "admin:clinic_patient_export"


def export_patients(client):
    """POST the export form for the native patient CSV with every column selected."""
    data = {"format": CSV_FORMAT, "resource": 0}
    for name in PatientResource().get_export_order():
        data[f"patientresource_{name}"] = "on"
    return client.post(reverse(EXPORT_URL), data)


def rows_of(response):
    return list(csv.DictReader(io.StringIO(content(response).decode("utf-8"))))


class ExportTests(ClinicTestCase):
    def test_it_exports_patients_as_native_csv_for_a_data_steward(self):
        self.login(self.steward)

        response = export_patients(self.client)

        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/csv")
        rows = {row["external_id"]: row for row in rows_of(response)}
        self.assertEqual(
            set(rows), {self.alice_patient.external_id, self.other_patient.external_id}
        )
        alice_row = rows[self.alice_patient.external_id]
        self.assertEqual(alice_row["mrn"], self.alice_patient.mrn)
        self.assertEqual(alice_row["birth_date"], "1980-05-17")
        self.assertEqual(alice_row["primary_doctor"], self.dr_alice.external_id)

    def test_it_masks_ssns_for_users_without_view_ssn(self):
        self.login(self.steward)

        rows = rows_of(export_patients(self.client))

        ssns = {row["ssn"] for row in rows}
        self.assertEqual(
            ssns, {f"***-**-{p.ssn[-4:]}" for p in (self.alice_patient, self.other_patient)}
        )

    def test_it_shows_ssns_to_users_with_view_ssn(self):
        self.login(self.admin)

        rows = rows_of(export_patients(self.client))

        self.assertEqual(
            {row["ssn"] for row in rows}, {self.alice_patient.ssn, self.other_patient.ssn}
        )

    def test_it_refuses_export_without_the_export_permission(self):
        self.login(self.front_desk)

        self.assertEqual(self.client.get(reverse(EXPORT_URL)).status_code, 403)
        self.assertEqual(export_patients(self.client).status_code, 403)
        changelist = self.client.get(reverse("admin:clinic_patient_changelist"))
        self.assertEqual(changelist.status_code, 200)
        self.assertNotContains(changelist, reverse(EXPORT_URL))

    def test_it_shows_the_export_button_to_users_who_may_export(self):
        self.login(self.auditor)

        changelist = self.client.get(reverse("admin:clinic_patient_changelist"))

        self.assertContains(changelist, reverse(EXPORT_URL))

    def test_it_offers_only_the_native_format(self):
        self.login(self.steward)

        response = self.client.get(reverse(EXPORT_URL))

        choices = [label for _, label in response.context["form"].fields["resource"].choices]
        self.assertEqual(choices, ["Patients (native CSV)"])
