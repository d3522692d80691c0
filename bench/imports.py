"""The Synthea import against the stock import-export path (DESIGN.md, performance targets).

    python -m bench.imports [--sizes 10000,100000] [--cases stock_import,...] [--repeat 1]

``make bench`` runs it after the changelist bench (``IMPORT_BENCH_ARGS`` passes
options). For each size it makes (or reuses) a generated Synthea folder,
``var/bench/synthea/<size>/`` (``bench.synthea_data``), and starts from a new
database of its own, never ``db.sqlite3`` nor a test database:
``var/bench/import-<size>.sqlite3``, or with a PostgreSQL ``DATABASE_URL``
(environment or ``.env``) the database ``<name>_bench_import_<size>`` on that
server (``bench.common.bench_database``), dropped and created again on every run
and migrated.

Cases, in this order, all on the same files (each empties the clinic and import-job
tables first unless it says otherwise; ``rows`` is what the case imported):

- ``stock_import``: a plain ``ModelResource`` for ``Patient`` (``import_id_fields =
  ["external_id"]``, Synthea's columns mapped by declared fields with the library's
  own widgets), ``import_data(dataset, dry_run=False)`` with the library's defaults
  and simple-history on, after the sites and doctors are loaded by a raw
  ``bulk_create``. Only the first ``min(size, 10,000)`` rows of ``patients.csv``,
  to keep the run short (``of_rows`` is the file's count). Its ``before_save_instance``
  fills in the two things a plain Resource cannot and the model requires: an MRN
  and the ``deceased`` status of a patient with a death date.
- ``raw_bulk_create``: ``Patient.objects.bulk_create`` of ``patients.csv`` read with
  ``csv`` (dates parsed, nothing validated, no history), batches of 1,000, one
  transaction, into an empty table.
- ``raw_bulk_create_with_history``: the same rows through simple-history's
  ``bulk_create_with_history`` (a history row each, with a reason): the floor of
  the write the issue prescribes, which ``import_new`` adds parsing, validation,
  MRNs, the other files, primary doctors and the job record to.
- ``admin_preview``: ``clinic.resources.SyntheaPatientResource(user=None)``
  ``import_data(dataset, dry_run=True)`` on ``patients.csv``, the admin's preview,
  after the sites and doctors are loaded by a raw ``bulk_create``.
- ``import_new``: ``call_command("import_synthea", folder)`` in this process into
  empty tables: sites, doctors, patients, primary doctors from encounters.
  ``rows`` is the patient rows, ``files_rows`` every row of the four files.
- ``reimport_unchanged``: ``import_synthea`` on the same folder again, on what
  ``import_new`` left (imported first, untimed, if the tables do not hold it).
  ``written`` counts its INSERT/UPDATE/DELETE statements (``written_tables`` per
  table), ``data_written`` those outside the ``imports`` and ``audit`` apps (the
  import job record, the access-log row and the audit seal every import leaves are
  bookkeeping, not data) and ``history_rows_added`` the
  history rows it added: the last two must be 0.
- ``export_stream``: the patient export as the admin runs it (changelist, Export,
  CSV, as a superuser through Django's test client), the response read to the end,
  on what the import left (imported first, untimed, in a process of its own if the
  tables do not hold it; ``export_peak_rss_mb`` is the export process's own peak,
  without that import). Runs only once a streaming export exists, i.e. once one of
  :data:`EXPORT_STREAM_MODULES` defines a callable whose name contains "stream";
  otherwise its line says ``skipped``.

Timed: from reading the file (the dataset the admin or command builds is part of
the cost) to the end of the import; setup and checks are outside. Each case runs in
a child process of its own (``--repeat`` times; the line gives the median), which
prints one JSON line: ``case``, ``db`` (``sqlite``/``postgresql``), ``rows``,
``seconds``, ``rows_per_s``, ``queries`` (every statement sent through Django's
cursor, counted by a ``connection.execute_wrapper`` that keeps no text, so memory
stays flat; a raw ``COPY`` would not be seen), ``peak_rss_mb`` and ``setup_rss_mb``.
``peak_rss_mb`` is the child's peak resident set (``ru_maxrss`` of the rusage that
``os.wait4`` returns for that child: interpreter, Django and the work, with the
setup before it; ``setup_rss_mb`` is the peak before the timed work began). A case
that fails prints its line with ``error`` instead of the figures, and the run goes
on. After the cases of a size, one ``ratios`` line: ``import_new`` rows/s over
``stock_import``'s, ``raw_bulk_create``'s and ``raw_bulk_create_with_history``'s,
and whether each DESIGN.md
target holds at this size (the targets are stated for 100,000 patients on PostgreSQL).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import itertools
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter

from bench import synthea_data
from bench.common import (
    BASE_DIR,
    base_database_url,
    bench_database,
    child_environment,
    emit,
    progress,
    setup_django,
)

CASES = (
    "stock_import",
    "raw_bulk_create",
    "raw_bulk_create_with_history",
    "admin_preview",
    "import_new",
    "reimport_unchanged",
    "export_stream",
)
#: The stock path is timed on this many rows at most (about 25 s at 420 rows/s).
STOCK_ROWS = 10_000
BATCH = 1_000
#: Where ``export_stream`` looks for a streaming export function.
EXPORT_STREAM_MODULES = ("admin_ext.exports", "clinic.exports", "clinic.resources", "clinic.admin")
SUPERUSER_EMAIL = "operator@bench.example"
#: (DESIGN.md target, case, minimum rows/s).
RATE_TARGETS = (
    ("import_new_10000_rows_per_s", "import_new", 10_000),
    ("admin_preview_20000_rows_per_s", "admin_preview", 20_000),
    ("reimport_unchanged_30000_rows_per_s", "reimport_unchanged", 30_000),
)
EXPORT_PEAK_MB = 300
#: A statement that writes, and the table it names (INSERT INTO "t", UPDATE "t", ...).
_WRITE = re.compile(
    r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO|MERGE\s+INTO|TRUNCATE(?:\s+TABLE)?)"
    r"\s+[\"`]?(\w+)",
    re.IGNORECASE,
)


class BenchError(Exception):
    """A case ran but did not do what it should (rows missing, invalid rows reported)."""


# -- the parent: data, databases, one child per case, the ratios -----------------


def main(argv=None) -> int:
    """``python -m bench.imports``: every size, every case, then the ratios (module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="comma-separated patient counts (default: 10000,100000; 1000000 when asked)",
    )
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"comma-separated cases, run in this order: {', '.join(CASES)} (default: all)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per case; the line gives the median"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.folder)

    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"unknown case {', '.join(unknown)} (known: {', '.join(CASES)})")
    cases = [c for c in CASES if c in cases]
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    base_url = base_database_url()
    for size in sizes:
        folder = synthea_data.ensure(size)
        url = bench_database(base_url, f"import_{size}", sqlite_stem=f"import-{size}", reseed=True)
        env = child_environment(url)
        progress(f"{size} patients: migrating a new database")
        migrated, _ = run_child("migrate", folder, env)
        if "error" in migrated:
            emit(**migrated, rows=size)
            continue
        results = {}
        for case in cases:
            progress(f"{size} patients: {case}")
            record = run_case(case, folder, env, max(1, args.repeat))
            results[case] = record
            emit(**record)
        emit(**ratios(migrated["db"], size, results))
    return 0


