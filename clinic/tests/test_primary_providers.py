"""clinic.synthea.primary_providers: most encounters, ties to the latest."""

import tempfile
from pathlib import Path

from django.test import SimpleTestCase

from clinic.synthea import primary_providers
from clinic.tests.importing import write_csv

HEADER = ["Id", "START", "STOP", "PATIENT", "ORGANIZATION", "PROVIDER", "PAYER", "ENCOUNTERCLASS"]


def encounter(start, patient, provider):
    return ["e", start, start, patient, "org", provider, "payer", "wellness"]


class PrimaryProvidersTests(SimpleTestCase):
    def choose(self, rows):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "encounters.csv"
            write_csv(path, HEADER, rows)
            return primary_providers(path)

    def test_it_picks_the_provider_of_most_encounters(self):
        found = self.choose(
            [
                encounter("2020-01-01T10:00:00Z", "p1", "a"),
                encounter("2021-01-01T10:00:00Z", "p1", "a"),
                encounter("2022-01-01T10:00:00Z", "p1", "b"),
            ]
        )

        self.assertEqual(found.by_patient, {"p1": "a"})

    def test_it_gives_a_tie_to_the_provider_seen_latest(self):
        found = self.choose(
            [
                encounter("2022-06-01T10:00:00Z", "p1", "b"),
                encounter("2020-01-01T10:00:00Z", "p1", "a"),
                encounter("2023-01-01T09:00:00Z", "p1", "a"),
                encounter("2019-01-01T10:00:00Z", "p1", "b"),
                encounter("2015-01-01T10:00:00Z", "p2", "b"),
                encounter("2016-01-01T10:00:00Z", "p2", "a"),
            ]
        )

        self.assertEqual(found.by_patient, {"p1": "a", "p2": "a"})

    def test_it_compares_start_as_time_not_as_text_order_of_rows(self):
        found = self.choose(
            [
                encounter("2023-01-01T23:59:59Z", "p1", "late"),
                encounter("2023-01-01T08:00:00Z", "p1", "early"),
            ]
        )

        self.assertEqual(found.by_patient["p1"], "late")

    def test_it_reports_an_unreadable_start_with_its_row(self):
        found = self.choose(
            [encounter("2020-01-01T10:00:00Z", "p1", "a"), encounter("yesterday", "p1", "b")]
        )

        self.assertEqual(
            [str(p) for p in found.problems],
            [
                'encounters.csv, row 3, column START: "yesterday" is not a valid time (YYYY-MM-DDTHH:MM:SSZ)'
            ],
        )
        self.assertEqual(found.rows, 2)
