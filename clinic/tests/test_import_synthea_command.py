"""python manage.py import_synthea DIR."""

import io
import tempfile
from pathlib import Path
from unittest import mock

from django.core.management import CommandError, call_command

from admin_ext.imports.models import ImportJob
from admin_ext.imports.resources import ImportProblem
from admin_ext.testing import ClinicTestCase
from clinic.models import Doctor, Organization, Patient
from clinic.synthea import FolderResult
from clinic.tests.factories import PatientFactory
from clinic.tests.importing import csv_text, write_csv

ORG_HEADER = "Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION".split(",")
PROVIDER_HEADER = "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,ENCOUNTERS,PROCEDURES".split(
    ","
)
PATIENT_HEADER = "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME".split(
    ","
)
ENCOUNTER_HEADER = "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION".split(
    ","
)


def row(header, **values):
    return [values.get(h, "") for h in header]


def patient(pid, first, birth="1980-01-01"):
    return row(
        PATIENT_HEADER,
        Id=pid,
        BIRTHDATE=birth,
        SSN="999-11-2222",
        FIRST=first,
        LAST="Lee1",
        GENDER="F",
        ZIP="00000",
    )


def encounter(start, patient_id, provider_id):
    return row(
        ENCOUNTER_HEADER,
        Id="e",
        START=start,
        STOP=start,
        PATIENT=patient_id,
        ORGANIZATION="org-1",
        PROVIDER=provider_id,
    )


def folder(**files) -> dict[str, str]:
    """A small Synthea folder as ``{file name: CSV text}``: one organization, two
    providers, two patients and five encounters (pat-1's primary doctor is prov-a,
    pat-2's prov-b: a tie going to the latest). Keyword arguments replace a file's
    rows (``patients=[...]``) or drop it (``encounters=None``)."""
    rows = {
        "organizations.csv": (
            ORG_HEADER,
            [row(ORG_HEADER, Id="org-1", NAME="PCP1", ZIP="021182571")],
        ),
        "providers.csv": (
            PROVIDER_HEADER,
            [
                row(
                    PROVIDER_HEADER,
                    Id="prov-a",
                    ORGANIZATION="org-1",
                    NAME="Ann1 Able2",
                    GENDER="F",
                ),
                row(
                    PROVIDER_HEADER,
                    Id="prov-b",
                    ORGANIZATION="org-1",
                    NAME="Ben3 Baker4",
                    GENDER="M",
                ),
            ],
        ),
        "patients.csv": (PATIENT_HEADER, [patient("pat-1", "Cy5"), patient("pat-2", "Di6")]),
        "encounters.csv": (
            ENCOUNTER_HEADER,
            [
                encounter("2020-01-01T10:00:00Z", "pat-1", "prov-a"),
                encounter("2021-01-01T10:00:00Z", "pat-1", "prov-a"),
                encounter("2022-01-01T10:00:00Z", "pat-1", "prov-b"),
                encounter("2020-01-01T10:00:00Z", "pat-2", "prov-a"),
                encounter("2023-01-01T10:00:00Z", "pat-2", "prov-b"),
            ],
        ),
    }
    for key, value in files.items():
        name = f"{key}.csv"
        if value is None:
            rows.pop(name)
        else:
            rows[name] = (rows[name][0], value)
    return {name: csv_text(header, body) for name, (header, body) in rows.items()}


