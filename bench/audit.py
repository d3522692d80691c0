"""The audit trail at 1,000,000 audit rows, and what the access log costs a page view.

    python -m bench.audit [--rows 1000000] [--repeat 15] [--reseed] [--cases ...]

``make bench`` runs it after the import bench (``AUDIT_BENCH_ARGS`` passes options).
Issue 7: "``make bench`` shows the access log's cost per page view and the trail's
median response time at 1,000,000 audit rows".

Its own database, never ``db.sqlite3`` nor a test database (``bench.common``):
``var/bench/audit-<rows>.sqlite3``, or with a PostgreSQL ``DATABASE_URL``
(environment or ``.env``) the database ``<name>_bench_audit_<rows>`` on that server,
created when missing. A database that holds the seed is reused; ``--reseed`` drops it.

Seed: a superuser, an Auditor, a Front desk user, 50 doctors with Doctor-role logins,
20,000 patients (``bulk_create``; primary doctor round robin, with the two
django-guardian grants the assignment gives, so a doctor sees 400), then ROWS audit
rows written by ``INSERT ... SELECT`` over a generated sequence (no Python per row):
60% ``clinic_historicalpatient`` rows (each patient's "+" row, then "~" rows, copied
from the patient, attributed round robin to the 53 users) and 40% ``view`` rows in
``audit_accesslog`` (users and patients spread evenly), their times spread evenly
over the year before the seed, the two tables interleaved. Then ANALYZE (PostgreSQL:
VACUUM ANALYZE).

Cases, each measured with Django's test client (DEBUG off) after two warm-ups,
REPEAT requests, one JSON line each (``case``, ``db``, ``rows`` (audit rows),
``median_ms``, ``min_ms``, ``db_ms`` (median time in SQL), ``queries``, ``shown``
(events on the page)):

- ``access log per page view``: a patient's change page as the Front desk opens it,
  with the access log on and with ``clinic.admin.log_access`` patched to do nothing,
  alternately; ``median_ms`` is with it, ``without_ms`` without, ``cost_ms`` the
  difference of the medians. Checked: one ``view`` row per page with, none without;
- ``trail page 1``: the trail as the Auditor opens it from the menu;
- ``trail by actor``, ``trail by object`` (one patient's timeline), ``trail by date
  range`` (a month), ``trail by action`` (``view``): one filter each;
- ``trail older page deep``: the "Older" link of a page half-way down the trail (the
  cursor of the middle history row);
- ``doctor trail page 1``: the trail of a doctor, who sees her 400 patients' events.

On PostgreSQL each trail case's line also gives ``plans``: for each table whose keys
the page read, how the database's plan for that query (``EXPLAIN``) reads the table
(which index, which direction) and whether it sorts after. A final ``summary`` line
gives every case's median.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
from time import perf_counter

from bench.common import (
    BASE_DIR,
    base_database_url,
    bench_database,
    child_environment,
    emit,
    progress,
    seed_and_measure,
)

PATIENTS = 20_000
DOCTORS = 50
HISTORY_SHARE = 0.6
BATCH = 100_000
SPAN = datetime.timedelta(days=365)
AUDITOR_EMAIL = "auditor@bench.example"
DESK_EMAIL = "desk@bench.example"
SUPERUSER_EMAIL = "operator@bench.example"
CASES = [
    "access log per page view",
    "trail page 1",
    "trail by actor",
    "trail by object",
    "trail by date range",
    "trail by action",
    "trail older page deep",
    "doctor trail page 1",
]


# -- the parent: one child process, then the summary --------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="1000000", help="audit rows to seed (default: 1000000)")
    parser.add_argument("--repeat", type=int, default=15, help="measured requests per case")
    parser.add_argument(
        "--reseed", action="store_true", help="drop the bench database and seed it again"
    )
    parser.add_argument(
        "--cases", default=",".join(CASES), help="comma-separated cases (default: all)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rows = int(args.rows.replace("_", ""))
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    if args.child:
        return child(rows, args.repeat, cases)

    url = bench_database(
        base_database_url(), f"audit_{rows}", sqlite_stem=f"audit-{rows}", reseed=args.reseed
    )
    command = [sys.executable, "-m", "bench.audit", "--child", "--rows", str(rows)]
    command += ["--repeat", str(args.repeat), "--cases", ",".join(cases)]
    medians, db = {}, None
    with subprocess.Popen(
        command, cwd=BASE_DIR, env=child_environment(url), stdout=subprocess.PIPE, text=True
    ) as proc:
        for line in proc.stdout:
            print(line, end="", flush=True)
            record = json.loads(line)
            db = record.get("db", db)
            if "median_ms" in record:
                medians[record["case"]] = record["median_ms"]
    if proc.returncode:
        print("bench: the audit bench failed", file=sys.stderr)
        return proc.returncode
    emit(case="summary", db=db, rows=rows, median_ms=None, cases=medians)
    return 0


# -- the child: seed (when needed) and measure ---------------------------------------


def child(rows: int, repeat: int, cases: list[str]) -> int:
    return seed_and_measure(
        rows, is_seeded=is_seeded, seed=seed, measurements=lambda: measure(rows, repeat, cases)
    )


def split(rows: int) -> tuple[int, int]:
    """``(history rows, access-log rows)`` for ``rows`` audit rows."""
    history = int(rows * HISTORY_SHARE)
    return history, rows - history


def is_seeded(rows: int) -> bool:
    from admin_ext.audit.models import AccessLog
    from clinic.models import Patient
    from people.models import User

    history, access = split(rows)
    return (
        User.objects.filter(email=AUDITOR_EMAIL).exists()
        and Patient.objects.count() == PATIENTS
        and Patient.history.count() == history
        and AccessLog.objects.filter(action=AccessLog.Action.VIEW, user_agent="bench").count()
        == access
    )


def seed(rows: int) -> None:
    """Fill the database (see the module docstring)."""
    from django.core.management import call_command
    from django.db import connection

    from admin_ext.audit.models import AccessLog
    from clinic.models import Patient
    from people.models import User

    if User.objects.exists():
        progress("the database holds another seed; emptying it")
        call_command("flush", interactive=False, verbosity=0)
        call_command("sync_roles", verbosity=0)
    users = seed_people()
    patients = seed_patients()
    history, access = split(rows)
    start = datetime.datetime.now(datetime.UTC) - SPAN
    # Two slots per step of the sequence: history rows on even ones, access rows on
    # odd ones, so the tables interleave in time.
    slots = 2 * max(history, access)
    step_us = max(1, int(SPAN.total_seconds() * 1_000_000 // slots))
    progress(f"seeding {history} history rows and {access} access-log rows")
    for first in range(0, history, BATCH):
        count = min(BATCH, history - first)
        insert_history(Patient, first, count, start, step_us, users, patients)
        progress(f"{first + count} history rows")
    for first in range(0, access, BATCH):
        count = min(BATCH, access - first)
        insert_access(AccessLog, first, count, start, step_us, users, patients)
        progress(f"{first + count} access-log rows")
    with connection.cursor() as cursor:
        # Outside a transaction: VACUUM refuses to run inside one.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def seed_people() -> tuple[int, int]:
    """The users; returns ``(first id, count)`` of a contiguous block of them (the actors)."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.db import transaction

    from clinic.models import Doctor, Organization
    from people import roles
    from people.models import Profile, User
    from people.services import user_create

    progress(f"seeding users and {DOCTORS} doctors")
    with transaction.atomic():
        for email, role, superuser in (
            (SUPERUSER_EMAIL, roles.ADMINISTRATOR, True),
            (AUDITOR_EMAIL, roles.AUDITOR, False),
            (DESK_EMAIL, roles.FRONT_DESK, False),
        ):
            user_create(
                email=email,
                password=None,
                actor=None,
                reason="bench",
                role=role,
                is_superuser=superuser,
            )
        password = make_password("bench-only")
        users = User.objects.bulk_create(
            User(
                email=f"doctor{i}@bench.example",
                password=password,
                is_staff=True,
                first_name="Doctor",
                last_name=f"No{i}",
            )
            for i in range(DOCTORS)
        )
        Profile.objects.bulk_create(Profile(user=user) for user in users)
        doctor_role = Group.objects.get(name=roles.DOCTOR)
        User.groups.through.objects.bulk_create(
            User.groups.through(user_id=user.pk, group_id=doctor_role.pk) for user in users
        )
        site = Organization.objects.create(external_id="bench-site", name="Bench clinic")
        Doctor.objects.bulk_create(
            Doctor(
                external_id=f"bench-doctor-{i}",
                first_name="Doctor",
                last_name=f"No{i}",
                organization=site,
                user=user,
            )
            for i, user in enumerate(users)
        )
    ids = sorted(User.objects.values_list("pk", flat=True))
    assert ids == list(range(ids[0], ids[0] + len(ids))), "user ids are not contiguous"
    return ids[0], len(ids)


