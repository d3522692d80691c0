"""``python manage.py import_synthea DIR``: import a Synthea CSV output folder.

Reads ``organizations.csv``, ``providers.csv`` and ``patients.csv`` (each optional,
in that order) through the same Resources and services as the admin import, then
assigns primary doctors from ``encounters.csv`` when present
(``clinic.synthea.primary_providers``). One transaction for the whole folder:
if any row of any file is invalid, nothing is written and the command fails
listing every problem (file, row, column, value).
"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from import_export.formats.base_formats import CSV

from admin_ext.imports.resources import ImportProblem, rows_by_key
from clinic import services
from clinic.models import Doctor, Patient
from clinic.resources import (
    SyntheaOrganizationResource,
    SyntheaPatientResource,
    SyntheaProviderResource,
)
from clinic.synthea import ENCOUNTERS_FILE, primary_providers

FILES = [
    ("organizations.csv", SyntheaOrganizationResource),
    ("providers.csv", SyntheaProviderResource),
    ("patients.csv", SyntheaPatientResource),
]
#: How many problems the error message lists before "... and N more".
MAX_LISTED = 50


class _Invalid(Exception):
    """Raised inside the transaction to roll it back; carries the problems."""

    def __init__(self, problems):
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


class Command(BaseCommand):
    help = (
        "Import a Synthea CSV output folder (organizations.csv, providers.csv, patients.csv, "
        "then primary doctors from encounters.csv). All or nothing: any invalid row aborts "
        "the whole import. Re-running it on the same folder changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "directory",
            help="Folder holding Synthea's CSV files (at least one of organizations.csv, "
            "providers.csv, patients.csv, encounters.csv).",
        )
        parser.add_argument(
            "--actor",
            metavar="EMAIL",
            default=None,
            help="Email of the user the history rows are attributed to (default: none, "
            "i.e. the system).",
        )
        parser.add_argument(
            "--progress-every",
            type=int,
            default=500,
            metavar="N",
            help="Print progress every N rows of each file (default: 500).",
        )

    def handle(self, *args, directory, actor=None, progress_every=500, **options):
        folder = Path(directory)
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        present = [(name, cls) for name, cls in FILES if (folder / name).is_file()]
        has_encounters = (folder / ENCOUNTERS_FILE).is_file()
        if not present and not has_encounters:
            raise CommandError(
                f"{folder} holds none of {', '.join([n for n, _ in FILES] + [ENCOUNTERS_FILE])}."
            )
        user = self._actor(actor)
        self.progress_every = max(1, progress_every)

        try:
            with transaction.atomic():
                for name, resource_class in present:
                    self._import_file(folder / name, resource_class, user)
                if has_encounters:
                    self._assign_primary_doctors(folder / ENCOUNTERS_FILE, user)
        except _Invalid as invalid:
            lines = [str(p) for p in invalid.problems[:MAX_LISTED]]
            if len(invalid.problems) > MAX_LISTED:
                lines.append(f"... and {len(invalid.problems) - MAX_LISTED} more")
            raise CommandError(
                "Nothing was imported: the folder has invalid rows.\n" + "\n".join(lines)
            ) from None
        self.stdout.write(self.style.SUCCESS(f"Imported {folder}."))

    def _actor(self, email):
        if not email:
            return None
        try:
            return get_user_model()._default_manager.get(email__iexact=email)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user with email {email}.") from None

    def _import_file(self, path, resource_class, user):
        name = path.name
        self.stdout.write(f"{name}: reading")
        try:
            text = path.read_text(encoding="utf-8-sig")
            dataset = CSV(encoding="utf-8").create_dataset(text)
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{name}: cannot read the file ({exc}).") from None
        except Exception as exc:  # tablib raises several types for malformed CSV
            raise CommandError(f"{name}: not a readable CSV file ({exc}).") from None

        def progress(done, total):
            self.stdout.write(f"{name}: {done}/{total} rows")

        resource = resource_class(user=user, progress=progress)
        resource.progress_every = self.progress_every
        try:
            result = resource.import_data(dataset, dry_run=False, file_name=name, user=user)
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        counts = result.counts
        self.stdout.write(
            f"{name}: {counts['new']} created, {counts['changed']} updated, "
            f"{counts['unchanged']} unchanged, {counts['invalid']} invalid"
        )
        if not result.is_valid():
            # Later files depend on this one (providers name organizations), so
            # checking them would only repeat this file's problems.
            raise _Invalid([_in_file(p, name) for p in result.problems])

    def _assign_primary_doctors(self, path, user):
        name = path.name
        self.stdout.write(f"{name}: reading")
        try:
            found = primary_providers(
                path,
                progress=lambda n: self.stdout.write(f"{name}: {n} rows"),
                progress_every=max(self.progress_every, 10000),
            )
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise CommandError(f"{name}: {exc}") from None
        problems = list(found.problems)
        patients = rows_by_key(Patient.objects.all(), "external_id", found.by_patient.keys())
        doctors = rows_by_key(Doctor.objects.all(), "external_id", set(found.by_patient.values()))
        assigned = unchanged = 0
        reason = f"Primary doctor from {name} (most encounters)"
        for patient_id, provider_id in found.by_patient.items():
            patient, doctor = patients.get(patient_id), doctors.get(provider_id)
            if patient is None:
                problems.append(
                    ImportProblem(None, "PATIENT", patient_id, "is not a known patient", name)
                )
                continue
            if doctor is None:
                problems.append(
                    ImportProblem(None, "PROVIDER", provider_id, "is not a known doctor", name)
                )
                continue
            if patient.primary_doctor_id == doctor.pk:
                unchanged += 1
                continue
            try:
                services.patient_assign_primary_doctor(
                    patient=patient, doctor=doctor, actor=user, reason=reason
                )
            except ValidationError as exc:
                problems.append(
                    ImportProblem(
                        None,
                        "PROVIDER",
                        provider_id,
                        f"cannot be assigned ({' '.join(exc.messages)})",
                        name,
                    )
                )
                continue
            assigned += 1
        self.stdout.write(
            f"{name}: {found.rows} encounters; primary doctors: {assigned} assigned, "
            f"{unchanged} unchanged, {len(problems)} invalid"
        )
        if problems:
            raise _Invalid(problems)


def _in_file(problem: ImportProblem, name: str) -> ImportProblem:
    return ImportProblem(problem.row, problem.column, problem.value, problem.message, name)