def run_child(case: str, folder: Path, env: dict) -> tuple[dict, float]:
    """Run ``case`` in a child process; return its JSON record and its peak RSS in MB.

    The child's stderr passes through; its stdout carries only the record. A child
    that dies without one gives a record with ``error``.
    """
    command = [sys.executable, "-m", "bench.imports", "--child", case, "--folder", str(folder)]
    proc = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, text=True)
    output = proc.stdout.read()
    proc.stdout.close()
    # wait4, not wait: the rusage of this child alone (RUSAGE_CHILDREN would give the
    # largest of all children so far).
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak_mb = round(usage.ru_maxrss / 1024, 1)  # ru_maxrss is in KiB on Linux
    vendor = "postgresql" if env["DATABASE_URL"].startswith("postgres") else "sqlite"
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            record = json.loads(line)
            record.setdefault("db", vendor)  # a child whose setup failed does not know it
            return record, peak_mb
    error = f"the child exited with status {proc.returncode} and printed no result"
    return {"case": case, "db": vendor, "error": error}, peak_mb


def run_case(case: str, folder: Path, env: dict, repeat: int) -> dict:
    """``case`` run ``repeat`` times, each in a new child: the record with median figures."""
    runs = []
    for _ in range(repeat):
        record, peak_mb = run_child(case, folder, env)
        record["peak_rss_mb"] = peak_mb
        if "error" in record or "skipped" in record:
            return record
        runs.append(record)
    record = dict(runs[-1])
    if repeat > 1:
        seconds = [r["seconds"] for r in runs]
        record["seconds"] = round(statistics.median(seconds), 3)
        record["rows_per_s"] = rate(record["rows"], record["seconds"])
        record["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
        record["runs_seconds"] = seconds
    return record


def rate(rows: int, seconds: float) -> float:
    """Rows per second, rounded to 0.1 (0 for no time at all)."""
    return round(rows / seconds, 1) if seconds > 0 else 0.0


def ratios(db: str, size: int, results: dict[str, dict]) -> dict:
    """The last line of a size: speed against the stock path and raw inserts, and targets."""

    def speed(case):
        record = results.get(case) or {}
        return None if "error" in record or "skipped" in record else record.get("rows_per_s")

    def ratio(a, b):
        return round(a / b, 2) if a and b else None

    new = speed("import_new")
    targets = {
        name: (None if speed(case) is None else speed(case) >= minimum)
        for name, case, minimum in RATE_TARGETS
    }
    reimport = results.get("reimport_unchanged") or {}
    # The import's own job record (DESIGN.md: every import leaves one) is not data.
    targets["reimport_unchanged_writes_no_data"] = (
        None
        if speed("reimport_unchanged") is None
        else reimport.get("data_written") == 0 and reimport.get("history_rows_added") == 0
    )
    export = results.get("export_stream") or {}
    targets[f"export_stream_under_{EXPORT_PEAK_MB}_mb"] = (
        None
        if speed("export_stream") is None
        # The export process alone (peak_rss_mb includes the import run before it
        # when the case runs on its own).
        else bool(export.get("streamed"))
        and export.get("export_peak_rss_mb", export["peak_rss_mb"]) < EXPORT_PEAK_MB
    )
    return {
        "case": "ratios",
        "db": db,
        "rows": size,
        "import_new_vs_stock_import": ratio(new, speed("stock_import")),
        "import_new_vs_raw_bulk_create": ratio(new, speed("raw_bulk_create")),
        "import_new_vs_raw_bulk_create_with_history": ratio(
            new, speed("raw_bulk_create_with_history")
        ),
        "targets": targets,
    }


# -- the child: one case -------------------------------------------------------------


def child(case: str, folder: Path) -> int:
    """Run one case on ``DATABASE_URL``; print its record as the only line on stdout."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the code under test prints goes to stderr
    record = {"case": case}
    try:
        setup_django()  # inside: code being edited can fail to import
        from django.db import connection

        record["db"] = connection.vendor
        manifest = synthea_data.read_manifest(folder)
        if manifest is None:
            raise BenchError(f"{folder} has no manifest")
        record.update(CASE_FUNCTIONS[case](folder, manifest))
    except Exception as exc:
        traceback.print_exc()
        record["error"] = f"{type(exc).__name__}: {exc}"[:2000]
    out.write(json.dumps(record) + "\n")
    out.close()
    return 0


class StatementCounter:
    """A ``connection.execute_wrapper`` that counts statements, and writes per table.

    Keeps no SQL text, so memory stays flat however many statements run.
    """

    def __init__(self):
        self.queries = 0
        self.writes = 0
        self.written_tables: dict[str, int] = {}
        self.seconds = 0.0
        self.setup_rss_mb = 0.0

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        if not isinstance(sql, str) and hasattr(sql, "as_string"):  # psycopg2.sql.Composed
            sql = sql.as_string(context["connection"].connection)
        write = _WRITE.match(str(sql))
        if write:
            self.writes += 1
            table = write.group(1)
            self.written_tables[table] = self.written_tables.get(table, 0) + 1
        return execute(sql, params, many, context)

    def record(self, rows: int, **extra) -> dict:
        """The case's figures: ``rows``, ``seconds``, ``rows_per_s``, ``queries``, RSS, ``extra``."""
        return {
            "rows": rows,
            "seconds": round(self.seconds, 3),
            "rows_per_s": rate(rows, self.seconds),
            "queries": self.queries,
            "setup_rss_mb": self.setup_rss_mb,
            **extra,
        }


@contextmanager
def measured():
    """Time the block and count its statements; yields the :class:`StatementCounter`."""
    from django.db import connection

    counter = StatementCounter()
    counter.setup_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    with connection.execute_wrapper(counter):
        started = perf_counter()
        yield counter
        counter.seconds = perf_counter() - started


def file_rows(manifest: dict, name: str) -> int:
    """The data rows of one file of the folder, from its manifest."""
    return manifest["files"][name]["rows"]


# -- setup helpers (untimed) -----------------------------------------------------------


def migrate_case(folder: Path, manifest: dict) -> dict:
    """Not a case: migrate the new database (run first for every size)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return {}


def empty_tables() -> None:
    """Empty every table of the ``clinic`` and ``imports`` apps (history and grants included),
    resetting their sequences, as ``manage.py flush`` does for the whole database."""
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection

    tables = sorted(
        {
            model._meta.db_table
            for label in ("clinic", "imports")
            for model in apps.get_app_config(label).get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy
        }
    )
    statements = connection.ops.sql_flush(
        no_style(), tables, reset_sequences=True, allow_cascade=True
    )
    connection.ops.execute_sql_flush(statements)


def read_rows(path: Path):
    """The rows of a generated CSV file as dicts, streamed."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        yield from csv.DictReader(handle)


def load_sites_and_doctors(folder: Path) -> None:
    """``organizations.csv`` and ``providers.csv`` by raw ``bulk_create`` (no validation, no history).

    ZIPs and phones go through the Synthea Resources' own repairs, so the rows
    look like imported ones.
    """
    from django.db import transaction

    from clinic.models import Doctor, Organization
    from clinic.resources import normalize_phone, normalize_zip

    with transaction.atomic():
        Organization.objects.bulk_create(
            (
                Organization(
                    external_id=row["Id"],
                    name=row["NAME"],
                    address=row["ADDRESS"],
                    city=row["CITY"],
                    state=row["STATE"],
                    zip=normalize_zip(row["ZIP"]),
                    phone=normalize_phone(row["PHONE"]),
                )
                for row in read_rows(folder / "organizations.csv")
            ),
            batch_size=BATCH,
        )
        sites = dict(Organization.objects.values_list("external_id", "pk"))
        doctors = []
        for row in read_rows(folder / "providers.csv"):
            *first, last = row["NAME"].split()
            doctors.append(
                Doctor(
                    external_id=row["Id"],
                    first_name=" ".join(first),
                    last_name=last,
                    gender=row["GENDER"],
                    specialty=row["SPECIALITY"],
                    organization_id=sites.get(row["ORGANIZATION"]),
                    address=row["ADDRESS"],
                    city=row["CITY"],
                    state=row["STATE"],
                    zip=normalize_zip(row["ZIP"]),
                )
            )
        Doctor.objects.bulk_create(doctors, batch_size=BATCH)


def read_dataset(path: Path, limit: int | None = None):
    """``path`` as the tablib Dataset that import-export's CSV format builds (first ``limit`` rows).

    The generated files hold no quoted line breaks, so a row is a line.
    """
    from import_export.formats.base_formats import CSV

    with open(path, encoding="utf-8-sig", newline="") as handle:
        text = handle.read() if limit is None else "".join(itertools.islice(handle, limit + 1))
    return CSV(encoding="utf-8").create_dataset(text)


def result_problems(result) -> list[str]:
    """The first problems an import-export ``Result`` reports (ours or the library's)."""
    problems = [str(p) for p in getattr(result, "problems", [])]
    problems += [repr(e.error) for e in result.base_errors]
    for row in result.rows:
        problems += [repr(e.error) for e in row.errors]
        if row.validation_error is not None:
            problems.append(f"row {row.number}: {row.validation_error}")
        if len(problems) >= 3:
            break
    return problems[:3]


def history_rows() -> int:
    """How many simple-history rows the clinic models have."""
    from django.apps import apps

    return sum(
        model._default_manager.count()
        for model in apps.get_app_config("clinic").get_models()
        if model.__name__.startswith("Historical")
    )


def import_folder(folder: Path) -> None:
    """``manage.py import_synthea <folder>``, its output discarded."""
    from django.core.management import call_command

    with open(os.devnull, "w") as sink:
        call_command("import_synthea", str(folder), stdout=sink, stderr=sink)


def ensure_imported(folder: Path, manifest: dict) -> None:
    """Leave the folder imported: import it (untimed) unless every patient is there."""
    from clinic.models import Patient

    if Patient.objects.count() != file_rows(manifest, "patients.csv"):
        progress("importing the folder first (untimed)")
        empty_tables()
        import_folder(folder)


# -- the cases ---------------------------------------------------------------------------


def stock_patient_resource():
    """A plain ``ModelResource`` for ``Patient`` reading Synthea's ``patients.csv``: the
    columns of ``SyntheaPatientResource``, with the library's own widgets and rules."""
    from import_export import resources
    from import_export.fields import Field
    from import_export.widgets import CharWidget, DateWidget

    from clinic.models import Patient
    from clinic.resources import SyntheaPatientResource

    names = SyntheaPatientResource._meta.fields
    columns = {
        name: Field(
            attribute=SyntheaPatientResource.fields[name].attribute,
            column_name=SyntheaPatientResource.fields[name].column_name,
            widget=DateWidget() if name.endswith("_date") else CharWidget(),
        )
        for name in names
    }

    class Meta:
        model = Patient
        import_id_fields = ["external_id"]
        fields = names

    numbers = itertools.count(1)

    def before_save_instance(self, instance, row, **kwargs):
        # What patient_save fills in and the table requires (a unique MRN; no active
        # patient with a death date): the least a plain Resource needs.
        if not instance.mrn:
            instance.mrn = f"S{next(numbers):09d}"
        if instance.death_date:
            instance.status = Patient.Status.DECEASED

    StockPatientResource = type(
        "StockPatientResource",
        (resources.ModelResource,),
        {**columns, "Meta": Meta, "before_save_instance": before_save_instance},
    )
    return StockPatientResource


def stock_import(folder: Path, manifest: dict) -> dict:
    """The stock path on the first ``STOCK_ROWS`` patients (module docstring)."""
    from clinic.models import Patient

    empty_tables()
    load_sites_and_doctors(folder)
    total = file_rows(manifest, "patients.csv")
    rows = min(total, STOCK_ROWS)
    resource_class = stock_patient_resource()
    with measured() as counter:
        dataset = read_dataset(folder / "patients.csv", rows)
        result = resource_class().import_data(dataset, dry_run=False)
    if result.has_errors() or result.has_validation_errors():
        raise BenchError("; ".join(result_problems(result)))
    imported = Patient.objects.count()
    if imported != rows:
        raise BenchError(f"{imported} patients in the table after importing {rows}")
    return counter.record(rows, of_rows=total, history_rows_added=history_rows())


def raw_patients(folder: Path):
    """``patients.csv`` as unsaved ``Patient`` objects, streamed: dates parsed, nothing
    validated, MRNs ``R000000000`` upwards (the raw cases' rows)."""
    from clinic.models import Patient

    def day(text):
        return datetime.date.fromisoformat(text) if text else None

    for number, row in enumerate(read_rows(folder / "patients.csv")):
        death = day(row["DEATHDATE"])
        yield Patient(
            external_id=row["Id"],
            mrn=f"R{number:09d}",
            birth_date=day(row["BIRTHDATE"]),
            death_date=death,
            status=Patient.Status.DECEASED if death else Patient.Status.ACTIVE,
            ssn=row["SSN"],
            prefix=row["PREFIX"],
            first_name=row["FIRST"],
            middle_name=row["MIDDLE"],
            last_name=row["LAST"],
            suffix=row["SUFFIX"],
            maiden_name=row["MAIDEN"],
            marital_status=row["MARITAL"],
            race=row["RACE"],
            ethnicity=row["ETHNICITY"],
            gender=row["GENDER"],
            address=row["ADDRESS"],
            city=row["CITY"],
            state=row["STATE"],
            county=row["COUNTY"],
            zip=row["ZIP"],
        )


def raw_insert(folder: Path, write) -> dict:
    """Every patient of the folder written by ``write(batch)`` in batches of
    :data:`BATCH`, one transaction, into empty tables; the case's record."""
    from django.db import transaction

    from clinic.models import Patient

    empty_tables()
    rows = 0
    patients = raw_patients(folder)
    with measured() as counter, transaction.atomic():
        while batch := list(itertools.islice(patients, BATCH)):
            write(batch)
            rows += len(batch)
    imported = Patient.objects.count()
    if imported != rows:
        raise BenchError(f"{imported} patients in the table after inserting {rows}")
    return counter.record(rows)


def raw_bulk_create(folder: Path, manifest: dict) -> dict:
    """Every patient by raw ``bulk_create``: the floor of what an insert costs."""
    from clinic.models import Patient

    return raw_insert(folder, Patient.objects.bulk_create)


def raw_bulk_create_with_history(folder: Path, manifest: dict) -> dict:
    """Every patient by simple-history's ``bulk_create_with_history`` (a history row
    each, with a reason, nothing validated): the floor of the write the issue
    prescribes, one insert into the patient table and one into its history table."""
    from simple_history.utils import bulk_create_with_history

    from clinic.models import Patient

    def write(batch):
        bulk_create_with_history(batch, Patient, batch_size=BATCH, default_change_reason="bench")

    record = raw_insert(folder, write)
    return {**record, "history_rows_added": history_rows()}


def admin_preview(folder: Path, manifest: dict) -> dict:
    """Our patient Resource's dry run, the admin's preview, on all of ``patients.csv``."""
    from clinic.models import Patient
    from clinic.resources import SyntheaPatientResource

    empty_tables()
    load_sites_and_doctors(folder)
    rows = file_rows(manifest, "patients.csv")
    with measured() as counter:
        dataset = read_dataset(folder / "patients.csv")
        result = SyntheaPatientResource(user=None).import_data(
            dataset, dry_run=True, file_name="patients.csv"
        )
    problems = result_problems(result)
    if problems:
        raise BenchError("; ".join(problems))
    if Patient.objects.exists():
        raise BenchError("the dry run left patients in the table")
    counts = getattr(result, "counts", None)
    if counts is not None and counts.get("new") != rows:
        raise BenchError(f"the preview counts {counts}, not {rows} new rows")
    return counter.record(rows, counts=counts)


def import_new(folder: Path, manifest: dict) -> dict:
    """``import_synthea`` on the whole folder into empty tables."""
    from clinic.models import Patient

    empty_tables()
    rows = file_rows(manifest, "patients.csv")
    with measured() as counter:
        import_folder(folder)
    imported = Patient.objects.count()
    if imported != rows:
        raise BenchError(f"{imported} patients in the table after importing {rows}")
    return counter.record(
        rows,
        files_rows=sum(f["rows"] for f in manifest["files"].values()),
        history_rows_added=history_rows(),
        with_primary_doctor=Patient.objects.filter(primary_doctor__isnull=False).count(),
    )


def reimport_unchanged(folder: Path, manifest: dict) -> dict:
    """``import_synthea`` again on an imported folder: it must write nothing."""
    from django.apps import apps

    ensure_imported(folder, manifest)
    before = history_rows()
    with measured() as counter:
        import_folder(folder)
    job_tables = {
        m._meta.db_table
        for app in ("imports", "audit")
        for m in apps.get_app_config(app).get_models()
    }
    return counter.record(
        file_rows(manifest, "patients.csv"),
        files_rows=sum(f["rows"] for f in manifest["files"].values()),
        written=counter.writes,
        written_tables=counter.written_tables,
        data_written=sum(
            n for table, n in counter.written_tables.items() if table not in job_tables
        ),
        history_rows_added=history_rows() - before,
    )


def streaming_export_function() -> str | None:
    """The dotted name of the first callable named ``*stream*`` in :data:`EXPORT_STREAM_MODULES`."""
    import importlib

    for module_name in EXPORT_STREAM_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name, value in sorted(vars(module).items()):
            if (
                "stream" in name.lower()
                and callable(value)
                and getattr(value, "__module__", None) == module_name
            ):
                return f"{module_name}.{name}"
    return None


def import_in_a_child(folder: Path, manifest: dict) -> None:
    """Leave the folder imported, as :func:`ensure_imported`, but in a child process of its own.

    An import run in this process would set its high-water mark and hide what the
    export itself takes. (The parent's ``peak_rss_mb``, from ``wait4``, still counts
    this reaped child; ``export_peak_rss_mb`` does not.)
    """
    from clinic.models import Patient

    if Patient.objects.count() == file_rows(manifest, "patients.csv"):
        return
    progress("importing the folder first, in a child process (untimed)")
    command = [sys.executable, "-m", "bench.imports", "--child", "import_new", "--folder"]
    done = subprocess.run(
        [*command, str(folder)], cwd=BASE_DIR, stdout=subprocess.PIPE, text=True, check=False
    )
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not records or "error" in records[-1]:
        error = records[-1].get("error") if records else f"exit status {done.returncode}"
        raise BenchError(f"importing the folder before the export failed: {error}")


def export_stream(folder: Path, manifest: dict) -> dict:
    """The admin's CSV export of every patient, read to the end (when streamed).

    When the tables do not hold the folder yet, it is imported first (untimed) in a
    process of its own (:func:`import_in_a_child`). ``export_peak_rss_mb`` is this
    process's own peak resident set (``RUSAGE_SELF``: Django, the test client and
    the export, no child): the figure the DESIGN.md target (under 300 MB) is
    about. ``peak_rss_mb`` equals it unless that import ran, whose peak it then
    includes.
    """
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from clinic.tests.exporting import export_link, submit
    from people.models import User
    from people.two_factor.testing import sign_in

    function = streaming_export_function()
    if function is None:
        modules = ", ".join(EXPORT_STREAM_MODULES)
        return {"skipped": f"no streaming export yet (no callable named *stream* in {modules})"}
    import_in_a_child(folder, manifest)
    setup_test_environment()  # response.context, which the export form helpers read
    user = User.objects.filter(email=SUPERUSER_EMAIL).first() or User.objects.create_superuser(
        email=SUPERUSER_EMAIL, password=None
    )
    client = Client()
    sign_in(client, user)
    link = export_link(client.get(reverse("admin:clinic_patient_changelist")))
    if link is None:
        raise BenchError("the patient changelist shows no Export button")
    export_page = client.get(link)
    size = lines = 0
    with measured() as counter:
        response = submit(client, export_page, "csv")
        chunks = response.streaming_content if response.streaming else [response.content]
        for chunk in chunks:
            size += len(chunk)
            lines += chunk.count(b"\n")
    if response.status_code != 200:
        raise BenchError(f"the export answered {response.status_code}")
    return counter.record(
        max(0, lines - 1),
        bytes=size,
        streamed=response.streaming,
        export_function=function,
        export_peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )


CASE_FUNCTIONS = {
    "migrate": migrate_case,
    "stock_import": stock_import,
    "raw_bulk_create": raw_bulk_create,
    "raw_bulk_create_with_history": raw_bulk_create_with_history,
    "admin_preview": admin_preview,
    "import_new": import_new,
    "reimport_unchanged": reimport_unchanged,
    "export_stream": export_stream,
}


if __name__ == "__main__":
    sys.exit(main())