def seed_patients() -> tuple[int, int]:
    """The patients with their doctors' grants; returns ``(first id, count)``."""
    import random

    from django.contrib.auth.models import Permission
    from django.db import transaction

    from clinic.models import Doctor, Patient, PatientUserObjectPermission

    progress(f"seeding {PATIENTS} patients")
    rng = random.Random(20_241_121)
    doctors = list(Doctor.objects.order_by("pk"))
    permissions = [
        Permission.objects.get(content_type__app_label="clinic", codename=codename).pk
        for codename in ("view_patient", "change_patient")
    ]
    with transaction.atomic():
        patients = Patient.objects.bulk_create(
            (
                Patient(
                    mrn=f"A{i:09d}",
                    external_id=f"bench-patient-{i}",
                    first_name=rng.choice(["Ann", "Bo", "Cy", "Di", "Ed"]),
                    last_name=f"Patient{i}",
                    birth_date=datetime.date(1950, 1, 1) + datetime.timedelta(days=i % 20_000),
                    gender="F",
                    ssn=f"{100 + i % 800:03d}-{10 + i % 89:02d}-{i % 10_000:04d}",
                    city="Boston",
                    state="MA",
                    zip="02115",
                    primary_doctor=doctors[i % DOCTORS],
                )
                for i in range(PATIENTS)
            ),
            batch_size=5_000,
        )
        PatientUserObjectPermission.objects.bulk_create(
            (
                PatientUserObjectPermission(
                    user_id=doctors[i % DOCTORS].user_id,
                    permission_id=permission,
                    content_object_id=patient.pk,
                )
                for i, patient in enumerate(patients)
                for permission in permissions
            ),
            batch_size=5_000,
        )
    ids = sorted(p.pk for p in patients)
    assert ids == list(range(ids[0], ids[0] + len(ids))), "patient ids are not contiguous"
    return ids[0], len(ids)


