"""``python manage.py import_synthea DIR``: import a Synthea CSV output folder.

Reads ``organizations.csv``, ``providers.csv`` and ``patients.csv`` (each optional,
in that order), then assigns primary doctors from ``encounters.csv`` when present:
``clinic.synthea.import_folder``, the same procedure as the admin's folder import.
Files are streamed in chunks, so a 1,000,000-patient folder imports in flat memory.
One transaction for the whole folder: if any row of any file is invalid, nothing is
written and the command fails listing the problems (file, row, column, value).
Every run leaves an import job record (``admin_ext.imports.models.ImportJob``), and
every history row it writes has the reason ``Import #<job id>``.
"""

import hashlib
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from admin_ext.imports.models import ImportJob
from admin_ext.imports.reading import ImportFileError, iter_csv_file
from admin_ext.imports.services import file_entry, job_finish, job_start, job_stopped
from clinic.synthea import FOLDER_FILES, import_folder

#: How many problems the error message lists before "... and N more".
MAX_LISTED = 50


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
            "--valid-rows-only",
            action="store_true",
            help="Import the valid rows and skip the invalid ones (listed in the job's "
            "report) instead of refusing the whole folder.",
        )
        parser.add_argument(
            "--confirm-duplicates",
            action="store_true",
            help="Create patients who look like registered ones (same names and birth date) "
            "as new patients; each one's history reason records the confirmation. Use only "
            "after checking the MRNs a refused run named.",
        )
        parser.add_argument(
            "--progress-every",
            type=int,
            default=10000,
            metavar="N",
            help="Print progress every N rows of each file (default: 10000).",
        )

    def handle(
        self,
        *args,
        directory,
        actor=None,
        valid_rows_only=False,
        confirm_duplicates=False,
        **options,
    ):
        folder = Path(directory)
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        present = [name for name in FOLDER_FILES if (folder / name).is_file()]
        if not present:
            raise CommandError(f"{folder} holds none of {', '.join(FOLDER_FILES)}.")
        user = self._actor(actor)
        every = max(1, options.get("progress_every") or 10000)

        files = [file_entry(name=name, fmt="CSV", **_digest(folder / name)) for name in present]
        job = job_start(
            actor=user,
            source=ImportJob.Source.COMMAND,
            kind="Synthea folder",
            files=files,
            valid_rows_only=valid_rows_only,
        )
        self.stdout.write(f"{job}: {folder}")

        def progress(name, rows):
            self.stdout.write(f"{name}: {rows} rows read")

        sources = {name: _opener(folder / name) for name in present}
        try:
            result = import_folder(
                sources,
                actor=user,
                reason=job.reason,
                valid_rows_only=valid_rows_only,
                confirmed_not_duplicate=confirm_duplicates,
                progress=progress,
                progress_every=every,
            )
        except (ImportFileError, PermissionDenied) as exc:
            job_finish(job=job, status=ImportJob.Status.FAILED, message=str(exc))
            raise CommandError(f"Nothing was imported: {exc}") from None
        except Exception as exc:  # a fault of the server: the job says so, then the traceback
            job_stopped(job=job, error=exc)
            raise

        files = result.with_rows(files)
        for outcome in result.files:
            c = outcome.counts
            self.stdout.write(
                f"{outcome.name}: {c['new']} created, {c['changed']} "
                f"updated, {c['unchanged']} unchanged, {c['invalid']} invalid"
            )
        if result.primary is not None:
            p = result.primary
            self.stdout.write(
                f"encounters.csv: {result.encounters} encounters; primary doctors: "
                f"{p['assigned']} assigned, {p['unchanged']} unchanged, {p['invalid']} invalid"
            )
        headline = {
            ImportJob.Status.CONFLICT: "Nothing was imported: another import or user changed "
            "the same records at the same time. Run the command again.",
            ImportJob.Status.REFUSED: "Nothing was imported: the folder has invalid rows.",
        }.get(result.status, "")
        job_finish(
            job=job,
            status=result.status,
            counts=result.job_counts,
            problems=result.problems,
            problem_count=result.problem_count,
            failed_rows=result.failed_rows,
            message=headline,
            files=files,
        )
        if headline:
            lines = [str(p) for p in result.problems[:MAX_LISTED]]
            if result.problem_count > MAX_LISTED:
                lines.append(f"... and {result.problem_count - MAX_LISTED} more")
            raise CommandError(f"{headline} ({job})\n" + "\n".join(lines))
        skipped = f", {result.problem_count} invalid rows skipped" if result.problem_count else ""
        self.stdout.write(self.style.SUCCESS(f"Imported {folder} ({job}{skipped})."))

    def _actor(self, email):
        if not email:
            return None
        try:
            return get_user_model()._default_manager.get(email__iexact=email)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user with email {email}.") from None


def _opener(path: Path):
    return lambda: iter_csv_file(path)


def _digest(path: Path) -> dict:
    """``{"sha256", "size"}`` of a file (``hashlib.file_digest``, streamed)."""
    with path.open("rb") as handle:
        return {
            "sha256": hashlib.file_digest(handle, "sha256").hexdigest(),
            "size": path.stat().st_size,
        }
