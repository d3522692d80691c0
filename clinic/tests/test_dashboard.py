"""The admin index as a dashboard per viewer (issue 8, item 3): the numbers each role
sees, the work queues, the charts, recent imports and the viewer's most visited
records. Caching is tested in test_dashboard_cache.py; these run inside a test
transaction, where the dashboard never stores numbers (admin_ext.dashboard.cache)."""

import datetime
from unittest import mock

from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access
from admin_ext.dashboard.tests.reading import (
    chart,
    index_url,
    panels,
    queues,
    stat_url,
    stats,
    text,
)
from admin_ext.imports.models import ImportJob
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.dashboard import months_back
from clinic.tests.factories import DoctorFactory, PatientFactory
from people import roles
from people.services import user_create
from people.two_factor.testing import sign_in

EVERYONE = {"active": 2, "unassigned": 1, "deceased": 1, "archived": 1, "doctors": 3}


class DashboardTests(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # Bob's patient died; a third patient is archived; a third doctor is inactive
        # (not counted) and a fourth active one has no patient.
        cls.bob_patient = PatientFactory(first_name="Bea", last_name="Brook")
        services.patient_assign_primary_doctor(
            patient=cls.bob_patient, doctor=cls.dr_bob, actor=cls.admin, reason="test"
        )
        cls.bob_patient.death_date = datetime.date(2024, 1, 2)
        services.patient_save(patient=cls.bob_patient, actor=cls.admin, reason="Died")
        cls.archived = PatientFactory(first_name="Arlo", last_name="Archer")
        services.patient_archive(patient=cls.archived, actor=cls.admin, reason="Moved away")
        DoctorFactory(last_name="Gone", active=False)
        DoctorFactory(last_name="Idle")

    def dashboard(self, user) -> str:
        self.login(user)
        response = self.client.get(index_url())
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def test_staff_who_see_every_patient_see_every_patients_numbers(self):
        for user in (self.operator, self.admin, self.front_desk, self.steward, self.auditor):
            with self.subTest(user=user.email):
                html = self.dashboard(user)
                self.assertEqual(stats(html), EVERYONE)
                self.assertIn('<h4 class="mb-3">Patients</h4>', panels(html))

    def test_a_doctor_sees_her_own_patients_by_status_and_nothing_about_others(self):
        html = self.dashboard(self.alice)
        self.assertEqual(stats(html), {"active": 1, "deceased": 0, "archived": 0, "doctors": 3})
        self.assertIn("Your patients", panels(html))
        # No queue, no per-doctor chart: nothing about other doctors' patients.
        self.assertEqual(queues(html), {})
        self.assertIsNone(chart(html, "per_doctor"))
        self.assertNotIn("Brown", text(panels(html)))
        self.assertEqual(sum(value for _, value, _ in chart(html, "per_month")), 1)

        html = self.dashboard(self.bob)
        self.assertEqual(stats(html), {"active": 0, "deceased": 1, "archived": 0, "doctors": 3})
        self.assertEqual(sum(value for _, value, _ in chart(html, "per_month")), 1)

    def test_a_doctor_counts_a_patient_shared_with_her_until_the_share_ends(self):
        share = services.patient_share(
            patient=self.bob_patient, actor=self.bob, reason="Covering", user=self.alice
        )
        self.assertEqual(stats(self.dashboard(self.alice))["deceased"], 1)
        services.patient_unshare(share=share, actor=self.bob, reason="Back")
        self.assertEqual(stats(self.dashboard(self.alice))["deceased"], 0)

    def test_the_numbers_open_the_lists_they_count(self):
        html = self.dashboard(self.front_desk)
        changelist = reverse("admin:clinic_patient_changelist")
        self.assertEqual(stat_url(html, "active"), f"{changelist}?status=active")
        self.assertEqual(stat_url(html, "deceased"), f"{changelist}?status=deceased")
        self.assertEqual(
            stat_url(html, "unassigned"), reverse("admin:clinic_unassignedpatient_changelist")
        )
        self.assertEqual(stat_url(html, "doctors"), reverse("admin:clinic_doctor_changelist"))
        listed = self.client.get(stat_url(html, "deceased")).content.decode()
        self.assertIn(self.bob_patient.mrn, listed)
        self.assertNotIn(self.alice_patient.mrn, listed)

        # A doctor's numbers open her own list, filtered the same way.
        html = self.dashboard(self.alice)
        listed = self.client.get(stat_url(html, "active")).content.decode()
        self.assertIn(self.alice_patient.mrn, listed)

    def test_a_number_is_not_linked_for_a_viewer_who_may_not_open_its_list(self):
        # A new doctor has no patient she may view: her zeros show unlinked.
        carol = user_create(
            email="carol@example.com", password="x", role=roles.DOCTOR, actor=None, reason="t"
        )
        html = self.dashboard(carol)
        self.assertEqual(stats(html), {"active": 0, "deceased": 0, "archived": 0, "doctors": 3})
        self.assertIsNone(stat_url(html, "active"))
        self.assertEqual(stat_url(html, "doctors"), reverse("admin:clinic_doctor_changelist"))

    def test_the_work_queues_show_their_sizes_to_the_roles_that_work_them(self):
        expected = {
            "unassigned": (1, reverse("admin:clinic_unassignedpatient_changelist")),
            "archived": (1, reverse("admin:clinic_archivedpatient_changelist")),
        }
        for user in (self.admin, self.front_desk, self.steward, self.auditor):
            with self.subTest(user=user.email):
                self.assertEqual(queues(self.dashboard(user)), expected)
        for user in (self.alice, self.bob):
            with self.subTest(user=user.email):
                self.assertEqual(queues(self.dashboard(user)), {})

    def test_patients_per_doctor_counts_active_patients_and_links_to_them(self):
        html = self.dashboard(self.admin)
        bars = chart(html, "per_doctor")
        url = (
            f"{reverse('admin:clinic_patient_changelist')}?status=active&doctor={self.dr_alice.pk}"
        )
        # Bob's only patient is deceased; the idle doctor has none.
        self.assertEqual(bars, [("Dr. Alice Adams", 1, url)])
        listed = self.client.get(url).content.decode()
        self.assertIn(self.alice_patient.mrn, listed)
        self.assertNotIn(self.other_patient.mrn, listed)

    def test_patients_per_doctor_shows_the_ten_doctors_with_most_patients(self):
        doctors = [DoctorFactory(last_name=f"Doc{n:02d}") for n in range(12)]
        for n, doctor in enumerate(doctors):
            for _ in range(n + 1):
                services.patient_save(
                    patient=PatientFactory.build(primary_doctor=doctor),
                    actor=self.admin,
                    reason="test",
                    confirmed_not_duplicate=True,
                )
        bars = chart(self.dashboard(self.admin), "per_doctor")
        self.assertEqual([value for _, value, _ in bars], list(range(12, 2, -1)))
        self.assertTrue(bars[0][0].endswith("Doc11"))

    def test_new_patients_per_month_covers_the_last_twelve_months(self):
        now = timezone.localtime()
        firsts = months_back(now, 13)
        # Mid-month, two months back (counted) and twelve months back (just outside).
        created = []
        for first in (firsts[-3], firsts[0]):
            moment = timezone.make_aware(
                datetime.datetime.combine(first + datetime.timedelta(days=14), datetime.time(12))
            )
            with mock.patch("django.utils.timezone.now", return_value=moment):
                patient = services.patient_save(
                    patient=PatientFactory.build(),
                    actor=self.admin,
                    reason="test",
                    confirmed_not_duplicate=True,
                )
            created.append(patient)
        bars = chart(self.dashboard(self.admin), "per_month")
        self.assertEqual(len(bars), 12)
        self.assertEqual(bars[-1][0], now.strftime("%b %Y"))
        # Four patients this month (setUpTestData), one two months back.
        self.assertEqual(bars[-1][1], 4)
        self.assertEqual(bars[-3][1], 1)
        self.assertEqual(sum(value for _, value, _ in bars), 5)
        # Each bar opens the patients created that month (the current one: from its first day).
        listed = self.client.get(bars[-3][2]).content.decode()
        self.assertIn(created[0].mrn, listed)
        self.assertNotIn(created[1].mrn, listed)
        self.assertNotIn(self.alice_patient.mrn, listed)
        self.assertTrue(bars[-1][2].endswith(f"created_after={firsts[-1]}&created_before="))

    def test_recent_imports_show_what_the_viewer_may_open(self):
        started = timezone.now()
        own = ImportJob.objects.create(
            actor=self.steward, source="admin", kind="Patients", started_at=started
        )
        other = ImportJob.objects.create(
            actor=None, source="command", kind="Synthea folder", started_at=started
        )

        def url(job):
            return reverse("admin:imports_importjob_change", args=[job.pk])

        steward = panels(self.dashboard(self.steward))
        self.assertIn(f'href="{url(own)}"', steward)
        self.assertNotIn(f'href="{url(other)}"', steward)
        for user in (self.auditor, self.admin):
            with self.subTest(user=user.email):
                shown = panels(self.dashboard(user))
                self.assertIn(f'href="{url(own)}"', shown)
                self.assertIn(f'href="{url(other)}"', shown)
        for user in (self.front_desk, self.alice):
            with self.subTest(user=user.email):
                self.assertNotIn("Recent imports", panels(self.dashboard(user)))

    def test_most_visited_lists_the_viewers_own_visits_she_may_still_see(self):
        for _ in range(3):
            log_access(action=AccessLog.Action.VIEW, actor=self.alice, obj=self.alice_patient)
        # Seen while it was shared with her, or by someone else: never listed.
        for _ in range(5):
            log_access(action=AccessLog.Action.VIEW, actor=self.alice, obj=self.other_patient)
        log_access(action=AccessLog.Action.VIEW, actor=self.bob, obj=self.alice_patient)

        visits = text(panels(self.dashboard(self.alice)).split('id="dashboard-visits"')[1])
        self.assertIn(f"{self.alice_patient} patient 3 visits", visits)
        self.assertNotIn(self.other_patient.mrn, visits)

        services.patient_assign_primary_doctor(
            patient=self.alice_patient, doctor=self.dr_bob, actor=self.admin, reason="Moved"
        )
        visits = text(panels(self.dashboard(self.alice)).split('id="dashboard-visits"')[1])
        self.assertNotIn(self.alice_patient.mrn, visits)
        self.assertIn(
            f"{self.alice_patient} patient 1 visit", text(panels(self.dashboard(self.bob)))
        )

    def test_most_visited_shows_the_five_most_visited_most_first_with_links(self):
        patients = [PatientFactory() for _ in range(7)]
        for n, patient in enumerate(patients):
            for _ in range(n + 1):
                log_access(action=AccessLog.Action.VIEW, actor=self.front_desk, obj=patient)
        section = panels(self.dashboard(self.front_desk)).split('id="dashboard-visits"')[1]
        for patient in patients[2:]:
            url = reverse("admin:clinic_patient_change", args=[patient.pk])
            self.assertIn(f'href="{url}"', section)
        for patient in patients[:2]:
            self.assertNotIn(patient.mrn, section)
        order = [section.index(p.mrn) for p in reversed(patients[2:])]
        self.assertEqual(order, sorted(order))


class EmptyDashboardTests(TestCase):
    """A new installation: users, no doctor, no patient, no import."""

    @classmethod
    def setUpTestData(cls):
        cls.users = [
            user_create(email=f"{n}@example.com", password="x", role=role, actor=None, reason="t")
            for n, role in enumerate(roles.ROLES)
        ]
        cls.users.append(
            user_create(
                email="root@example.com",
                password="x",
                role=roles.ADMINISTRATOR,
                actor=None,
                reason="t",
                is_superuser=True,
            )
        )

    def test_every_role_lands_on_a_dashboard_without_an_error(self):
        for user in self.users:
            with self.subTest(user=user.email):
                sign_in(self.client, user)
                response = self.client.get(index_url())
                self.assertEqual(response.status_code, 200)
                html = response.content.decode()
                self.assertEqual(set(stats(html).values()), {0})
                self.assertIn("The records you open most often will show here.", html)
                self.assertIn('id="recent-actions-module"', html)

    def test_the_charts_say_there_is_nothing_yet(self):
        sign_in(self.client, self.users[-1])
        html = self.client.get(index_url()).content.decode()
        self.assertEqual(chart(html, "per_doctor"), [])
        self.assertIn("No patient has a primary doctor yet.", html)
        self.assertIn("No patient registered in the last 12 months.", html)
        self.assertIn("No imports yet.", html)
