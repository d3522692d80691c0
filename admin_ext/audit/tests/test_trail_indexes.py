"""The audit trail's indexes: every history table has them, and the page's queries use them.

Issue 7, item 3: "fast on 1,000,000 audit rows (indexes on what it filters by)". The
indexes come from ``admin_ext/audit/migrations/0002_trail_history_indexes.py``; a
table tracked later fails here until a migration gives it the same set. The
query plans are asked of the database itself (``EXPLAIN``): on PostgreSQL with
sequential scans and sorts priced out (``enable_seqscan``/``enable_sort`` off, so
a small test table does not make the planner prefer a scan), a plan that walks an
index in the trail's order is then the one it finds, if the index allows it.
"""

from django.db import connection

from admin_ext.audit import trail
from admin_ext.audit.filters import TrailFilterSet
from admin_ext.audit.tests.test_trail import TrailTestCase

#: What the trail's reads need of every history table: columns, in order.
REQUIRED = [
    ("history_date", "history_id"),
    ("history_user_id", "history_date", "history_id"),
    ("id", "history_date", "history_id"),
]


def history_sources():
    return [s for s in trail.trail_sources() if isinstance(s, trail.HistorySource)]


def plan(queryset) -> tuple[str, str]:
    """The database's plan for ``queryset``: ``(whole plan, the outer query's part)``.

    The outer part leaves out the subquery that finds each row's previous version
    (it sorts a record's few versions, which is fine).
    """
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("EXPLAIN " + sql, params)
            text = "\n".join(row[0] for row in cursor.fetchall())
            return text, text.split("SubPlan")[0]
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        found = cursor.fetchall()  # (id, parent, notused, detail)
        outer = [row[3] for row in found if row[1] == 0]
        return "\n".join(row[3] for row in found), "\n".join(outer)


class TrailIndexTests(TrailTestCase):
    def page_query(self, source, user, **filters):
        request = type("Request", (), {"user": user})()
        filterset = TrailFilterSet(filters, request=request)
        assert filterset.is_valid(), filterset.errors
        rows = trail.source_rows(source, user, filterset)
        t, p = source.time_field, source.pk_field
        # What trail._window asks each table first: the page's keys.
        return rows.order_by(f"-{t}", f"-{p}").values_list(t, p)[: trail.PAGE_SIZE + 1]

    def test_every_history_table_has_the_trails_indexes(self):
        with connection.cursor() as cursor:
            for source in history_sources():
                table = source.model._meta.db_table
                indexes = {
                    tuple(c["columns"])
                    for c in connection.introspection.get_constraints(cursor, table).values()
                    if c["index"]
                }
                for columns in REQUIRED:
                    with self.subTest(table=table, columns=columns):
                        assert columns in indexes, f"{table} lacks an index on {columns}"

    def assert_walks_an_index(self, explained: tuple[str, str], *, ordered: bool):
        """Every table read through an index; with ``ordered``, the outer query in the
        trail's order straight from its index (no sort)."""
        text, outer = explained
        if connection.vendor == "postgresql":
            assert "Index" in text and "Seq Scan" not in text, text
            if ordered:
                assert "Index" in outer and "Sort" not in outer, text
        else:
            scans = [line for line in text.splitlines() if line.startswith("SCAN ")]
            assert not [line for line in scans if "INDEX" not in line], text
            if ordered:
                assert "USING INDEX" in outer or "USING COVERING INDEX" in outer, text
                assert "TEMP B-TREE FOR ORDER BY" not in outer, text

    def test_the_newest_page_walks_the_time_index_of_each_table(self):
        for source in history_sources():
            with self.subTest(source=source.key):
                self.assert_walks_an_index(
                    plan(self.page_query(source, self.auditor)), ordered=True
                )

    def test_one_actors_page_walks_the_actor_index(self):
        for source in history_sources():
            with self.subTest(source=source.key):
                text = plan(self.page_query(source, self.auditor, actor=str(self.admin.pk)))
                self.assert_walks_an_index(text, ordered=True)

    def test_a_date_range_walks_the_time_index(self):
        for source in history_sources():
            with self.subTest(source=source.key):
                query = self.page_query(
                    source, self.auditor, date_from="2024-01-01", date_to="2024-12-31"
                )
                self.assert_walks_an_index(plan(query), ordered=True)

    def test_one_records_page_and_a_doctors_page_read_by_index(self):
        patients = next(
            s for s in history_sources() if s.record_model._meta.model_name == "patient"
        )
        one = self.page_query(
            patients, self.auditor, model="clinic.patient", object=str(self.alice_patient.pk)
        )
        self.assert_walks_an_index(plan(one), ordered=False)
        self.assert_walks_an_index(plan(self.page_query(patients, self.alice)), ordered=False)

    def test_a_pages_rows_and_their_previous_versions_read_by_index(self):
        for source in history_sources():
            with self.subTest(source=source.key):
                rows = source.prepare(source.rows().filter(pk__in=[1, 2, 3])).order_by()
                self.assert_walks_an_index(plan(rows), ordered=False)

    def test_the_access_logs_pages_read_by_index(self):
        source = next(s for s in trail.trail_sources() if isinstance(s, trail.AccessSource))
        for user, filters in (
            (self.auditor, {}),
            (self.auditor, {"actor": str(self.alice.pk)}),
            (self.auditor, {"model": "clinic.patient", "object": str(self.alice_patient.pk)}),
            (self.auditor, {"action": "view"}),
            (self.alice, {}),
        ):
            with self.subTest(user=user.email, filters=filters):
                self.assert_walks_an_index(
                    plan(self.page_query(source, user, **filters)), ordered=False
                )
