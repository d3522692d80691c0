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

    def test_an_exact_tie_goes_to_the_greatest_provider_id_in_any_row_order(self):
        rows = [
            encounter("2020-01-01T10:00:00Z", "p1", "b"),
            encounter("2020-01-01T10:00:00Z", "p1", "c"),
            encounter("2019-01-01T10:00:00Z", "p1", "a"),
        ]

        self.assertEqual(self.choose(rows).by_patient, {"p1": "c"})
        self.assertEqual(self.choose(rows[::-1]).by_patient, {"p1": "c"})

    def test_encounters_before_1970_count_and_compare_as_times(self):
        found = self.choose(
            [
                encounter("1941-03-02T10:00:00Z", "p1", "old"),
                encounter("1939-12-31T23:59:59Z", "p1", "older"),
                encounter("1969-12-31T23:59:59Z", "p2", "a"),
                encounter("1970-01-01T00:00:00Z", "p2", "b"),
            ]
        )

        self.assertEqual(found.by_patient, {"p1": "old", "p2": "b"})

    def test_a_start_with_a_utc_offset_is_compared_in_utc(self):
        found = self.choose(
            [
                encounter("2023-01-01T12:00:00Z", "p1", "noon-utc"),
                # 13:00 in UTC+02:00 is 11:00 UTC: earlier, though its text sorts later.
                encounter("2023-01-01T13:00:00+02:00", "p1", "eleven-utc"),
            ]
        )

        self.assertEqual(found.by_patient["p1"], "noon-utc")

    def test_a_patient_seen_by_many_providers_counts_each_apart(self):
        rows = [
            encounter(f"2020-01-{day:02d}T10:00:00Z", "p1", f"d{day % 5}") for day in range(1, 29)
        ]
        rows += [encounter("2010-01-01T10:00:00Z", "p1", "d3")]

        # Days 1-28 give d1, d2 and d3 six encounters each (d0, d4 five); the 2010 one
        # makes d3's seven, though d2 was seen latest.
        self.assertEqual(self.choose(rows).by_patient, {"p1": "d3"})
