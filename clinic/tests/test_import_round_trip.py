"""The native CSV round trip: what export writes, import reads back unchanged."""

import datetime

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Doctor, Organization, Patient
from clinic.resources import DoctorResource, OrganizationResource, PatientResource
from clinic.tests.exporting import content
from clinic.tests.factories import OrganizationFactory
from clinic.tests.importing import CSV_FORMAT, confirm, preview


def export(client, model_name, resource_class):
    data = {"format": CSV_FORMAT, "resource": 0}
    for name in resource_class().get_export_order():
        data[f"{resource_class.__name__.lower()}_{name}"] = "on"
    response = client.post(reverse(f"admin:clinic_{model_name}_export"), data)
    assert response.status_code == 200, response.status_code
    return content(response)


class ImportRoundTripTests(ClinicTestCase):
    def round_trip(self, user, model_name, resource_class, model):
        self.login(user)
        content = export(self.client, model_name, resource_class)
        history_before = model.history.count()
        upload = SimpleUploadedFile(f"{model_name}s.csv", content, content_type="text/csv")

        response = preview(self.client, model_name, upload)
        confirm(self.client, model_name, response)

        counts = response.context["result"].counts
        self.assertEqual(
            counts, {"new": 0, "changed": 0, "unchanged": model.objects.count(), "invalid": 0}
        )
        self.assertEqual(model.history.count(), history_before)

    def test_it_reads_back_exported_patients_unchanged(self):
        patient = self.other_patient
        patient.middle_name, patient.zip, patient.county = "Q", "02145", "Suffolk County"
        patient.death_date, patient.status = datetime.date(2020, 1, 2), Patient.Status.DECEASED
        services.patient_save(patient=patient, actor=self.admin, reason="test")
        self.round_trip(self.admin, "patient", PatientResource, Patient)

    def test_it_keeps_the_stored_ssn_when_a_masked_export_is_read_back(self):
        self.round_trip(self.steward, "patient", PatientResource, Patient)

        self.alice_patient.refresh_from_db()
        self.assertRegex(self.alice_patient.ssn, r"^999-00-\d{4}$")

    def test_it_reads_back_exported_doctors_unchanged(self):
        doctor = self.dr_bob
        doctor.active, doctor.email, doctor.zip = False, "bob@example.com", "02145-1234"
        services.doctor_save(doctor=doctor, actor=self.admin, reason="test")
        self.round_trip(self.steward, "doctor", DoctorResource, Doctor)

    def test_it_reads_back_exported_organizations_unchanged(self):
        OrganizationFactory(
            name="Harmony Health and Wellness  LLC", phone="(781) 848-3100", zip="02128"
        )
        self.round_trip(self.steward, "organization", OrganizationResource, Organization)

    def test_it_ignores_an_edited_mrn(self):
        self.login(self.admin)
        content = export(self.client, "patient", PatientResource).decode()
        content = content.replace(self.alice_patient.mrn, "12345678")

        upload = SimpleUploadedFile("patients.csv", content.encode(), content_type="text/csv")
        confirm(self.client, "patient", preview(self.client, "patient", upload))

        self.assertEqual(Patient.objects.get(pk=self.alice_patient.pk).mrn, self.alice_patient.mrn)

    def test_it_reads_back_cells_that_export_escaped_as_formulas(self):
        site = OrganizationFactory(name="=HYPERLINK(1)", phone="+1 617 555 0100")
        self.login(self.steward)
        content = export(self.client, "organization", OrganizationResource)
        self.assertIn(b"'+1 617 555 0100", content)

        self.round_trip(self.steward, "organization", OrganizationResource, Organization)

        site.refresh_from_db()
        self.assertEqual((site.name, site.phone), ("=HYPERLINK(1)", "+1 617 555 0100"))


class XlsxRoundTripTests(ClinicTestCase):
    """The same round trip through an Excel workbook (IMPORT_EXPORT_FORMATS[1])."""

    XLSX_FORMAT = 1  # export offers CSV and XLSX

    def test_it_reads_back_an_exported_workbook_unchanged(self):
        self.login(self.admin)
        data = {"format": self.XLSX_FORMAT, "resource": 0}
        for name in PatientResource().get_export_order():
            data[f"patientresource_{name}"] = "on"
        exported = self.client.post(reverse("admin:clinic_patient_export"), data)
        self.assertEqual(exported.status_code, 200)
        self.assertTrue(exported.content.startswith(b"PK"))  # a zip container: .xlsx
        history_before = Patient.history.count()

        upload = SimpleUploadedFile("patients.xlsx", exported.content)
        response = self.client.post(
            reverse("admin:clinic_patient_import"),
            {"resource": 0, "format": 0, "import_file": upload},  # import: one format, by content
        )
        confirm(self.client, "patient", response)

        self.assertEqual(
            response.context["result"].counts,
            {"new": 0, "changed": 0, "unchanged": Patient.objects.count(), "invalid": 0},
        )
        self.assertEqual(Patient.history.count(), history_before)
