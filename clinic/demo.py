"""Demo data: a Synthea-format CSV folder written with Faker from a fixed seed.

``write_demo_synthea(directory)`` writes ``organizations.csv``, ``providers.csv``,
``patients.csv`` and ``encounters.csv`` with the column headers of Synthea's
newest CSV exporter (Synthea 3.x master, 2025; the set
``../shared/data/synthea/yael-icu-2025`` and its SOURCE.md show them; column
meanings: https://github.com/synthetichealth/synthea/wiki/CSV-File-Data-Dictionary).
``python manage.py seed_demo`` imports the folder with ``import_synthea``, so demo
data enters through the same path as real Synthea output.

The same seed gives byte-identical files: every random choice comes from one
seeded Faker instance (and its ``random.Random``), dates are counted from the fixed
``REFERENCE_DATE`` rather than today, and rows are written in generation order.

Everything here is synthetic: SSNs start with 999 (never issued), as Synthea's do.
"""

import csv
import datetime
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.db.models import Count
from faker import Faker

from clinic.models import Doctor
from clinic.services import doctor_save
from clinic.synthea_headers import HEADERS
from people import roles
from people.models import User
from people.services import user_create, user_set_role, user_update

#: Default seed of ``seed_demo`` and ``write_demo_synthea``.
DEFAULT_SEED = 2025
DEFAULT_PATIENTS = 300
DEFAULT_ORGANIZATIONS = 10
DEFAULT_PROVIDERS = 30
#: Share of patients written without encounters: they import with no primary
#: doctor, so the "Unassigned patients" queue has work in it.
UNASSIGNED_SHARE = 0.05
#: "Today" for the generator: birth dates and encounters are counted back from it.
REFERENCE_DATE = datetime.date(2025, 6, 30)


# Massachusetts towns with their county and county FIPS code, as Synthea's default
# (Massachusetts) population has them.
_TOWNS = [
    ("Boston", "Suffolk County", "25025"),
    ("Cambridge", "Middlesex County", "25017"),
    ("Somerville", "Middlesex County", "25017"),
    ("Worcester", "Worcester County", "25027"),
    ("Springfield", "Hampden County", "25013"),
    ("Lowell", "Middlesex County", "25017"),
    ("Quincy", "Norfolk County", "25021"),
    ("Brockton", "Plymouth County", "25023"),
    ("New Bedford", "Bristol County", "25005"),
    ("Salem", "Essex County", "25009"),
    ("Pittsfield", "Berkshire County", "25003"),
    ("Barnstable", "Barnstable County", "25001"),
]
_ORG_KINDS = ["Family Health Center", "Primary Care", "Medical Group", "Community Clinic"]
_SPECIALITIES = [
    ("GENERAL PRACTICE", 20),
    ("INTERNAL MEDICINE", 4),
    ("PEDIATRICS", 3),
    ("FAMILY MEDICINE", 3),
]
_RACES = [("white", 70), ("black", 9), ("asian", 8), ("other", 10), ("native", 2), ("hawaiian", 1)]
# (ENCOUNTERCLASS, SNOMED CT CODE, DESCRIPTION, BASE_ENCOUNTER_COST), as Synthea writes them.
_ENCOUNTER_KINDS = [
    ("wellness", "162673000", "General examination of patient (procedure)", "136.80"),
    ("wellness", "410620009", "Well child visit (procedure)", "136.80"),
    ("ambulatory", "185345009", "Encounter for symptom (procedure)", "85.55"),
    ("ambulatory", "390906007", "Follow-up encounter (procedure)", "85.55"),
    ("outpatient", "185349003", "Encounter for check up (procedure)", "85.55"),
]
# Massachusetts, roughly: latitude and longitude bounds for LAT/LON columns.
_LAT = (41.5, 42.8)
_LON = (-73.3, -70.0)


@dataclass
class DemoSummary:
    """What ``write_demo_synthea`` wrote.

    ``rows`` maps each file name to its row count; ``patient_ids`` and
    ``provider_ids`` list the ``Id`` values in file order; ``unassigned`` lists
    the patients written without encounters.
    """

    directory: Path
    rows: dict[str, int]
    patient_ids: list[str]
    unassigned: list[str]
    provider_ids: list[str]


