"""Each Synthea column version reads unmodified; Synthea's value quirks are repaired."""

import tablib
from django.test import SimpleTestCase

from admin_ext.testing import ClinicTestCase
from clinic.models import Doctor, Organization, Patient
from clinic.resources import (
    SyntheaOrganizationResource,
    SyntheaPatientResource,
    SyntheaProviderResource,
    normalize_phone,
    normalize_zip,
)
from clinic.tests.importing import csv_text

# Header lines as given in ../shared/data/synthea/<set>/SOURCE.md.
PATIENTS_2021 = "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE"
PATIENTS_2023 = "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME"
PATIENTS_2025 = "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME"
PROVIDERS_2021 = "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,UTILIZATION"
PROVIDERS_2023 = (
    "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,ENCOUNTERS,PROCEDURES"
)
ORGANIZATIONS = "Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION"

PATIENT_VALUES = {
    "Id": "pat-1",
    "BIRTHDATE": "1971-03-04",
    "DEATHDATE": "",
    "SSN": "999-12-3456",
    "DRIVERS": "S99999999",
    "PREFIX": "Mr.",
    "FIRST": "José Luis472",
    "MIDDLE": "Emilio417",
    "LAST": "Quiñónez764",
    "SUFFIX": "MD",
    "MAIDEN": "",
    "MARITAL": "M",
    "RACE": "white",
    "ETHNICITY": "hispanic",
    "GENDER": "M",
    "BIRTHPLACE": "Boston  Massachusetts  US",
    "ADDRESS": "1 Main St",
    "CITY": "Boston",
    "STATE": "Massachusetts",
    "COUNTY": "Suffolk County",
    "FIPS": "25025",
    "ZIP": "2128",
    "LAT": "42.3",
    "LON": "-71.0",
    "HEALTHCARE_EXPENSES": "27461.280000000002",
    "INCOME": "51000",
}


def dataset(header_line, values):
    header = header_line.split(",")
    return tablib.import_set(csv_text(header, [[values.get(h, "") for h in header]]), format="csv")


class SyntheaFormatTests(ClinicTestCase):
    def run_import(self, resource_class, data):
        result = resource_class().import_data(data, dry_run=False, file_name="x.csv")
        self.assertEqual([str(p) for p in result.problems], [])
        return result

    def test_it_reads_every_patients_header_version(self):
        for header in (PATIENTS_2021, PATIENTS_2023, PATIENTS_2025):
            with self.subTest(columns=len(header.split(","))):
                Patient.objects.filter(external_id="pat-1").delete()
                self.run_import(SyntheaPatientResource, dataset(header, PATIENT_VALUES))
                patient = Patient.objects.get(external_id="pat-1")
                self.assertEqual(
                    (patient.first_name, patient.last_name, patient.suffix, patient.zip),
                    ("José Luis472", "Quiñónez764", "MD", "02128"),
                )
                self.assertEqual(patient.middle_name, "Emilio417" if "MIDDLE" in header else "")

    def test_it_reads_every_providers_header_version(self):
        Organization.objects.create(external_id="org-1", name="PCP1")
        values = {
            "Id": "prov-1",
            "ORGANIZATION": "org-1",
            "NAME": "María del Carmen27 Garza151",
            "GENDER": "F",
            "SPECIALITY": "GENERAL PRACTICE",
            "ZIP": "693391143",
            "UTILIZATION": "12",
            "ENCOUNTERS": "3",
        }
        for header in (PROVIDERS_2021, PROVIDERS_2023):
            with self.subTest(header=header[-20:]):
                Doctor.objects.filter(external_id="prov-1").delete()
                self.run_import(SyntheaProviderResource, dataset(header, values))
                doctor = Doctor.objects.get(external_id="prov-1")
                self.assertEqual(
                    (doctor.first_name, doctor.last_name, doctor.specialty, doctor.zip),
                    ("María del Carmen27", "Garza151", "GENERAL PRACTICE", "69339-1143"),
                )
                self.assertEqual(doctor.organization.external_id, "org-1")

    def test_it_reads_organizations(self):
        values = {
            "Id": "org-9",
            "NAME": "HARMONY HEALTH AND WELLNESS  LLC",
            "ZIP": "020722571",
            "PHONE": "978-342-9781 Or 978-342-9781",
            "REVENUE": "0.0",
        }

        self.run_import(SyntheaOrganizationResource, dataset(ORGANIZATIONS, values))

        org = Organization.objects.get(external_id="org-9")
        self.assertEqual(
            (org.name, org.zip, org.phone),
            ("HARMONY HEALTH AND WELLNESS  LLC", "02072-2571", "978-342-9781"),
        )

    def test_it_accepts_headers_in_any_case_and_order(self):
        header = "zip,gender,last,first,birthdate,id"
        values = {
            "zip": "02145",
            "gender": "F",
            "last": "Lee1",
            "first": "Ann2",
            "birthdate": "2000-01-01",
            "id": "pat-9",
        }

        self.run_import(SyntheaPatientResource, dataset(header, values))

        self.assertEqual(Patient.objects.get(external_id="pat-9").last_name, "Lee1")

    def test_it_refuses_a_provider_name_of_one_word(self):
        Organization.objects.create(external_id="org-1", name="PCP1")
        values = {"Id": "prov-2", "ORGANIZATION": "org-1", "NAME": "Cher", "GENDER": "F"}

        result = SyntheaProviderResource().import_data(
            dataset(PROVIDERS_2021, values), dry_run=False
        )

        self.assertEqual(
            [str(p) for p in result.problems],
            ['Row 2, column NAME: "Cher" is not a first and a last name separated by a space'],
        )
        self.assertFalse(Doctor.objects.filter(external_id="prov-2").exists())


class SyntheaValueTests(SimpleTestCase):
    def test_it_normalizes_zip_codes(self):
        cases = {
            "02145": "02145",
            "2128": "02128",
            "693391143": "69339-1143",
            "020722571": "02072-2571",
            "20722571": "02072-2571",
            "41017-3418": "41017-3418",
            "00000": "",
            "": "",
            " 12345 ": "12345",
        }
        for raw, expected in cases.items():
            with self.subTest(raw=raw):
                self.assertEqual(normalize_zip(raw), expected)

    def test_it_trims_phone_numbers(self):
        cases = {
            "8595723100": "8595723100",
            "859-431-3624": "859-431-3624",
            "(781)  848-3100 ": "(781) 848-3100",
            "978-342-9781 Or 978-342-9781": "978-342-9781",
            "978-342-9781 or 978-342-0000": "978-342-9781 or 978-342-0000",
        }
        for raw, expected in cases.items():
            with self.subTest(raw=raw):
                self.assertEqual(normalize_phone(raw), expected)
