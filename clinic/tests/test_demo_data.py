"""Demo data: the Synthea-format generator and ``manage.py seed_demo`` (what ``make run`` does)."""

import collections
import csv
import io
import re
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpRequest
from django.test import SimpleTestCase, TestCase, override_settings
from django.urls import reverse

from clinic.demo import write_demo_synthea
from clinic.models import Doctor, Patient
from people import roles
from people.models import User
from people.two_factor.testing import verify_session

# The header lines of Synthea's newest CSV exporter, as in
# ../shared/data/synthea/yael-icu-2025/SOURCE.md.
SYNTHEA_HEADERS = {
    "patients.csv": "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME",
    "providers.csv": "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,ENCOUNTERS,PROCEDURES",
    "organizations.csv": "Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION",
    "encounters.csv": "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION",
}
SHARED_SET = Path(settings.BASE_DIR).parent / "shared" / "data" / "synthea" / "yael-icu-2025"
LOGIN_LINE = re.compile(r"^(?P<role>[A-Za-z ]+): (?P<email>\S+@\S+) / (?P<password>\S+)$")


def _tmpdir(test) -> Path:
    path = Path(tempfile.mkdtemp(prefix="demo-synthea-"))
    test.addCleanup(shutil.rmtree, path, ignore_errors=True)
    return path