class ImportSyntheaCommandTests(ClinicTestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.folder = Path(self.tmp.name)
        for name, text in folder().items():
            (self.folder / name).write_text(text, encoding="utf-8")

    def run_command(self, *args):
        out = io.StringIO()
        call_command("import_synthea", str(self.folder), *args, stdout=out)
        return out.getvalue()

    def test_it_imports_the_folder_and_assigns_primary_doctors(self):
        output = self.run_command()

        self.assertEqual(Organization.objects.get(external_id="org-1").zip, "02118-2571")
        self.assertEqual(Doctor.objects.get(external_id="prov-b").organization.external_id, "org-1")
        primary = dict(
            Patient.objects.filter(external_id__startswith="pat-").values_list(
                "external_id", "primary_doctor__external_id"
            )
        )
        self.assertEqual(primary, {"pat-1": "prov-a", "pat-2": "prov-b"})
        self.assertIn("providers.csv: 2 created, 0 updated, 0 unchanged, 0 invalid", output)
        self.assertIn("patients.csv: 2 created, 0 updated, 0 unchanged, 0 invalid", output)
        self.assertIn("primary doctors: 2 assigned", output)

    def test_it_shows_progress(self):
        output = self.run_command("--progress-every", "1")

        self.assertIn("patients.csv: 1 rows read", output)
        self.assertIn("patients.csv: 2 rows read", output)

    def test_it_changes_nothing_on_a_second_run(self):
        self.run_command()
        history = (Organization.history.count(), Doctor.history.count(), Patient.history.count())

        output = self.run_command()

        self.assertIn("organizations.csv: 0 created, 0 updated, 1 unchanged, 0 invalid", output)
        self.assertIn("providers.csv: 0 created, 0 updated, 2 unchanged, 0 invalid", output)
        self.assertIn("patients.csv: 0 created, 0 updated, 2 unchanged, 0 invalid", output)
        self.assertIn("primary doctors: 0 assigned, 2 unchanged", output)
        self.assertEqual(
            (Organization.history.count(), Doctor.history.count(), Patient.history.count()), history
        )

    def test_it_attributes_history_to_the_actor_with_a_reason(self):
        self.run_command("--actor", self.steward.email)

        created = Patient.objects.get(external_id="pat-1").history.earliest()
        self.assertEqual(
            (created.history_user, created.history_change_reason),
            (self.steward, f"Import #{ImportJob.objects.get().pk}"),
        )
        assigned = Patient.objects.get(external_id="pat-1").history.latest()
        self.assertEqual(assigned.history_user, self.steward)
        self.assertEqual(assigned.history_change_reason, f"Import #{ImportJob.objects.get().pk}")
        self.assertEqual(assigned.primary_doctor.external_id, "prov-a")

    def test_it_writes_nothing_and_lists_the_errors_when_a_row_is_invalid(self):
        write_csv(
            self.folder / "patients.csv",
            PATIENT_HEADER,
            [patient("pat-1", "Cy5"), patient("pat-2", "Di6", birth="1990-13-01")],
        )

        with self.assertRaises(CommandError) as caught:
            self.run_command()

        self.assertIn(
            'patients.csv, row 3, column BIRTHDATE: "1990-13-01" is not a valid date (YYYY-MM-DD)',
            str(caught.exception),
        )
        self.assertFalse(Organization.objects.filter(external_id="org-1").exists())
        self.assertFalse(Patient.objects.filter(external_id="pat-1").exists())

    def test_it_reports_an_encounter_with_an_unknown_provider(self):
        write_csv(
            self.folder / "encounters.csv",
            ENCOUNTER_HEADER,
            [
                encounter("2020-01-01T10:00:00Z", "pat-1", "prov-a"),
                encounter("2020-01-01T10:00:00Z", "pat-2", "prov-x"),
                encounter("2021-01-01T10:00:00Z", "pat-2", "prov-x"),
            ],
        )

        with self.assertRaises(CommandError) as caught:
            self.run_command()

        self.assertIn(
            'encounters.csv, row 3, column PROVIDER: "prov-x" is not a known doctor',
            str(caught.exception),
        )
        self.assertFalse(Patient.objects.filter(external_id="pat-1").exists())

    def test_it_imports_whichever_files_are_present(self):
        (self.folder / "organizations.csv").unlink()
        (self.folder / "providers.csv").unlink()
        (self.folder / "encounters.csv").unlink()

        output = self.run_command()

        self.assertNotIn("providers.csv", output)
        self.assertEqual(Patient.objects.filter(external_id__startswith="pat-").count(), 2)

    def test_it_refuses_a_missing_folder(self):
        with self.assertRaisesMessage(CommandError, "is not a folder"):
            call_command("import_synthea", str(self.folder / "nowhere"), stdout=io.StringIO())

    def test_it_refuses_a_folder_without_synthea_files(self):
        with (
            tempfile.TemporaryDirectory() as empty,
            self.assertRaisesMessage(CommandError, "holds none of"),
        ):
            call_command("import_synthea", empty, stdout=io.StringIO())

    def test_it_refuses_an_unknown_actor(self):
        with self.assertRaisesMessage(CommandError, "No user with email nobody@example.com"):
            self.run_command("--actor", "nobody@example.com")

    def test_it_refuses_an_encounters_file_without_its_columns_and_records_the_failure(self):
        write_csv(self.folder / "encounters.csv", ["Id", "START"], [["e", "2020-01-01"]])

        with self.assertRaises(CommandError) as caught:
            self.run_command()

        self.assertIn("encounters.csv has no column PATIENT, PROVIDER", str(caught.exception))
        self.assertFalse(Patient.objects.filter(external_id="pat-1").exists())
        job = ImportJob.objects.get()
        self.assertEqual(job.status, ImportJob.Status.FAILED)
        self.assertIn("encounters.csv has no column", job.message)

    def test_an_unexpected_error_marks_the_job_failed_not_running(self):
        with mock.patch(
            "clinic.management.commands.import_synthea.import_folder",
            side_effect=RuntimeError("disk on fire, patient Cy Lee"),
        ):
            with self.assertRaises(RuntimeError):
                self.run_command()

        job = ImportJob.objects.get()
        self.assertEqual(job.status, ImportJob.Status.FAILED)
        self.assertIsNotNone(job.finished_at)
        self.assertIn("unexpected error (RuntimeError)", job.message)
        self.assertNotIn("Cy Lee", job.message)  # an error's text may quote patient data

    def test_it_creates_likely_duplicates_only_when_confirmed(self):
        registered = PatientFactory(
            first_name="Cy5", last_name="Lee1", birth_date="1980-01-01", ssn="999-11-2222"
        )

        with self.assertRaises(CommandError) as caught:
            self.run_command()
        self.assertIn(
            f"looks like a patient already registered: MRN {registered.mrn}", str(caught.exception)
        )
        self.assertFalse(Patient.objects.filter(external_id="pat-1").exists())

        self.run_command("--confirm-duplicates")

        created = Patient.objects.get(external_id="pat-1").history.earliest()
        self.assertEqual(
            created.history_change_reason,
            f"{ImportJob.objects.latest('pk').reason} (confirmed not a duplicate of MRN {registered.mrn})",
        )

    def test_a_run_that_lost_a_race_says_so_and_records_a_conflict(self):
        lost = FolderResult(conflict=True, problem_count=1)
        lost.problems = [ImportProblem(None, "", None, "saved at the same time")]

        with (
            mock.patch(
                "clinic.management.commands.import_synthea.import_folder", return_value=lost
            ),
            self.assertRaises(CommandError) as caught,
        ):
            self.run_command()

        self.assertIn("another import or user changed the same records", str(caught.exception))
        self.assertNotIn("invalid rows", str(caught.exception))
        self.assertEqual(ImportJob.objects.get().status, ImportJob.Status.CONFLICT)
