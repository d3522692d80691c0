"""No SSN oracle: without ``clinic.view_ssn`` nobody filters, sorts or searches by SSN.

Django's changelist accepts a lookup on any local field, so ``?mrn=<mrn>&ssn__startswith=
999-1``, one character at a time, read a masked SSN out of the row count (72
requests). Each probe below is made twice, with a right guess and a wrong one: the
answers must not differ.
"""

from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Patient
from clinic.tests.factories import PatientFactory

PATIENTS = "admin:clinic_patient_changelist"
UNASSIGNED = "admin:clinic_unassignedpatient_changelist"
ARCHIVED = "admin:clinic_archivedpatient_changelist"
DOCTORS = "admin:clinic_doctor_changelist"
ORGANIZATIONS = "admin:clinic_organization_changelist"
USERS = "admin:people_user_changelist"

#: Lookups on the SSN, each with a right and a wrong guess for "999-12-4321".
SSN_PROBES = [
    ("ssn", "999-12-4321", "999-12-0000"),
    ("ssn__exact", "999-12-4321", "999-12-0000"),
    ("ssn__iexact", "999-12-4321", "999-12-0000"),
    ("ssn__startswith", "999-1", "999-9"),
    ("ssn__istartswith", "999-12-4", "999-12-5"),
    ("ssn__endswith", "4321", "0000"),
    ("ssn__contains", "12-43", "88-88"),
    ("ssn__regex", "^999-12", "^999-99"),
    ("ssn__gt", "999-12-4320", "999-99-9999"),
    ("ssn__lte", "999-12-4321", "000-00-0000"),
    ("ssn__range", "999-12-0000,999-12-9999", "000-00-0000,000-00-0001"),
    ("ssn__in", "999-12-4321", "999-12-0000"),
    ("ssn__isnull", "False", "True"),
]