def _rows(directory: Path, name: str) -> list[dict]:
    with open(directory / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


class DemoGeneratorTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.directory = Path(tempfile.mkdtemp(prefix="demo-synthea-"))
        cls.addClassCleanup(shutil.rmtree, cls.directory, ignore_errors=True)
        cls.summary = write_demo_synthea(cls.directory)

    def test_it_writes_the_same_bytes_for_the_same_seed(self):
        again = _tmpdir(self)
        write_demo_synthea(again)
        for name in SYNTHEA_HEADERS:
            with self.subTest(file=name):
                self.assertEqual((again / name).read_bytes(), (self.directory / name).read_bytes())

    def test_it_writes_other_data_for_another_seed(self):
        other = _tmpdir(self)
        write_demo_synthea(other, seed=7)
        self.assertNotEqual(
            (other / "patients.csv").read_bytes(), (self.directory / "patients.csv").read_bytes()
        )

    def test_it_writes_synthea_newest_headers(self):
        for name, header in SYNTHEA_HEADERS.items():
            with self.subTest(file=name):
                first_line = (self.directory / name).read_text(encoding="utf-8").split("\n", 1)[0]
                self.assertEqual(first_line, header)

    def test_its_headers_match_real_synthea_output(self):
        if not SHARED_SET.is_dir():
            self.skipTest(f"{SHARED_SET} is absent (../shared is not checked out)")
        for name in SYNTHEA_HEADERS:
            with self.subTest(file=name):
                real = (SHARED_SET / name).read_text(encoding="utf-8").split("\n", 1)[0]
                ours = (self.directory / name).read_text(encoding="utf-8").split("\n", 1)[0]
                self.assertEqual(ours, real)

    def test_it_writes_a_few_hundred_patients_ten_sites_and_thirty_doctors(self):
        self.assertEqual(len(_rows(self.directory, "patients.csv")), 300)
        self.assertEqual(len(_rows(self.directory, "organizations.csv")), 10)
        self.assertEqual(len(_rows(self.directory, "providers.csv")), 30)
        self.assertEqual(self.summary.rows["patients.csv"], 300)

    def test_every_reference_between_the_files_resolves(self):
        orgs = {r["Id"] for r in _rows(self.directory, "organizations.csv")}
        providers = {r["Id"]: r for r in _rows(self.directory, "providers.csv")}
        patients = {r["Id"] for r in _rows(self.directory, "patients.csv")}
        self.assertTrue(all(p["ORGANIZATION"] in orgs for p in providers.values()))
        for enc in _rows(self.directory, "encounters.csv"):
            self.assertIn(enc["PATIENT"], patients)
            self.assertIn(enc["PROVIDER"], providers)
            self.assertEqual(enc["ORGANIZATION"], providers[enc["PROVIDER"]]["ORGANIZATION"])

    def test_each_patient_with_encounters_has_one_clear_primary_provider(self):
        visits = collections.defaultdict(collections.Counter)
        for enc in _rows(self.directory, "encounters.csv"):
            visits[enc["PATIENT"]][enc["PROVIDER"]] += 1
        self.assertGreater(len(visits), 250)
        for patient, counter in visits.items():
            top = counter.most_common(2)
            if len(top) == 2:
                self.assertGreater(top[0][1], top[1][1], patient)

    def test_some_patients_have_no_encounters(self):
        with_encounters = {e["PATIENT"] for e in _rows(self.directory, "encounters.csv")}
        without = [
            p["Id"] for p in _rows(self.directory, "patients.csv") if p["Id"] not in with_encounters
        ]
        self.assertEqual(without, self.summary.unassigned)
        self.assertGreaterEqual(len(without), 5)

    def test_it_writes_synthea_value_formats(self):
        patient = _rows(self.directory, "patients.csv")[0]
        self.assertRegex(patient["BIRTHDATE"], r"^\d{4}-\d{2}-\d{2}$")
        self.assertRegex(patient["SSN"], r"^999-\d{2}-\d{4}$")
        self.assertIn(patient["GENDER"], ("F", "M"))
        self.assertRegex(patient["ZIP"], r"^0[12]\d{3}$")
        encounter = _rows(self.directory, "encounters.csv")[0]
        self.assertRegex(encounter["START"], r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
        raw = (self.directory / "patients.csv").read_bytes()
        self.assertFalse(raw.startswith(b"\xef\xbb\xbf"))
        self.assertNotIn(b"\r\n", raw)


@override_settings(DEBUG=True)
class SeedDemoTests(TestCase):
    """``seed_demo`` through the real ``import_synthea`` (a smaller folder, for speed)."""

    PATIENTS = 60

    @classmethod
    def setUpTestData(cls):
        cls.directory = Path(tempfile.mkdtemp(prefix="demo-synthea-"))
        cls.addClassCleanup(shutil.rmtree, cls.directory, ignore_errors=True)
        cls.first_output = cls.seed()

    @classmethod
    def seed(cls) -> str:
        out = io.StringIO()
        with override_settings(DEBUG=True):
            call_command("seed_demo", dir=cls.directory, patients=cls.PATIENTS, stdout=out)
        return out.getvalue()

    def logins(self, output: str) -> list[dict]:
        return [m.groupdict() for m in map(LOGIN_LINE.match, output.splitlines()) if m]

    def test_it_prints_one_login_per_role(self):
        printed = self.logins(self.first_output)
        self.assertEqual([login["role"] for login in printed], [*roles.ROLES, "Superuser"])

    def test_each_printed_login_signs_in_with_its_role(self):
        for login in self.logins(self.first_output):
            with self.subTest(role=login["role"]):
                self.assertTrue(
                    self.client.login(
                        request=HttpRequest(), email=login["email"], password=login["password"]
                    )
                )
                user = User.objects.get(email=login["email"])
                verify_session(self.client, user)  # the second factor, where the role needs it
                if login["role"] == "Superuser":
                    self.assertTrue(user.is_superuser)
                else:
                    self.assertEqual(
                        list(user.groups.values_list("name", flat=True)), [login["role"]]
                    )
                self.assertEqual(self.client.get(reverse("admin:index")).status_code, 200)
                self.client.logout()

    def test_it_imports_the_demo_folder(self):
        self.assertEqual(Patient.objects.count(), self.PATIENTS)
        self.assertEqual(Doctor.objects.count(), 30)
        self.assertGreater(Patient.objects.filter(primary_doctor__isnull=False).count(), 0)

    def test_its_history_names_the_data_steward_as_the_importer(self):
        record = Patient.history.filter(history_type="+").first()
        self.assertEqual(record.history_user.email, "steward@demo.example")
        self.assertRegex(record.history_change_reason, r"^Import #\d+$")

    def test_it_leaves_patients_in_the_unassigned_queue(self):
        self.assertEqual(Patient.objects.unassigned().count(), round(self.PATIENTS * 0.05))

    def test_a_second_run_reuses_everything_and_prints_the_same_logins(self):
        users, patients = User.objects.count(), Patient.objects.count()
        history = User.history.count() + Patient.history.count() + Doctor.history.count()
        second = self.seed()
        self.assertEqual(self.logins(second), self.logins(self.first_output))
        self.assertIn("import skipped", second)
        self.assertEqual(User.objects.count(), users)
        self.assertEqual(Patient.objects.count(), patients)
        self.assertEqual(
            User.history.count() + Patient.history.count() + Doctor.history.count(), history
        )

    def test_a_second_run_restores_a_changed_demo_password(self):
        user = User.objects.get(email="frontdesk@demo.example")
        user.set_password("something-else")
        user.save()
        self.seed()
        self.assertTrue(
            self.client.login(
                request=HttpRequest(), email="frontdesk@demo.example", password="frontdesk-dev-only"
            )
        )

    def test_the_demo_doctor_sees_exactly_their_patients(self):
        doctor_login = next(x for x in self.logins(self.first_output) if x["role"] == roles.DOCTOR)
        user = User.objects.get(email=doctor_login["email"])
        doctor = Doctor.objects.get(user=user)
        own = set(Patient.objects.filter(primary_doctor=doctor).values_list("pk", flat=True))
        self.assertGreater(len(own), 0)
        self.assertEqual(set(Patient.objects.visible_to(user).values_list("pk", flat=True)), own)

        self.client.login(
            request=HttpRequest(), email=doctor_login["email"], password=doctor_login["password"]
        )
        response = self.client.get(reverse("admin:clinic_patient_changelist"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.context["cl"].result_count, len(own))
        other = Patient.objects.exclude(pk__in=own).first()
        response = self.client.get(reverse("admin:clinic_patient_change", args=[other.pk]))
        self.assertIn(response.status_code, (302, 404))

    def test_it_names_the_doctor_login_after_its_doctor(self):
        user = User.objects.get(email="doctor@demo.example")
        self.assertEqual(
            (user.first_name, user.last_name), (user.doctor.first_name, user.doctor.last_name)
        )


class SeedDemoProductionTests(TestCase):
    @override_settings(DEBUG=False)
    def test_it_refuses_to_run_when_debug_is_off(self):
        directory = _tmpdir(self)
        with self.assertRaisesMessage(CommandError, "DEBUG=true"):
            call_command("seed_demo", dir=directory, stdout=io.StringIO())
        self.assertFalse(User.objects.exists())
        self.assertFalse(any(directory.iterdir()))