def write_demo_synthea(
    directory: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    patients: int = DEFAULT_PATIENTS,
    organizations: int = DEFAULT_ORGANIZATIONS,
    providers: int = DEFAULT_PROVIDERS,
) -> DemoSummary:
    """Write a Synthea-format CSV folder of synthetic demo data into ``directory``.

    Args: ``directory`` (created if missing; the four files are overwritten),
    ``seed`` (the same seed writes byte-identical files), and the number of
    ``patients``, ``organizations`` and ``providers`` (each at least 1).
    Every provider works at one organization. Each patient with encounters has
    one provider who saw them in strictly more encounters than any other (their
    clear primary doctor); about ``UNASSIGNED_SHARE`` of patients have none.

    Returns a ``DemoSummary``. Raises ``ValueError`` for a count below 1 and
    ``OSError`` when the folder cannot be written.
    """
    if min(patients, organizations, providers) < 1:
        raise ValueError("patients, organizations and providers must each be at least 1.")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = fake.random

    orgs = [_organization(fake) for _ in range(organizations)]
    provs = [_provider(fake, orgs[i % organizations]) for i in range(providers)]
    people = [_patient(fake) for _ in range(patients)]

    n_unassigned = round(patients * UNASSIGNED_SHARE) if patients > 1 else 0
    unassigned = set(rng.sample(range(patients), n_unassigned))
    payers = [fake.uuid4() for _ in range(4)]
    encounters = []
    for index, person in enumerate(people):
        if index in unassigned:
            continue
        encounters.extend(_encounters_of(fake, person, provs, payers))

    for enc in encounters:
        enc["_provider"]["ENCOUNTERS"] += 1
        enc["_provider"]["_org"]["UTILIZATION"] += 1

    files = {
        "organizations.csv": orgs,
        "providers.csv": provs,
        "patients.csv": people,
        "encounters.csv": encounters,
    }
    return DemoSummary(
        directory=directory,
        rows={name: _write(directory, name, rows) for name, rows in files.items()},
        patient_ids=[p["Id"] for p in people],
        unassigned=[people[i]["Id"] for i in sorted(unassigned)],
        provider_ids=[p["Id"] for p in provs],
    )


