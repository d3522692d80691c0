"""The patient changelist at 1,000 and 1,000,000 patients (DESIGN.md, performance targets).

    python -m bench.changelist [--sizes 1000,1000000] [--repeat 15] [--reseed]

``make bench`` runs it. Each size gets a database of its own, never ``db.sqlite3``
nor a test database: ``var/bench/patients-<size>.sqlite3`` by default; when
``DATABASE_URL`` (environment or ``.env``) names a PostgreSQL server, a database
``<name>_bench_<size>`` on that server (``<name>_<size>`` when the name already
contains "bench"), created when missing. A database that already holds the seed is
reused, so only the first run pays for it; ``--reseed`` drops it and seeds again.

Seed, with ``bulk_create`` in batches of 10,000 and no history: 20 sites, 1,000
doctors each with a Doctor-role login, SIZE patients with a primary doctor (round
robin: one patient per doctor at 1,000, a thousand at 1,000,000), and per patient
the two django-guardian grants the assignment service gives that doctor
(``view_patient`` and ``change_patient`` rows in ``PatientUserObjectPermission``).
Then ANALYZE (PostgreSQL: VACUUM ANALYZE), as autovacuum would do after a load.

Measured in this process with Django's test client (``force_login``, DEBUG off),
REPEAT requests after two warm-ups, the queries of each request captured with
``CaptureQueriesContext``. Cases, as a user reaches each page:

- ``superuser page 1``, ``doctor page 1``: the changelist as opened from the menu;
- ``superuser page 5000``: the link to page 5,000 as page 4,999 shows it (at 1,000
  patients there are 20 pages and the case is the last one, ``page`` says which);
- ``superuser page 5000 typed``: ``?p=5000`` typed or bookmarked, without the key
  that the page links carry (see ``admin_ext.pagination``);
- ``superuser last page``, ``doctor last page``: the last page link of page 1 (a
  doctor has 1 patient at 1,000, so their last page is page 1).

Every page's rows are checked against the same slice read with OFFSET (outside the
timing). Prints one JSON line per seed and per case (``case``, ``db``, ``rows``,
``page``, ``shown``, ``median_ms``, ``queries``; ``min_ms`` is the fastest request
and ``db_ms`` the median time spent in SQL, which tell the database's share from
Python's and from a busy machine's) and a final ``comparison`` line:
whether each case runs the same number of queries at every size, and whether its
median at the largest size is under 100 ms.
"""

import argparse
import html
import json
import math
import re
import statistics
import subprocess
import sys
from time import perf_counter
from urllib.parse import parse_qs, urlencode

from bench.common import (
    BASE_DIR,
    base_database_url,
    bench_database,
    child_environment,
    progress,
    seed_and_measure,
)

ORGANIZATIONS = 20
DOCTORS = 1_000
BATCH = 10_000
DEEP_PAGE = 5_000
TARGET_MS = 100
SUPERUSER_EMAIL = "operator@bench.example"
SEED = 20_240_501


# -- the parent: one child process per size, then the comparison ----------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000,1000000",
        help="comma-separated patient counts, smallest first (default: 1000,1000000)",
    )
    parser.add_argument("--repeat", type=int, default=15, help="measured requests per case")
    parser.add_argument(
        "--reseed", action="store_true", help="drop each bench database and seed it again"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.repeat)

    base_url = base_database_url()
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    results: dict[int, dict[str, dict]] = {}
    db = None
    for size in sizes:
        url = bench_database(
            base_url, str(size), sqlite_stem=f"patients-{size}", reseed=args.reseed
        )
        child_env = child_environment(url)
        command = [sys.executable, "-m", "bench.changelist", "--child", str(size)]
        command += ["--repeat", str(args.repeat)]
        with subprocess.Popen(
            command, cwd=BASE_DIR, env=child_env, stdout=subprocess.PIPE, text=True
        ) as proc:
            for line in proc.stdout:
                print(line, end="", flush=True)
                record = json.loads(line)
                db = record["db"]
                if record["case"] != "seed":
                    results.setdefault(size, {})[record["case"]] = record
        if proc.returncode:
            print(f"bench: the run at {size} patients failed", file=sys.stderr)
            return proc.returncode
    print(json.dumps(comparison(db, sizes, results)), flush=True)
    return 0


def comparison(db, sizes, results) -> dict:
    """The final line: per case, queries at each size and the median at the largest."""
    largest = results[sizes[-1]]
    cases = {}
    for case, record in largest.items():
        queries = [results[size][case]["queries"] for size in sizes]
        cases[case] = {
            "queries": queries,
            "same_queries": len(set(queries)) == 1,
            "median_ms": record["median_ms"],
            "under_100_ms": record["median_ms"] < TARGET_MS,
        }
    return {
        "case": "comparison",
        "db": db,
        "sizes": sizes,
        "queries_equal": all(c["same_queries"] for c in cases.values()),
        "cases": cases,
    }


