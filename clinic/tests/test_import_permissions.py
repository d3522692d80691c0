"""Import needs import_<model> plus model-wide add and change; the library's default does not."""

from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic.models import Patient
from clinic.tests.importing import preview, upload

IMPORT_URL = "admin:clinic_patient_import"


class ImportPermissionTests(ClinicTestCase):
    def test_it_refuses_the_import_page_to_the_front_desk(self):
        self.login(self.front_desk)

        self.assertEqual(self.client.get(reverse(IMPORT_URL)).status_code, 403)
        changelist = self.client.get(reverse("admin:clinic_patient_changelist"))
        self.assertNotContains(changelist, reverse(IMPORT_URL))

    def test_it_refuses_an_upload_from_the_front_desk_and_writes_nothing(self):
        self.login(self.front_desk)
        rows = [["fd-1", "Fay", "Desk", "1990-01-02", "F"]]

        response = preview(
            self.client,
            "patient",
            upload(
                "p.csv", ["external_id", "first_name", "last_name", "birth_date", "gender"], rows
            ),
        )

        self.assertEqual(response.status_code, 403)
        self.assertFalse(Patient.objects.filter(external_id="fd-1").exists())

    def test_it_refuses_the_confirm_step_without_import_permission(self):
        self.login(self.auditor)

        response = self.client.post(reverse("admin:clinic_patient_process_import"), {})

        self.assertEqual(response.status_code, 403)

    def test_it_refuses_a_doctor_with_object_permissions_only(self):
        self.login(self.alice)

        self.assertEqual(self.client.get(reverse(IMPORT_URL)).status_code, 403)

    def test_it_offers_the_import_page_to_a_data_steward(self):
        self.login(self.steward)

        self.assertEqual(self.client.get(reverse(IMPORT_URL)).status_code, 200)
        changelist = self.client.get(reverse("admin:clinic_patient_changelist"))
        self.assertContains(changelist, reverse(IMPORT_URL))
