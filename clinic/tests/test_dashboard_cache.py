"""The dashboard's numbers are cached and never stale after a save (issue 8, item 3).

These tests commit for real (TransactionTestCase), as requests do: the dashboard
stores its numbers only outside transactions, and the services' invalidation runs
when their transaction commits.
"""

import datetime
import re

from django.core.cache import cache
from django.db import connection, transaction
from django.test import TransactionTestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from admin_ext.dashboard.tests.reading import index_url, queues, stats
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.dashboard import ClinicDashboard
from clinic.models import Doctor, Patient
from clinic.tests.factories import DoctorFactory, OrganizationFactory, PatientFactory
from people.services import roles_sync
from people.two_factor.testing import sign_in

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "clinic-dashboard-cache-tests",
    }
}


class Rollback(Exception):
    pass


def counts(sql: str) -> bool:
    """Whether ``sql`` counts patients or doctors (the dashboard's numbers and charts)."""
    tables = "|".join(
        re.escape(connection.ops.quote_name(m._meta.db_table)) for m in (Patient, Doctor)
    )
    return bool(re.search(rf"COUNT\(.*FROM ({tables})(\s|,|$)", sql, re.S))


@override_settings(CACHES=CACHES)
class DashboardCacheTests(TransactionTestCase):
    def setUp(self):
        cache.clear()
        # The flush after an earlier transactional test empties the role groups.
        roles_sync()
        ClinicTestCase.setUpTestData.__func__(self)

    def numbers(self, user) -> dict[str, int]:
        sign_in(self.client, user)
        response = self.client.get(index_url())
        self.assertEqual(response.status_code, 200)
        return stats(response.content.decode())

    def new_patient(self, **fields) -> Patient:
        return services.patient_save(
            patient=PatientFactory.build(**fields),
            actor=self.front_desk,
            reason="test",
            confirmed_not_duplicate=True,
        )

    def test_a_second_view_reads_the_numbers_from_the_cache(self):
        sign_in(self.client, self.admin)
        with CaptureQueriesContext(connection) as first:
            self.client.get(index_url())
        with CaptureQueriesContext(connection) as second:
            response = self.client.get(index_url())
        self.assertEqual(stats(response.content.decode())["active"], 2)
        self.assertLess(len(second), len(first))
        self.assertEqual(len([q for q in first if counts(q["sql"])]), 3)
        self.assertEqual([q["sql"] for q in second if counts(q["sql"])], [])

    def test_saves_through_the_services_show_at_once(self):
        self.assertEqual(
            self.numbers(self.admin),
            {"active": 2, "unassigned": 1, "deceased": 0, "archived": 0, "doctors": 2},
        )
        self.assertEqual(self.numbers(self.alice)["active"], 1)

        walk_in = self.new_patient()
        self.assertEqual(self.numbers(self.admin)["unassigned"], 2)

        services.patient_assign_primary_doctor(
            patient=walk_in, doctor=self.dr_alice, actor=self.front_desk, reason="test"
        )
        self.assertEqual(self.numbers(self.admin)["unassigned"], 1)
        self.assertEqual(self.numbers(self.alice)["active"], 2)

        services.patient_archive(patient=walk_in, actor=self.front_desk, reason="test")
        sign_in(self.client, self.front_desk)
        html = self.client.get(index_url()).content.decode()
        self.assertEqual(stats(html)["archived"], 1)
        self.assertEqual(queues(html)["archived"][0], 1)
        self.assertEqual(self.numbers(self.alice)["archived"], 1)

        services.patient_restore(patient=walk_in, actor=self.front_desk, reason="test")
        self.assertEqual(self.numbers(self.admin)["archived"], 0)

        services.doctor_save(
            doctor=DoctorFactory.build(organization=OrganizationFactory()),
            actor=self.admin,
            reason="test",
        )
        self.assertEqual(self.numbers(self.front_desk)["doctors"], 3)

    def test_imports_and_shares_show_at_once(self):
        self.numbers(self.admin), self.numbers(self.bob)
        services.patients_bulk_save(
            created=[PatientFactory.build() for _ in range(3)],
            updated=[],
            actor=self.steward,
            reason="Import #1",
        )
        self.assertEqual(self.numbers(self.admin)["unassigned"], 4)

        services.records_bulk_save(
            model=Doctor,
            created=[DoctorFactory.build(organization=OrganizationFactory())],
            updated=[],
            actor=self.steward,
            reason="Import #1",
        )
        self.assertEqual(self.numbers(self.admin)["doctors"], 3)

        share = services.patient_share(
            patient=self.alice_patient, actor=self.alice, reason="Covering", user=self.bob
        )
        self.assertEqual(self.numbers(self.bob)["active"], 1)
        services.patient_unshare(share=share, actor=self.alice, reason="Back")
        self.assertEqual(self.numbers(self.bob)["active"], 0)

    def test_a_write_that_rolls_back_never_shows(self):
        self.assertEqual(self.numbers(self.admin)["active"], 2)
        try:
            with transaction.atomic():
                self.new_patient()
                # Seen by the writing transaction itself, not stored for others.
                self.assertEqual(self.numbers(self.admin)["active"], 3)
                raise Rollback
        except Rollback:
            pass
        self.assertEqual(self.numbers(self.admin)["active"], 2)

    def test_a_doctors_numbers_are_kept_no_later_than_her_first_share_lapses(self):
        expires = timezone.now() + datetime.timedelta(hours=2)
        services.patient_share(
            patient=self.alice_patient,
            actor=self.alice,
            reason="Covering",
            user=self.bob,
            expires_at=expires,
        )
        self.assertEqual(ClinicDashboard().panels(self.bob).valid_until, expires)
        self.assertIsNone(ClinicDashboard().panels(self.admin).valid_until)
