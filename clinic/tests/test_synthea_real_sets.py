"""import_synthea on every real Synthea set under ../shared/data/synthea (read in place)."""

import csv
import io
import unittest

from django.conf import settings
from django.core.management import call_command
from django.test import TestCase

from clinic.models import Doctor, Organization, Patient

SETS_DIR = settings.BASE_DIR.parent / "shared" / "data" / "synthea"
SETS = sorted(p for p in SETS_DIR.iterdir() if p.is_dir()) if SETS_DIR.is_dir() else []


def data_rows(path):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def patients_with_encounters(path):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return {row["PATIENT"] for row in csv.DictReader(handle) if row["PROVIDER"]}


@unittest.skipUnless(SETS, f"no Synthea sets at {SETS_DIR} (the shared data folder is absent)")
class SyntheaRealSetsTests(TestCase):
    def test_it_imports_every_set_with_counts_equal_to_the_files(self):
        for folder in SETS:
            with self.subTest(set=folder.name):
                Patient.objects.all().delete()
                Doctor.objects.all().delete()
                Organization.objects.all().delete()

                call_command("import_synthea", str(folder), stdout=io.StringIO())

                self.assertEqual(
                    Organization.objects.count(), data_rows(folder / "organizations.csv")
                )
                self.assertEqual(Doctor.objects.count(), data_rows(folder / "providers.csv"))
                self.assertEqual(Patient.objects.count(), data_rows(folder / "patients.csv"))
                with_encounters = patients_with_encounters(folder / "encounters.csv")
                assigned = set(
                    Patient.objects.filter(primary_doctor__isnull=False).values_list(
                        "external_id", flat=True
                    )
                )
                self.assertEqual(assigned, with_encounters)

                out = io.StringIO()
                call_command("import_synthea", str(folder), stdout=out)
                for line in out.getvalue().splitlines():
                    if " created, " in line:
                        self.assertRegex(line, r": 0 created, 0 updated, \d+ unchanged, 0 invalid$")
                self.assertIn("primary doctors: 0 assigned", out.getvalue())