class SsnLookupTestCase(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.alice_patient.ssn = "999-12-4321"
        services.patient_save(patient=cls.alice_patient, actor=cls.admin, reason="SSN on file")
        # Unassigned (in the unassigned queue) and archived patients with SSNs that
        # would match the same guesses, for the work queues.
        cls.other_patient.ssn = "999-12-4321"
        services.patient_save(patient=cls.other_patient, actor=cls.admin, reason="SSN on file")
        cls.archived = PatientFactory(first_name="Ada", last_name="Archer", ssn="999-12-4321")
        services.patient_archive(patient=cls.archived, actor=cls.admin, reason="test")
        for n, ssn in enumerate(["999-01-1111", "999-55-5555", "999-90-9999"]):
            PatientFactory(first_name=f"Pat{n}", last_name="Sorter", ssn=ssn)
        cls.without_view_ssn = [cls.front_desk, cls.auditor, cls.steward, cls.alice]

    def probe(self, url_name, params: dict):
        """(status, body) of a GET on ``url_name`` with ``params``."""
        response = self.client.get(reverse(url_name), params)
        return response.status_code, response.content

    def assert_guesses_answer_alike(self, user, url_name, target_params, prefix=""):
        """Each SSN probe, right and wrong guess: same status, same body, refused."""
        self.login(user)
        for lookup, right, wrong in SSN_PROBES:
            with self.subTest(user=user.email, page=url_name, lookup=prefix + lookup):
                right_answer = self.probe(url_name, {**target_params, prefix + lookup: right})
                wrong_answer = self.probe(url_name, {**target_params, prefix + lookup: wrong})
                self.assertEqual(right_answer, wrong_answer)
                # 400 (refused) where the user may open the list, 403 where they may not.
                self.assertIn(right_answer[0], (400, 403))


class SsnLookupRefusedTests(SsnLookupTestCase):
    def test_it_refuses_ssn_lookups_on_the_patient_list_to_every_role_without_view_ssn(self):
        for user in self.without_view_ssn:
            self.assert_guesses_answer_alike(user, PATIENTS, {"mrn": self.alice_patient.mrn})
            self.assertEqual(self.probe(PATIENTS, {"ssn__startswith": "9"})[0], 400)

    def test_it_refuses_a_doctor_on_their_own_patient(self):
        self.assert_guesses_answer_alike(self.alice, PATIENTS, {"mrn": self.alice_patient.mrn})

    def test_it_refuses_ssn_lookups_on_the_work_queues(self):
        for user in (self.front_desk, self.auditor, self.steward):
            self.assert_guesses_answer_alike(user, UNASSIGNED, {"mrn": self.other_patient.mrn})
            self.assert_guesses_answer_alike(user, ARCHIVED, {"mrn": self.archived.mrn})
            self.assertEqual(self.probe(UNASSIGNED, {"ssn__startswith": "9"})[0], 400)
            self.assertEqual(self.probe(ARCHIVED, {"ssn__startswith": "9"})[0], 400)

    def test_it_refuses_ssn_lookups_through_relations_from_other_lists(self):
        for user in self.without_view_ssn:
            self.assert_guesses_answer_alike(
                user, DOCTORS, {"last_name": "Adams"}, prefix="patients__"
            )
            self.assert_guesses_answer_alike(user, ORGANIZATIONS, {}, prefix="doctors__patients__")
        self.assert_guesses_answer_alike(
            self.auditor, USERS, {"email": "alice@example.com"}, prefix="doctor__patients__"
        )

    def test_it_refuses_ssn_lookups_on_the_export(self):
        for user in (self.steward, self.auditor):
            self.login(user)
            for lookup, right, wrong in SSN_PROBES[:4]:
                with self.subTest(user=user.email, lookup=lookup):
                    answers = [
                        self.client.post(
                            reverse("admin:clinic_patient_export")
                            + f"?mrn={self.alice_patient.mrn}&{lookup}={guess}",
                            {"format": 0, "resource": 0},
                        )
                        for guess in (right, wrong)
                    ]
                    self.assertEqual([a.status_code for a in answers], [400, 400])
                    self.assertEqual(answers[0].content, answers[1].content)


class SsnOrderingAndSearchTests(SsnLookupTestCase):
    def order(self, user, direction: str) -> list[int]:
        """The patient list ordered by its SSN column (masked or not), as pks."""
        self.login(user)
        columns = self.client.get(reverse(PATIENTS)).context["cl"].list_display
        column = columns.index("ssn" if user.has_perm("clinic.view_ssn") else "masked_ssn")
        response = self.client.get(reverse(PATIENTS), {"o": f"{direction}{column}"})
        self.assertEqual(response.status_code, 200)
        return [p.pk for p in response.context["cl"].result_list]

    def test_it_ignores_sorting_by_the_ssn_column_without_view_ssn(self):
        for user in self.without_view_ssn:
            with self.subTest(user=user.email):
                self.assertEqual(self.order(user, ""), self.order(user, "-"))

    def test_it_sorts_by_ssn_for_administrators(self):
        ascending = self.order(self.admin, "")
        self.assertNotEqual(ascending, self.order(self.admin, "-"))
        ssns = list(Patient.objects.filter(pk__in=ascending).values_list("pk", "ssn"))
        self.assertEqual(ascending, [pk for pk, _ in sorted(ssns, key=lambda r: (r[1], -r[0]))])

    def test_it_does_not_search_by_ssn(self):
        for user in [*self.without_view_ssn, self.admin]:
            self.login(user)
            with self.subTest(user=user.email):
                counts = [
                    self.client.get(reverse(PATIENTS), {"q": guess}).context["cl"].result_count
                    for guess in ("999-12-4321", "999-12-0000")
                ]
                self.assertEqual(counts, [0, 0])


class SsnLookupAllowedTests(SsnLookupTestCase):
    def test_it_lets_administrators_filter_by_ssn(self):
        for user in (self.admin, self.operator):
            self.login(user)
            with self.subTest(user=user.email):
                response = self.client.get(
                    reverse(PATIENTS), {"mrn": self.alice_patient.mrn, "ssn__startswith": "999-1"}
                )
                self.assertEqual(response.status_code, 200)
                self.assertEqual(list(response.context["cl"].result_list), [self.alice_patient])
                response = self.client.get(
                    reverse(PATIENTS), {"mrn": self.alice_patient.mrn, "ssn__startswith": "999-9"}
                )
                self.assertEqual(list(response.context["cl"].result_list), [])

    def test_it_still_filters_by_other_fields_without_view_ssn(self):
        self.login(self.front_desk)
        response = self.client.get(reverse(PATIENTS), {"mrn": self.alice_patient.mrn})
        self.assertEqual(list(response.context["cl"].result_list), [self.alice_patient])
