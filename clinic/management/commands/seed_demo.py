from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from clinic import demo
from clinic.models import Patient
from people import roles


class Command(BaseCommand):
    help = (
        "Development only (refuses unless DEBUG is on): write a Synthea-format demo "
        "folder with Faker from a fixed seed, import it with import_synthea, create one "
        "demo login per role and print them as '<role>: <email> / <password>'. "
        "Running it again reuses what exists."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="Folder to write the demo CSV files into (default: var/demo-synthea/ "
            "in the project directory).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=demo.DEFAULT_SEED,
            help=f"Faker seed; the same seed writes the same files (default {demo.DEFAULT_SEED}).",
        )
        parser.add_argument(
            "--patients",
            type=int,
            default=demo.DEFAULT_PATIENTS,
            help=f"Number of patients (default {demo.DEFAULT_PATIENTS}).",
        )
        parser.add_argument(
            "--reimport",
            action="store_true",
            help="Run import_synthea even when the demo patients are already in the database.",
        )

    def handle(self, *args, **options):
        # The demo passwords are printed and published in the README: they must
        # never exist on a production database.
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo creates logins with development-only passwords and runs only "
                "with DEBUG=true."
            )
        directory = options["dir"] or Path(settings.BASE_DIR) / "var" / "demo-synthea"
        try:
            summary = demo.write_demo_synthea(
                directory, seed=options["seed"], patients=options["patients"]
            )
        except ValueError as exc:  # --patients below 1
            raise CommandError(str(exc)) from exc
        counts = ", ".join(f"{rows} {name}" for name, rows in summary.rows.items())
        self.stdout.write(f"Demo Synthea folder {directory}: {counts}")

        present = Patient.objects.filter(external_id__in=summary.patient_ids).count()
        if present == len(summary.patient_ids) and not options["reimport"]:
            self.stdout.write(f"Demo data already imported ({present} patients); import skipped.")
        else:
            # The import is the data steward's work, so the history of every demo
            # record names an actor, as a real import's would.
            steward_login = next(x for x in demo.DEMO_LOGINS if x.role == roles.DATA_STEWARD)
            steward, _ = demo.demo_login_ensure(steward_login)
            call_command(
                "import_synthea",
                str(directory),
                actor=steward.email,
                stdout=self.stdout,
                stderr=self.stderr,
            )

        try:
            doctor = demo.demo_logins_seed(provider_ids=summary.provider_ids)
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"The Doctor login is {doctor} ({doctor.patients.count()} patients).")
        self.stdout.write("Demo logins (development only):")
        for login in demo.DEMO_LOGINS:
            self.stdout.write(login.line())