def _sequence(first: int, count: int) -> str:
    """A ``seq(n)`` CTE of ``first .. first + count - 1`` (both databases)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"WITH seq(n) AS (SELECT generate_series({first}, {first + count - 1})::bigint)"
    return (
        # Bandit B608 (SQL built from strings) accepted: integers computed here.
        f"WITH RECURSIVE seq(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM seq "  # nosec B608
        f"WHERE n < {first + count - 1})"
    )


def _time(slot_sql: str) -> str:
    """SQL for ``start + slot * step`` as the database stores an aware datetime
    (``%(start)s`` and ``%(step)s`` are parameters: UTC microseconds and the step)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return (
            f"to_timestamp(0) + ((%(start)s + ({slot_sql}) * %(step)s) * interval '1 microsecond')"
        )
    # Django's SQLite text format, microseconds always written (it compares text).
    micro = f"(%(start)s + ({slot_sql}) * %(step)s)"
    return (
        f"strftime('%%Y-%%m-%%d %%H:%%M:%%S', {micro} / 1000000, 'unixepoch') "
        f"|| '.' || printf('%%06d', {micro} %% 1000000)"
    )


def _params(start, step_us, users, patients) -> dict:
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return {
        "start": (start - epoch) // datetime.timedelta(microseconds=1),
        "step": step_us,
        "first_user": users[0],
        "users": users[1],
        "first_patient": patients[0],
        "patients": patients[1],
    }