def _write(directory: Path, name: str, rows: list[dict]) -> int:
    """Write ``rows`` under Synthea's header for ``name`` (UTF-8, LF, no BOM); return the count."""
    header = HEADERS[name]
    with open(directory / name, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([row[column] for column in header])
    return len(rows)


def _coords(fake: Faker) -> tuple[str, str]:
    rng = fake.random
    return f"{rng.uniform(*_LAT):.6f}", f"{rng.uniform(*_LON):.6f}"


def _zip(fake: Faker) -> str:
    # Massachusetts ZIP codes start with 01 or 02; Synthea keeps the leading zero.
    return fake.postcode_in_state("MA")


def _organization(fake: Faker) -> dict:
    city, _county, _fips = fake.random_element(_TOWNS)
    lat, lon = _coords(fake)
    return {
        "Id": fake.uuid4(),
        "NAME": f"{fake.last_name()} {fake.random_element(_ORG_KINDS)}",
        "ADDRESS": fake.street_address(),
        "CITY": city,
        "STATE": "MA",
        "ZIP": _zip(fake),
        "LAT": lat,
        "LON": lon,
        "PHONE": fake.random_element(["617", "508", "781", "978", "413"])
        + fake.numerify("-%##-####"),
        "REVENUE": "0.0",
        "UTILIZATION": 0,
    }


def _provider(fake: Faker, org: dict) -> dict:
    gender = fake.random_element(["F", "M"])
    first = fake.first_name_female() if gender == "F" else fake.first_name_male()
    specialities, weights = zip(*_SPECIALITIES, strict=True)
    return {
        "Id": fake.uuid4(),
        "ORGANIZATION": org["Id"],
        "NAME": f"{first} {fake.last_name()}",
        "GENDER": gender,
        "SPECIALITY": fake.random.choices(specialities, weights)[0],
        # Synthea gives a provider their organization's address.
        "ADDRESS": org["ADDRESS"],
        "CITY": org["CITY"],
        "STATE": org["STATE"],
        "ZIP": org["ZIP"],
        "LAT": org["LAT"],
        "LON": org["LON"],
        "ENCOUNTERS": 0,
        "PROCEDURES": 0,
        "_org": org,
    }


def _patient(fake: Faker) -> dict:
    rng = fake.random
    gender = fake.random_element(["F", "M"])
    female = gender == "F"
    age_days = rng.randint(0, 95 * 365)
    birth = REFERENCE_DATE - datetime.timedelta(days=age_days)
    adult = age_days >= 18 * 365
    death = ""
    if adult and rng.random() < 0.04:
        death = (birth + datetime.timedelta(days=rng.randint(18 * 365, age_days))).isoformat()
    marital = rng.choices(["M", "S", "D", "W"], [50, 35, 10, 5])[0] if adult else ""
    first = fake.first_name_female() if female else fake.first_name_male()
    middle = ""
    if rng.random() < 0.8:
        middle = fake.first_name_female() if female else fake.first_name_male()
    last = fake.last_name()
    maiden = fake.last_name() if female and marital in ("M", "W", "D") else ""
    if not adult:
        prefix = ""
    elif female:
        prefix = "Mrs." if marital in ("M", "W") else "Ms."
    else:
        prefix = "Mr."
    races, weights = zip(*_RACES, strict=True)
    city, county, fips = fake.random_element(_TOWNS)
    birth_town = fake.random_element(_TOWNS)[0]
    lat, lon = _coords(fake)
    return {
        "Id": fake.uuid4(),
        "BIRTHDATE": birth.isoformat(),
        "DEATHDATE": death,
        "SSN": fake.numerify("999-##-####"),
        "DRIVERS": fake.numerify("S999#####") if adult else "",
        "PASSPORT": fake.numerify("X########X") if adult and rng.random() < 0.6 else "",
        "PREFIX": prefix,
        "FIRST": first,
        "MIDDLE": middle,
        "LAST": last,
        "SUFFIX": "Jr." if not female and adult and rng.random() < 0.02 else "",
        "MAIDEN": maiden,
        "MARITAL": marital,
        "RACE": rng.choices(races, weights)[0],
        "ETHNICITY": "hispanic" if rng.random() < 0.12 else "nonhispanic",
        "GENDER": gender,
        # Synthea separates town, state and country with two spaces.
        "BIRTHPLACE": f"{birth_town}  Massachusetts  US",
        "ADDRESS": fake.street_address(),
        "CITY": city,
        "STATE": "Massachusetts",
        "COUNTY": county,
        "FIPS": fips,
        "ZIP": _zip(fake),
        "LAT": lat,
        "LON": lon,
        "HEALTHCARE_EXPENSES": f"{rng.uniform(1_000, 900_000):.2f}",
        "HEALTHCARE_COVERAGE": f"{rng.uniform(0, 300_000):.2f}",
        "INCOME": str(rng.randint(12_000, 250_000)),
        "_birth": birth,
        "_last_day": datetime.date.fromisoformat(death) if death else REFERENCE_DATE,
    }


def _encounters_of(fake: Faker, person: dict, provs: list[dict], payers: list[str]) -> list[dict]:
    """A patient's encounters: most with one primary provider, a few with others."""
    rng = fake.random
    primary = rng.choice(provs)
    primary_visits = rng.randint(3, 9)
    # Fewer visits with others than with the primary, so the primary is a clear majority.
    others = [p for p in provs if p is not primary]
    other_visits = (
        [rng.choice(others) for _ in range(rng.randint(0, primary_visits - 1))] if others else []
    )
    visits = [primary] * primary_visits + other_visits
    rng.shuffle(visits)
    last_day = person["_last_day"]
    first_day = max(person["_birth"], last_day - datetime.timedelta(days=10 * 365))
    span = (last_day - first_day).days
    rows = []
    for provider in visits:
        day = first_day + datetime.timedelta(days=rng.randint(0, span))
        start = datetime.datetime.combine(
            day, datetime.time(rng.randint(8, 17), rng.randint(0, 59), rng.randint(0, 59))
        )
        stop = start + datetime.timedelta(minutes=rng.choice([15, 30, 45, 60]))
        kind, code, description, base_cost = rng.choice(_ENCOUNTER_KINDS)
        total = float(base_cost) * rng.uniform(1, 6)
        covered = total * rng.choice([0, 0.5, 0.8, 1])
        rows.append(
            {
                "Id": fake.uuid4(),
                "START": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "STOP": stop.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "PATIENT": person["Id"],
                "ORGANIZATION": provider["ORGANIZATION"],
                "PROVIDER": provider["Id"],
                "PAYER": rng.choice(payers),
                "ENCOUNTERCLASS": kind,
                "CODE": code,
                "DESCRIPTION": description,
                "BASE_ENCOUNTER_COST": base_cost,
                "TOTAL_CLAIM_COST": f"{total:.2f}",
                "PAYER_COVERAGE": f"{covered:.2f}",
                "REASONCODE": "",
                "REASONDESCRIPTION": "",
                "_provider": provider,
            }
        )
    rows.sort(key=lambda row: row["START"])
    return rows


# Demo logins
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    """One demo account: the label printed for it, its role, email and password."""

    label: str
    role: str
    email: str
    password: str
    is_superuser: bool = False

    def line(self) -> str:
        """The line ``seed_demo`` prints: ``<role>: <email> / <password>``."""
        return f"{self.label}: {self.email} / {self.password}"


def _login(role: str, slug: str, **kwargs) -> DemoLogin:
    # Development-only passwords, printed by make run: seed_demo refuses to run
    # unless DEBUG is on, so they never exist on a production database.
    return DemoLogin(role, role, f"{slug}@demo.example", f"{slug}-dev-only", **kwargs)


#: One login per role (people.roles), plus a superuser for operators.
DEMO_LOGINS: list[DemoLogin] = [
    _login(roles.ADMINISTRATOR, "admin"),
    _login(roles.FRONT_DESK, "frontdesk"),
    _login(roles.DOCTOR, "doctor"),
    _login(roles.DATA_STEWARD, "steward"),
    _login(roles.AUDITOR, "auditor"),
    DemoLogin("Superuser", roles.ADMINISTRATOR, "operator@demo.example", "operator-dev-only", True),
]
DEMO_REASON = "Demo data (seed_demo)"


def demo_login_ensure(login: DemoLogin, **names: str) -> tuple[User, bool]:
    """Create the demo user for ``login``, or bring an existing one back to it.

    An existing user keeps its row; its password, role and superuser flag are
    reset to the demo values only where they differ, so a second run writes no
    history and the printed password always works. ``names`` (``first_name``,
    ``last_name``) apply to a new user only.
    Returns ``(user, created)``. Raises ``ValidationError`` from ``user_create``.
    """
    user = User.objects.filter(email__iexact=login.email).first()
    if user is None:
        user = user_create(
            email=login.email,
            password=login.password,
            role=login.role,
            is_superuser=login.is_superuser,
            actor=None,
            reason=DEMO_REASON,
            **names,
        )
        return user, True
    changes = {}
    if not user.check_password(login.password):
        user.set_password(login.password)
        changes["password"] = user.password
    if user.is_superuser != login.is_superuser or not user.is_active or not user.is_staff:
        changes.update(is_superuser=login.is_superuser, is_active=True, is_staff=True)
    if changes:
        user_update(user=user, actor=None, reason=DEMO_REASON, **changes)
    if not user.groups.filter(name=login.role).exists():
        user_set_role(user=user, role=login.role, actor=None, reason=DEMO_REASON)
    return user, False


def demo_doctor_pick(provider_ids: list[str]) -> Doctor | None:
    """The demo doctor: of the imported demo providers without a login, the one
    with the most patients (ties to the smaller ``external_id``), or None."""
    return (
        Doctor.objects.filter(external_id__in=provider_ids, user__isnull=True)
        .annotate(patient_count=Count("patients"))
        .filter(patient_count__gt=0)
        .order_by("-patient_count", "external_id")
        .first()
    )


@transaction.atomic
def demo_logins_seed(*, provider_ids: list[str]) -> Doctor:
    """Ensure every ``DEMO_LOGINS`` account exists and the demo doctor login is linked.

    The Doctor login is linked to a doctor who has patients: the one it is already
    linked to, else ``demo_doctor_pick(provider_ids)``; the new login takes that
    doctor's name. The link is saved through ``clinic.services.doctor_save``, which
    grants the login ``view_patient``/``change_patient`` on the doctor's patients.
    Returns the demo doctor. Raises ``LookupError`` when no demo doctor has
    patients (the import assigned no primary doctors); nothing is written then.
    """
    doctor_login = next(login for login in DEMO_LOGINS if login.role == roles.DOCTOR)
    doctor = Doctor.objects.filter(user__email__iexact=doctor_login.email).first()
    doctor = doctor or demo_doctor_pick(provider_ids)
    if doctor is None:
        raise LookupError(
            "No imported demo doctor has patients: import_synthea assigned no primary "
            "doctors from encounters.csv."
        )
    for login in DEMO_LOGINS:
        if login is doctor_login:
            user, _ = demo_login_ensure(
                login, first_name=doctor.first_name, last_name=doctor.last_name
            )
        else:
            demo_login_ensure(login)
    if doctor.user_id != user.pk:
        doctor.user = user
        doctor_save(doctor=doctor, actor=None, reason=DEMO_REASON)
    return doctor
