"""Long patient lists: counts stop at a cap, deep pages are read by key, not OFFSET.

``admin_ext.pagination`` switches on above ``CountingPaginator.count_cap`` rows (10,000);
these tests lower the cap to 10 and the page to 5 rows, so 30-odd patients make a
"long" list. Assertions are on the SQL the changelist runs, never on timings
(``make bench`` measures those).
"""

import re
from unittest import mock

from django.contrib.admin.views.main import ORDER_VAR, PAGE_VAR
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from admin_ext.pagination import CURSOR_VAR, CountingPaginator
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.admin import PatientAdmin
from clinic.models import Patient
from clinic.tests.factories import PatientFactory

URL = reverse("admin:clinic_patient_changelist")
PER_PAGE = 5
ORDERING = ["last_name", "first_name", "id"]


def long_lists(test_class):
    """Run ``test_class`` with a count cap of 10 rows and pages of 5."""
    test_class = mock.patch.object(CountingPaginator, "count_cap", 10)(test_class)
    return mock.patch.object(PatientAdmin, "list_per_page", PER_PAGE)(test_class)


class LongListTestCase(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # Namesakes, so that pages break inside equal (last, first) names and the
        # key's id has to tell them apart.
        for _ in range(12):
            PatientFactory(last_name="Smith", first_name="Ann")
        for _ in range(20):
            PatientFactory()

    def setUp(self):
        super().setUp()
        if connection.vendor == "postgresql":
            # Statistics, as autovacuum keeps them: the count of a long list is the
            # planner's estimate.
            with connection.cursor() as cursor:
                cursor.execute('ANALYZE "clinic_patient"')

    def get(self, query=""):
        with CaptureQueriesContext(connection) as captured:
            response = self.client.get(URL + query)
        self.assertEqual(response.status_code, 200)
        return response, [q["sql"] for q in captured.captured_queries]

    def shown(self, response) -> list[int]:
        return [patient.pk for patient in response.context["cl"].result_list]

    def expected(self, user=None, ordering=ORDERING) -> list[int]:
        rows = Patient.objects.visible_to(user or self.operator).order_by(*ordering)
        return list(rows.values_list("pk", flat=True))

    def page_rows_sql(self, queries) -> list[str]:
        """The statements that read a page of patients (ordered, limited)."""
        return [
            sql
            for sql in queries
            if 'FROM "clinic_patient"' in sql and "ORDER BY" in sql and "LIMIT" in sql
        ]

    def pages(self, response) -> int:
        return response.context["cl"].paginator.num_pages

    def link(self, response, page) -> str:
        """The query string of the page link the changelist draws for ``page``."""
        return response.context["cl"].get_query_string({PAGE_VAR: page})


@long_lists
class KeysetPaginationTests(LongListTestCase):
    def test_it_walks_every_page_by_key_without_offset(self):
        self.login(self.operator)
        response, _ = self.get()
        seen = self.shown(response)
        while (page := response.context["cl"].page_num + 1) <= self.pages(response):
            link = self.link(response, page)
            self.assertIn(f"{CURSOR_VAR}=", link)
            response, queries = self.get(link)
            (sql,) = self.page_rows_sql(queries)
            self.assertNotIn("OFFSET", sql)
            seen += self.shown(response)
        self.assertEqual(seen, self.expected())

    def test_it_walks_back_from_the_last_page_without_offset(self):
        self.login(self.operator)
        response, _ = self.get()
        pages = response.context["cl"].paginator.num_pages
        response, queries = self.get(self.link(response, pages))
        self.assertNotIn("OFFSET", self.page_rows_sql(queries)[0])
        seen = self.shown(response)
        for page in range(pages - 1, 0, -1):
            response, queries = self.get(self.link(response, page))
            self.assertNotIn("OFFSET", self.page_rows_sql(queries)[0])
            seen = self.shown(response) + seen
        self.assertEqual(seen, self.expected())

    def test_a_link_three_pages_on_skips_two_pages_from_the_key(self):
        self.login(self.operator)
        response, _ = self.get()
        response, queries = self.get(self.link(response, 4))
        self.assertIn(f"OFFSET {2 * PER_PAGE}", self.page_rows_sql(queries)[0])
        self.assertEqual(self.shown(response), self.expected()[3 * PER_PAGE : 4 * PER_PAGE])

    def test_a_page_typed_without_its_cursor_is_read_with_offset(self):
        self.login(self.operator)
        response, _ = self.get(f"?{PAGE_VAR}=3")
        self.assertEqual(self.shown(response), self.expected()[2 * PER_PAGE : 3 * PER_PAGE])

    def test_a_long_skip_reads_primary_keys_first(self):
        # ?p=4 typed: 15 rows to skip, over a patched threshold of 5. The skip reads
        # ids only (an index-only scan on PostgreSQL), then the page by id.
        self.login(self.operator)
        with mock.patch("admin_ext.pagination.DEFERRED_SKIP", 5):
            response, queries = self.get(f"?{PAGE_VAR}=4")
        (sql,) = self.page_rows_sql(queries)
        self.assertIn('"clinic_patient"."id" IN (SELECT', sql)
        self.assertEqual(self.shown(response), self.expected()[3 * PER_PAGE : 4 * PER_PAGE])

    def test_it_ignores_a_malformed_cursor(self):
        self.login(self.operator)
        for cursor in ("garbage", "WyJhIiwxLFsxXV0", "WyJhIiwxLFsiYSIsImIiLCJ4Il1d"):
            with self.subTest(cursor=cursor):
                response, _ = self.get(f"?{PAGE_VAR}=2&{CURSOR_VAR}={cursor}")
                self.assertEqual(self.shown(response), self.expected()[PER_PAGE : 2 * PER_PAGE])

    def test_sorting_and_filter_links_drop_the_cursor(self):
        self.login(self.operator)
        response, _ = self.get()
        response, _ = self.get(self.link(response, 2))
        cl = response.context["cl"]
        self.assertNotIn(CURSOR_VAR, cl.get_query_string({ORDER_VAR: "2"}))
        self.assertNotIn(CURSOR_VAR, cl.get_query_string({"status__exact": "active"}))
        self.assertNotIn(CURSOR_VAR, cl.clear_all_filters_qs)

    def test_a_column_sort_is_paged_by_key_too(self):
        # Sorting by birth date orders by (birth_date, -pk): mixed directions.
        self.login(self.operator)
        response, _ = self.get()
        column = response.context["cl"].list_display.index("birth_date")
        response, _ = self.get(f"?{ORDER_VAR}={column}")
        response, queries = self.get(self.link(response, 2))
        self.assertNotIn("OFFSET", self.page_rows_sql(queries)[0])
        expected = self.expected(ordering=["birth_date", "-pk"])
        self.assertEqual(self.shown(response), expected[PER_PAGE : 2 * PER_PAGE])

    def test_a_sort_by_a_related_model_falls_back_to_offset(self):
        self.login(self.operator)
        response, _ = self.get()
        column = response.context["cl"].list_display.index("primary_doctor")
        response, _ = self.get(f"?{ORDER_VAR}={column}")
        link = self.link(response, 2)
        self.assertNotIn(CURSOR_VAR, link)
        response, _ = self.get(link)
        self.assertEqual(len(self.shown(response)), PER_PAGE)

    def test_a_doctor_pages_through_only_their_patients(self):
        for patient in Patient.objects.exclude(
            pk__in=[self.other_patient.pk, self.alice_patient.pk]
        )[:14]:
            services.patient_assign_primary_doctor(
                patient=patient, doctor=self.dr_alice, actor=self.front_desk, reason="test"
            )
        self.login(self.alice)
        response, _ = self.get()
        seen = self.shown(response)
        while (page := response.context["cl"].page_num + 1) <= self.pages(response):
            response, queries = self.get(self.link(response, page))
            self.assertNotIn("OFFSET", self.page_rows_sql(queries)[0])
            seen += self.shown(response)
        self.assertEqual(seen, self.expected(self.alice))
        self.assertEqual(len(seen), 15)


@long_lists
class CappedCountTests(LongListTestCase):
    def count_statements(self, queries) -> list[str]:
        return [sql for sql in queries if "COUNT(" in sql.upper()]

    def test_it_counts_a_long_list_once(self):
        # Django counts twice (the list, and the total beside the search box).
        self.login(self.operator)
        _, queries = self.get()
        self.assertEqual(len(self.count_statements(queries)), 1)


@long_lists
class PostgresCountTests(LongListTestCase):
    """On PostgreSQL no page view counts the whole table."""

    def setUp(self):
        if connection.vendor != "postgresql":
            self.skipTest("planner estimates are PostgreSQL's")
        super().setUp()

    def count_statements(self, queries) -> list[str]:
        return [sql for sql in queries if re.search(r"\bCOUNT\(", sql, re.IGNORECASE)]

    def test_it_never_counts_the_unfiltered_table(self):
        self.login(self.operator)
        response, queries = self.get()
        (sql,) = self.count_statements(queries)
        self.assertIn("LIMIT 11", sql)
        self.assertIn("reltuples", sql)
        self.assertFalse(response.context["cl"].result_count_is_exact)
        self.assertRegex(response.content.decode(), r"about [\d,]+\s+patients")

    def test_it_counts_a_filtered_list_up_to_the_cap_then_estimates(self):
        self.login(self.operator)
        response, queries = self.get("?status__exact=active")
        counts = self.count_statements(queries)
        self.assertTrue(counts)
        for sql in counts:
            self.assertIn("LIMIT 11", sql)
        self.assertTrue(any(sql.startswith("EXPLAIN") for sql in queries))
        self.assertFalse(response.context["cl"].result_count_is_exact)

    def test_a_short_list_is_counted_exactly(self):
        self.login(self.alice)
        response, queries = self.get()
        (sql,) = self.count_statements(queries)
        self.assertIn("LIMIT 11", sql)
        self.assertTrue(response.context["cl"].result_count_is_exact)
        self.assertEqual(response.context["cl"].result_count, 1)