def insert_history(Patient, first, count, start, step_us, users, patients) -> None:
    """History rows ``first .. first + count - 1``: row n copies patient ``n % patients``,
    "+" for each patient's first row, "~" after, at slot ``2n``."""
    from django.db import connection, transaction

    history = Patient.history.model
    tracked = [f.column for f in history._meta.concrete_fields if not f.name.startswith("history_")]
    tracked = [c for c in tracked if c != "history_change_reason"]
    columns = ", ".join(connection.ops.quote_name(c) for c in tracked)
    picked = ", ".join(f"p.{connection.ops.quote_name(c)}" for c in tracked)
    # Bandit B608 accepted: model table names and SQL of our own; values are params.
    sql = (
        f"{_sequence(first, count)} INSERT INTO {history._meta.db_table} "  # nosec B608
        f"({columns}, history_date, history_type, history_user_id, history_change_reason) "
        f"SELECT {picked}, {_time('2 * n')}, "
        f"CASE WHEN n < %(patients)s THEN '+' ELSE '~' END, "
        f"%(first_user)s + (n %% %(users)s), 'bench change' "
        f"FROM seq JOIN clinic_patient p ON p.id = %(first_patient)s + (n %% %(patients)s)"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, _params(start, step_us, users, patients))


def insert_access(AccessLog, first, count, start, step_us, users, patients) -> None:
    """Access-log ``view`` rows ``first .. first + count - 1`` at slot ``2n + 1``."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from clinic.models import Patient

    content_type = ContentType.objects.get_for_model(Patient).pk
    text = "text" if connection.vendor == "postgresql" else "TEXT"
    detail = "'{}'::jsonb" if connection.vendor == "postgresql" else "'{}'"
    # Bandit B608 accepted: model table names and SQL of our own; values are params.
    sql = (
        f"{_sequence(first, count)} INSERT INTO {AccessLog._meta.db_table} "  # nosec B608
        "(created_at, actor_id, actor_label, action, content_type_id, object_id, object_repr, "
        "detail, ip_address, user_agent, request_id) "
        f"SELECT {_time('2 * n + 1')}, %(first_user)s + ((n * 7) %% %(users)s), "
        "'bench@bench.example', 'view', "
        f"{content_type}, CAST(%(first_patient)s + ((n * 13) %% %(patients)s) AS {text}), "
        f"'Bench patient', {detail}, '10.0.0.1', 'bench', '' FROM seq"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, _params(start, step_us, users, patients))


# -- measuring ------------------------------------------------------------------------


def measure(rows: int, repeat: int, cases: list[str]):
    """Yield one record per case (see the module docstring)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from admin_ext.audit import trail
    from clinic.models import Doctor, Patient
    from people.models import User
    from people.two_factor.testing import sign_in

    auditor = User.objects.get(email=AUDITOR_EMAIL)
    desk = User.objects.get(email=DESK_EMAIL)
    doctor = Doctor.objects.select_related("user").order_by("pk").first().user
    patient = Patient.objects.filter(primary_doctor__user=doctor).order_by("pk").first()
    middle = Patient.history.order_by("history_id")[split(rows)[0] // 2]
    # The calendar month of the middle row.
    first_day = middle.history_date.date().replace(day=1)
    last_day = (first_day + datetime.timedelta(days=31)).replace(day=1) - datetime.timedelta(1)
    client = Client()

    def timed(url, user, *, check=None, explain=False):
        sign_in(client, user)
        for _ in range(2):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        if check:
            check(response)
        timings, db_timings, queries = [], [], set()
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                started = perf_counter()
                response = client.get(url)
                timings.append((perf_counter() - started) * 1000)
            assert response.status_code == 200
            queries.add(len(captured))
            db_timings.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
        record = {
            "median_ms": round(statistics.median(timings), 1),
            "min_ms": round(min(timings), 1),
            "db_ms": round(statistics.median(db_timings), 1),
            "queries": max(queries),
            "shown": response.content.decode().count('<tr class="audit-event'),
        }
        if explain and connection.vendor == "postgresql":
            record["plans"] = plans(captured.captured_queries)
        return record

    trail_url = reverse("admin:audit_trail")

    def trail_case(name, query, user=auditor):
        def check(response):
            html = response.content.decode()
            assert "errorlist" not in html, (name, query)
            assert html.count('<tr class="audit-event') > 0, (name, "shows no event")

        return {
            "case": name,
            "query": query,
            **timed(trail_url + query, user, check=check, explain=True),
        }

    for case in cases:
        if case == "access log per page view":
            yield page_view_cost(client, desk, patient, repeat)
        elif case == "trail page 1":
            yield trail_case(case, "")
        elif case == "trail by actor":
            yield trail_case(case, f"?actor={doctor.pk}")
        elif case == "trail by object":
            yield trail_case(case, f"?model=clinic.patient&object={patient.pk}")
        elif case == "trail by date range":
            yield trail_case(case, f"?date_from={first_day}&date_to={last_day}")
        elif case == "trail by action":
            yield trail_case(case, "?action=view")
        elif case == "trail older page deep":
            cursor = trail.encode_cursor(
                (middle.history_date, Patient.history.model._meta.label_lower, middle.pk)
            )
            yield trail_case(case, f"?after={cursor}")
        elif case == "doctor trail page 1":
            yield trail_case(case, "", user=doctor)


def page_view_cost(client, user, patient, repeat: int) -> dict:
    """The patient change page with and without its access-log row, alternately."""
    from unittest import mock

    from django.urls import reverse

    from admin_ext.audit.models import AccessLog

    url = reverse("admin:clinic_patient_change", args=[patient.pk])
    from people.two_factor.testing import sign_in

    sign_in(client, user)

    def noop(**kwargs):
        return None

    def get():
        started = perf_counter()
        response = client.get(url)
        elapsed = (perf_counter() - started) * 1000
        assert response.status_code == 200, response.status_code
        return elapsed

    def views():
        return AccessLog.objects.filter(
            action=AccessLog.Action.VIEW, object_id=str(patient.pk), actor=user
        ).count()

    for _ in range(2):
        get()
    with_log, without = [], []
    before = views()
    for _ in range(repeat):
        with_log.append(get())
        with mock.patch("clinic.admin.log_access", noop):
            without.append(get())
    written = views() - before
    assert written == repeat, f"{written} view rows for {repeat} logged page views"
    on, off = statistics.median(with_log), statistics.median(without)
    return {
        "case": "access log per page view",
        "median_ms": round(on, 1),
        "without_ms": round(off, 1),
        "cost_ms": round(on - off, 2),
        "min_ms": round(min(with_log), 1),
        "min_without_ms": round(min(without), 1),
    }


def plans(captured) -> dict:
    """``{table: how the plan reads it}`` for the trail's per-table key queries, from
    PostgreSQL's ``EXPLAIN``: each access to that table ("Index Only Scan Backward
    clinic_historicalpatient_trail_time"), and "Sort" when the rows are sorted after."""
    from django.db import connection

    found = {}
    for query in captured:
        sql = query["sql"]
        if not sql.startswith("SELECT ") or " FROM " not in sql:
            continue
        # The key queries select two columns (time, key); the rows read after them,
        # by key, are not what walks the table.
        if sql[len("SELECT ") : sql.index(" FROM ")].count(",") != 1:
            continue
        table = sql.split(" FROM ", 1)[1].split()[0].strip('"')
        if not (table == "audit_accesslog" or "_historical" in table):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0][0]["Plan"]
        reads = _reads(plan, table)
        found[table] = ", ".join(reads) + (" then Sort" if _sorts(plan) else "")
    return found


def _reads(node, table) -> list[str]:
    """How each plan node that reads ``table`` reads it (node type, direction, index)."""
    found = []
    if node.get("Relation Name") == table:
        label = node["Node Type"]
        if node.get("Scan Direction") == "Backward":
            label += " Backward"
        found.append(f"{label} {node.get('Index Name', '')}".strip())
    for child in node.get("Plans", []):
        found += _reads(child, table)
    return found


def _sorts(node) -> bool:
    """Whether the plan sorts on its way to the top (below the Limit, not in a subplan)."""
    if "Sort" in node["Node Type"]:
        return True
    return any(
        _sorts(child)
        for child in node.get("Plans", [])
        if child.get("Parent Relationship") != "SubPlan"
    )


if __name__ == "__main__":
    sys.exit(main())