# -- the child: seed (when needed) and measure one size --------------------------


def child(size: int, repeat: int) -> int:
    return seed_and_measure(
        size, is_seeded=is_seeded, seed=seed, measurements=lambda: measure(size, repeat)
    )


def is_seeded(size: int) -> bool:
    from clinic.models import Doctor, Patient, PatientUserObjectPermission
    from people.models import User

    return (
        Patient.objects.count() == size
        and Doctor.objects.count() == DOCTORS
        and PatientUserObjectPermission.objects.count() == 2 * size
        and User.objects.filter(email=SUPERUSER_EMAIL).exists()
    )


def seed(size: int) -> None:
    """Fill the database with ``size`` patients (see the module docstring)."""
    import datetime
    import random

    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, Permission
    from django.core.management import call_command
    from django.db import connection, transaction
    from faker.providers.person.en_US import Provider as Names

    from clinic.models import Doctor, Organization, Patient, PatientUserObjectPermission
    from people import roles
    from people.models import Profile, User
    from people.services import user_create

    if Patient.objects.exists() or User.objects.exists():
        progress("the database holds another seed; emptying it")
        call_command("flush", interactive=False, verbosity=0)
        call_command("sync_roles", verbosity=0)

    rng = random.Random(SEED)
    last_names = list(Names.last_names)
    first_names = list(Names.first_names_female) + list(Names.first_names_male)
    progress(f"seeding {ORGANIZATIONS} sites, {DOCTORS} doctors with logins, {size} patients")
    with transaction.atomic():
        user_create(
            email=SUPERUSER_EMAIL,
            password=None,
            actor=None,
            reason="bench",
            role=roles.ADMINISTRATOR,
            is_superuser=True,
        )
        sites = Organization.objects.bulk_create(
            Organization(external_id=f"bench-site-{i}", name=f"Bench clinic {i}", state="MA")
            for i in range(ORGANIZATIONS)
        )
        password = make_password("bench-only")
        names = [(rng.choice(first_names), rng.choice(last_names)) for _ in range(DOCTORS)]
        users = User.objects.bulk_create(
            User(
                email=f"doctor{i}@bench.example",
                password=password,
                is_staff=True,
                first_name=first,
                last_name=last,
            )
            for i, (first, last) in enumerate(names)
        )
        Profile.objects.bulk_create(Profile(user=user) for user in users)
        doctor_role = Group.objects.get(name=roles.DOCTOR)
        User.groups.through.objects.bulk_create(
            User.groups.through(user_id=user.pk, group_id=doctor_role.pk) for user in users
        )
        doctors = Doctor.objects.bulk_create(
            Doctor(
                external_id=f"bench-doctor-{i}",
                first_name=first,
                last_name=last,
                specialty="GENERAL PRACTICE",
                organization=sites[i % ORGANIZATIONS],
                user=users[i],
            )
            for i, (first, last) in enumerate(names)
        )
    grantee = {doctor.pk: doctor.user_id for doctor in doctors}
    permissions = [
        Permission.objects.get(content_type__app_label="clinic", codename=codename).pk
        for codename in ("view_patient", "change_patient")
    ]
    first_birthday = datetime.date(1930, 1, 1)
    for start in range(0, size, BATCH):
        patients = [
            Patient(
                mrn=f"B{i:09d}",
                external_id=f"bench-patient-{i}",
                first_name=rng.choice(first_names),
                last_name=rng.choice(last_names),
                birth_date=first_birthday + datetime.timedelta(days=rng.randrange(30_000)),
                gender=rng.choice("FM"),
                ssn=f"{rng.randrange(1, 900):03d}-{rng.randrange(1, 100):02d}-{i % 10_000:04d}",
                address=f"{rng.randrange(1, 999)} Main Street",
                city="Boston",
                state="MA",
                zip="02115",
                primary_doctor_id=doctors[i % DOCTORS].pk,
            )
            for i in range(start, min(size, start + BATCH))
        ]
        with transaction.atomic():
            Patient.objects.bulk_create(patients)
            PatientUserObjectPermission.objects.bulk_create(
                (
                    PatientUserObjectPermission(
                        user_id=grantee[patient.primary_doctor_id],
                        permission_id=permission,
                        content_object_id=patient.pk,
                    )
                    for patient in patients
                    for permission in permissions
                ),
                batch_size=BATCH,
            )
        done = start + len(patients)
        if done % 100_000 == 0 or done == size:
            progress(f"{done} patients")
    with connection.cursor() as cursor:
        # Outside a transaction: VACUUM refuses to run inside one.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def measure(size: int, repeat: int):
    """Yield one record per case (see the module docstring)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from admin_ext.pagination import keyset_link_params
    from clinic.admin import PatientAdmin
    from clinic.models import Doctor, Patient
    from people.models import User
    from people.two_factor.testing import sign_in

    url = reverse("admin:clinic_patient_changelist")
    per_page = PatientAdmin.list_per_page
    ordering = Patient._meta.ordering
    superuser = User.objects.get(email=SUPERUSER_EMAIL)
    doctor = Doctor.objects.select_related("user").order_by("pk").first().user

    def expected_rows(user, start, stop):
        rows = Patient.objects.visible_to(user).order_by(*ordering)
        return list(rows.values_list("mrn", flat=True)[start:stop])

    def last_rows(user, count):
        rows = Patient.objects.visible_to(user).order_by(*[f"-{f}" for f in ordering])
        return list(rows.values_list("mrn", flat=True)[:count])[::-1]

    client = Client()

    def run(case, user, query, page, check):
        sign_in(client, user)
        for _ in range(2):
            response = client.get(url + query)
            assert response.status_code == 200, (case, response.status_code)
        shown = shown_rows(response)
        check(shown)
        timings, db_timings, queries = [], [], set()
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                started = perf_counter()
                response = client.get(url + query)
                timings.append((perf_counter() - started) * 1000)
            assert response.status_code == 200, (case, response.status_code)
            queries.add(len(captured))
            db_timings.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
        return {
            "case": case,
            "page": page,
            "shown": len(shown),
            "median_ms": round(statistics.median(timings), 1),
            "min_ms": round(min(timings), 1),
            "db_ms": round(statistics.median(db_timings), 1),
            "queries": max(queries),
        }

    def same_as(user, start):
        def check(shown):
            expected = expected_rows(user, start, start + per_page)
            assert shown == expected, f"rows differ from OFFSET {start}"

        return check

    def last_page_check(user):
        def check(shown):
            assert shown and shown == last_rows(user, len(shown)), "not the last rows"

        return check

    pages = math.ceil(size / per_page)
    deep = min(DEEP_PAGE, pages)
    yield run("superuser page 1", superuser, "", 1, same_as(superuser, 0))

    # The deep page as a user reaches it: by the link that the page before it
    # draws. That page is opened by a link built the way the changelist builds
    # them (the key of the last row of the page before, read here with OFFSET).
    previous = ""
    if deep > 2:
        (mrn,) = expected_rows(superuser, (deep - 2) * per_page - 1, (deep - 2) * per_page)
        anchor = Patient.objects.get(mrn=mrn)
        previous = "?" + urlencode(
            keyset_link_params(Patient, ordering, anchor, deep - 1, deep - 2)
        )
    query = page_links(client, superuser, url + previous).get(deep, f"?p={deep}")
    yield run(
        f"superuser page {DEEP_PAGE}",
        superuser,
        query,
        deep,
        same_as(superuser, (deep - 1) * per_page),
    )
    yield run(
        f"superuser page {DEEP_PAGE} typed",
        superuser,
        f"?p={deep}",
        deep,
        same_as(superuser, (deep - 1) * per_page),
    )

    page, query = max(page_links(client, superuser, url).items(), default=(1, ""))
    yield run("superuser last page", superuser, query, page, last_page_check(superuser))

    yield run("doctor page 1", doctor, "", 1, same_as(doctor, 0))
    page, query = max(page_links(client, doctor, url).items(), default=(1, ""))
    yield run("doctor last page", doctor, query, page, last_page_check(doctor))


MRN = re.compile(r">(B\d{9})</a>")
PAGE_LINK = re.compile(r'href="(\?[^"]*)"')


def shown_rows(response) -> list[str]:
    """The MRNs of the rows a changelist response shows, in order."""
    return MRN.findall(response.content.decode())


def page_links(client, user, url) -> dict[int, str]:
    """The page links of the changelist page at ``url``: ``{page number: query string}``."""
    from people.two_factor.testing import sign_in

    sign_in(client, user)
    content = client.get(url).content.decode()
    links = {}
    for href in PAGE_LINK.findall(content[content.find('class="pagination') :]):
        query = html.unescape(href)
        page = parse_qs(query[1:]).get("p", [""])[0]
        if page.isdigit():
            links[int(page)] = query
    return links


if __name__ == "__main__":
    sys.exit(main())
