"""Importing the same file twice changes nothing the second time."""

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Doctor, Organization, Patient
from clinic.tests.importing import SYNTHEA, confirm, preview, upload

ORG_HEADER = [
    "Id",
    "NAME",
    "ADDRESS",
    "CITY",
    "STATE",
    "ZIP",
    "LAT",
    "LON",
    "PHONE",
    "REVENUE",
    "UTILIZATION",
]
ORGS = [
    [
        "org-1",
        "PCP1",
        "1 MAIN ST",
        "BOSTON",
        "MA",
        "021182571",
        "42.3",
        "-71.0",
        "(781) 848-3100",
        "0.0",
        "3",
    ],
    [
        "org-2",
        "PCP2",
        "2 MAIN ST",
        "QUINCY",
        "MA",
        "00000",
        "42.2",
        "-71.0",
        "978-342-9781 Or 978-342-9781",
        "0.0",
        "1",
    ],
]
PATIENT_HEADER = ["Id", "BIRTHDATE", "DEATHDATE", "SSN", "FIRST", "MIDDLE", "LAST", "GENDER", "ZIP"]
PATIENTS = [
    ["p-1", "1971-03-04", "", "999-12-3456", "José Luis472", "", "Quiñónez764", "M", "02145"],
    ["p-2", "1980-01-01", "2020-02-02", "999-65-4321", "Ann123", "Bea45", "O'Keefe54", "F", ""],
]


class ImportIdempotentTests(ClinicTestCase):
    def setUp(self):
        self.login(self.steward)

    def import_twice(self, model_name, name, header, rows):
        confirm(
            self.client,
            model_name,
            preview(self.client, model_name, upload(name, header, rows), SYNTHEA),
        )
        return preview(self.client, model_name, upload(name, header, rows), SYNTHEA)

    def test_it_reports_every_row_unchanged_on_the_second_import(self):
        response = self.import_twice("patient", "patients.csv", PATIENT_HEADER, PATIENTS)

        self.assertEqual(
            response.context["result"].counts,
            {"new": 0, "changed": 0, "unchanged": 2, "invalid": 0},
        )

    def test_it_writes_no_history_rows_on_the_second_import(self):
        response = self.import_twice("organization", "organizations.csv", ORG_HEADER, ORGS)
        history_before = Organization.history.count()

        confirm(self.client, "organization", response)

        self.assertEqual(Organization.history.count(), history_before)
        self.assertEqual(Organization.objects.filter(external_id__startswith="org-").count(), 2)

    def test_it_matches_existing_rows_on_external_id(self):
        self.import_twice("patient", "patients.csv", PATIENT_HEADER, PATIENTS)
        changed = [PATIENTS[0], [*PATIENTS[1][:4], "Ann124", *PATIENTS[1][5:]]]

        response = preview(
            self.client, "patient", upload("patients.csv", PATIENT_HEADER, changed), SYNTHEA
        )
        confirm(self.client, "patient", response)

        self.assertEqual(response.context["result"].counts["changed"], 1)
        self.assertEqual(Patient.objects.filter(external_id__in=["p-1", "p-2"]).count(), 2)
        self.assertEqual(Patient.objects.get(external_id="p-2").first_name, "Ann124")

    def test_it_keeps_a_doctor_edited_after_import_when_the_file_does_not_carry_the_field(self):
        self.import_twice("organization", "organizations.csv", ORG_HEADER, ORGS)
        header = [
            "Id",
            "ORGANIZATION",
            "NAME",
            "GENDER",
            "SPECIALITY",
            "ADDRESS",
            "CITY",
            "STATE",
            "ZIP",
        ]
        rows = [
            [
                "prov-1",
                "org-1",
                "María del Carmen27 Garza151",
                "F",
                "GENERAL PRACTICE",
                "1 MAIN ST",
                "BOSTON",
                "MA",
                "2128",
            ]
        ]
        confirm(
            self.client,
            "doctor",
            preview(self.client, "doctor", upload("providers.csv", header, rows), SYNTHEA),
        )
        doctor = Doctor.objects.get(external_id="prov-1")
        doctor.email = "garza@example.com"
        services.doctor_save(doctor=doctor, actor=self.steward, reason="Edited in admin")

        response = preview(self.client, "doctor", upload("providers.csv", header, rows), SYNTHEA)

        self.assertEqual(response.context["result"].counts["unchanged"], 1)
