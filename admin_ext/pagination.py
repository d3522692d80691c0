"""Changelists whose page views cost the same at a thousand rows and at a million.

Two things in Django's changelist grow with the table:

- counting: ``paginator.count`` for the list and ``root_queryset.count()`` for the
  "N total" beside the search box, two ``COUNT(*)`` that read every row (or index
  entry) on every page view;
- paging: page N is ``LIMIT 50 OFFSET (N - 1) * 50``, so the database reads and
  throws away every row before the page (250,000 of them on page 5,000).

``CountingPaginator`` counts at most ``count_cap`` rows. A longer list is counted by
PostgreSQL's planner statistics and shown as "about N": for an unfiltered list,
``pg_class.reltuples`` scaled to the table's current size, read in the same
statement as the capped count (so one query, whatever the size); for a filtered
one, the row estimate of ``EXPLAIN`` (a second query, only above the cap). Other
databases (SQLite) have no such statistics and count exactly.

``KeysetChangeListMixin`` (mixed into a ChangeList class by
``admin_ext.changelists.changelist_with``,
as ``ClinicModelAdmin.get_changelist`` does) counts through it, once where Django
counts twice, and pages a long list (more than ``count_cap`` rows) by key, the
"seek method" (https://use-the-index-luke.com/no-offset, and the django-admin
cursor paginators): each page link carries, in ``cursor``, the ordering key of the
last (or first) row of the page it is on, and the linked page is read as
``WHERE (last_name, first_name, id) > (key) ORDER BY ... LIMIT 50`` down the index
(plus a small OFFSET for a link two or three pages away). The last pages are read
backwards from the end, so the "last page" link costs what page 1 costs. Page
numbers stay as Django shows them, so the page looks the same. Limits:

- a page number typed without its ``cursor`` (a bookmark of ``?p=5000``) falls
  back to OFFSET from the nearer end of the list, over primary keys only (see
  ``seek``): cheaper than Django's, but still growing with the page;
- keyset needs an ordering of non-null columns of the model itself that ends in a
  unique one (the default ``last_name, first_name, id`` does; so do the column
  sorts the admin offers on such columns); ordering by a related model (the
  primary doctor column) pages with OFFSET;
- with an estimated count, the page numbers near the end are as approximate as
  the count, and the last page holds what the estimate leaves for it.
"""

import base64
import binascii
import json

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, ValidationError
from django.core.paginator import InvalidPage, Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections
from django.db.models import Q
from django.utils.functional import cached_property

#: The query-string parameter of a page link that holds the key it seeks from.
CURSOR_VAR = "cursor"

#: pg_class.reltuples scaled to the table's current number of pages, as PostgreSQL's
#: planner does (https://wiki.postgresql.org/wiki/Count_estimate); NULL when the
#: table has never been vacuumed or analyzed.
_PG_TABLE_ESTIMATE = """
    SELECT CASE WHEN c.reltuples < 0 OR c.relpages <= 0 THEN NULL
                ELSE c.reltuples / c.relpages
                     * (pg_catalog.pg_relation_size(c.oid)
                        / pg_catalog.current_setting('block_size')::int)
           END
    FROM pg_catalog.pg_class c WHERE c.oid = %s::regclass
"""


def count_rows(queryset, cap: int) -> tuple[int, bool]:
    """Count ``queryset`` exactly up to ``cap`` rows, estimate above: ``(count, exact)``.

    On PostgreSQL the count reads at most ``cap + 1`` rows; above the cap it is the
    planner's estimate (never less than ``cap + 1``). Other databases count exactly.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.count(), True
    rows = queryset.order_by().values("pk")
    try:
        capped_sql, params = rows[: cap + 1].query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:  # .none(): nothing to count
        return 0, True
    # Bandit B608 accepted: the ORM's own compiled SQL, its values still in params.
    capped = f"SELECT COUNT(*) FROM ({capped_sql}) AS capped"  # nosec B608
    estimate = None
    with connection.cursor() as cursor:
        if _is_whole_table(queryset):
            cursor.execute(
                f"SELECT ({capped}), ({_PG_TABLE_ESTIMATE})",
                [*params, connection.ops.quote_name(queryset.model._meta.db_table)],
            )
            count, estimate = cursor.fetchone()
        else:
            cursor.execute(capped, params)
            (count,) = cursor.fetchone()
        if count <= cap:
            return count, True
        if estimate is None or estimate <= cap:
            # A filtered list, or a table without statistics yet (autovacuum has
            # not analyzed it): the planner's estimate for the query itself.
            sql, params = rows.query.get_compiler(queryset.db).as_sql()
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            estimate = plan[0]["Plan"]["Plan Rows"]
    return max(int(estimate), cap + 1), False


def _is_whole_table(queryset) -> bool:
    """True when ``queryset`` selects every row of its model's table."""
    query = queryset.query
    return not (
        query.where
        or query.combinator
        or query.distinct
        or query.group_by
        or query.low_mark
        or query.high_mark is not None
        or query.extra
        or queryset.model._meta.parents
    )


class CountingPaginator(Paginator):
    """A Paginator whose ``count`` stops at ``count_cap`` rows (see ``count_rows``).

    ``count_is_exact`` says whether ``count`` is exact or the planner's estimate.
    """

    #: Rows counted exactly; a longer list is estimated (on PostgreSQL) and paged
    #: by key. 10,000 rows is 200 pages of 50; counting them takes a few ms.
    count_cap = 10_000

    count_is_exact = True

    @cached_property
    def count(self):
        if not hasattr(self.object_list, "query"):
            return super().count
        count, self.count_is_exact = count_rows(self.object_list, self.count_cap)
        return count


class KeysetChangeListMixin:
    """A ChangeList's counts through ``count_rows`` and its long lists paged by key.

    Mixed in before a ChangeList class (``changelist_with``); ``get_results``
    replaces Django's. ``result_count_is_exact`` tells the pagination template to
    say "about".
    """

    result_count_is_exact = True
    # Set by get_results when the page was read by key: the keys of its first and
    # last rows, from which the page links are built.
    _keyset = None

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(CURSOR_VAR, None)
        return lookup_params

    @property
    def is_narrowed(self) -> bool:
        """Whether a search term (``q``) or any filter narrows the list."""
        return bool(self.query or self.get_filters_params() or self.has_active_filters)

    def get_query_string(self, new_params=None, remove=None):
        # A link to another page carries the cursor that makes it cheap; every other
        # link (filters, sorting, "show all") starts over without one.
        new_params = dict(new_params or {})
        page = new_params.get(PAGE_VAR)
        new_params[CURSOR_VAR] = self._cursor_for(page) if page is not None else None
        return super().get_query_string(new_params, remove)

    def get_results(self, request):
        # Django's ChangeList.get_results, with both counts through count_rows and
        # the page read by key where that applies.
        paginator = self.model_admin.get_paginator(request, self.queryset, self.list_per_page)
        result_count = paginator.count
        self.result_count_is_exact = getattr(paginator, "count_is_exact", True)
        cap = getattr(paginator, "count_cap", None)
        # Nothing narrows the list: its count is the total (Django counts twice).
        unfiltered = not self.is_narrowed
        if not self.model_admin.show_full_result_count:
            full_result_count = None
        elif unfiltered:
            full_result_count = result_count
        elif cap is not None:
            full_result_count, _ = count_rows(self.root_queryset, cap)
        else:
            full_result_count = self.root_queryset.count()
        can_show_all = result_count <= self.list_max_show_all
        multi_page = result_count > self.list_per_page

        if (self.show_all and can_show_all) or not multi_page:
            result_list = self.queryset._clone()
        else:
            keyset = keyset_fields(self.queryset)
            if keyset and cap is not None and result_count > cap and not self.list_editable:
                result_list = self._keyset_page(request, paginator, keyset)
            else:
                try:
                    result_list = paginator.page(self.page_num).object_list
                except InvalidPage:
                    raise IncorrectLookupParameters from None

        if result_count != paginator.count:  # the page read showed where the list ends
            result_count = paginator.count
            if unfiltered and full_result_count is not None:
                full_result_count = result_count
        self.result_count = result_count
        self.show_full_result_count = self.model_admin.show_full_result_count
        self.show_admin_actions = not self.show_full_result_count or bool(full_result_count)
        self.full_result_count = full_result_count
        self.result_list = result_list
        self.can_show_all = can_show_all
        self.multi_page = multi_page
        self.paginator = paginator

    def _keyset_page(self, request, paginator, keyset):
        """Read page ``self.page_num`` by key: from the cursor, or from the nearer end.

        A page read forwards reads one row more, to learn whether the list goes on:
        the count (an estimate) then grows or shrinks so that "next" appears where
        there are more rows and not where there are none.
        """
        if not 1 <= self.page_num <= paginator.num_pages:
            raise IncorrectLookupParameters
        anchor = decode_cursor(request.GET.get(CURSOR_VAR), keyset)
        plan = _cheapest(self.page_num, anchor, paginator.count, self.list_per_page)
        if plan.get("backwards"):
            rows = seek(self.queryset, keyset, **plan)
        else:
            rows = seek(self.queryset, keyset, **{**plan, "limit": plan["limit"] + 1})
            more, rows = len(rows) > plan["limit"], rows[: plan["limit"]]
            before = (self.page_num - 1) * self.list_per_page
            if more and paginator.count <= before + len(rows):
                _recount(paginator, before + len(rows) + 1)
            elif rows and not more:
                _recount(paginator, before + len(rows))
        if rows:
            self._keyset = (
                [_key(rows[0], keyset), _key(rows[-1], keyset)],
                keyset,
                paginator.count,
            )
        return rows

    def _cursor_for(self, page):
        """The cursor of the link to ``page``, or None when none makes it cheaper."""
        if self._keyset is None:
            return None
        (first, last), keyset, count = self._keyset
        try:
            page = int(page)
        except (TypeError, ValueError):
            return None
        if page > self.page_num:
            anchor = ("after", self.page_num, last)
        elif page < self.page_num:
            anchor = ("before", self.page_num, first)
        else:
            return None
        plan = _cheapest(page, anchor, count, self.list_per_page)
        return encode_cursor(anchor, keyset) if plan.get("key") is not None else None


def _recount(paginator, count: int) -> None:
    """Set ``paginator``'s count (and so its number of pages) to ``count``."""
    paginator.count = count
    paginator.__dict__.pop("num_pages", None)


def keyset_fields(queryset):
    """``[(field, descending), ...]`` of ``queryset``'s ordering if it can be sought by key.

    That takes an ordering of non-null, non-relation columns of the model's own
    table that reaches a unique one (so no two rows share a key); else None.
    """
    query = queryset.query
    if not query.standard_ordering or query.extra_order_by or query.combinator:
        return None
    opts = queryset.model._meta
    fields = []
    for item in query.order_by:
        if not isinstance(item, str) or item == "?":
            return None
        name = item.lstrip("-")
        try:
            field = opts.pk if name == "pk" else opts.get_field(name)
        except FieldDoesNotExist:
            return None
        if not field.concrete or field.is_relation and not field.primary_key or field.null:
            return None
        fields.append((field, item.startswith("-")))
        if field.primary_key or field.unique:
            return fields
    return None


def _key(obj, keyset) -> list:
    return [getattr(obj, field.attname) for field, _ in keyset]


def _cheapest(page: int, anchor, count: int, per_page: int) -> dict:
    """How to read ``page`` reading the fewest rows: ``seek()`` keyword arguments.

    From the start (OFFSET), from the anchor's key (``(direction, page, key)`` of a
    cursor) or backwards from the end, whichever skips fewer rows; on a tie, in
    that order (page 1 needs no cursor, and a key does not depend on the count).
    """
    plans = [((page - 1) * per_page, {"skip": (page - 1) * per_page, "limit": per_page})]
    if anchor is not None:
        direction, anchor_page, key = anchor
        if direction == "after" and page > anchor_page:
            skip = (page - anchor_page - 1) * per_page
            plans.append((skip, {"skip": skip, "limit": per_page, "key": key}))
        elif direction == "before" and page < anchor_page:
            skip = (anchor_page - page - 1) * per_page
            plans.append((skip, {"skip": skip, "limit": per_page, "key": key, "backwards": True}))
    end_skip = max(count - page * per_page, 0)
    end_limit = min(per_page, count - (page - 1) * per_page)
    plans.append((end_skip, {"skip": end_skip, "limit": end_limit, "backwards": True}))
    return min(plans, key=lambda plan: plan[0])[1]


#: From this many skipped rows on, ``seek`` skips them in a subquery that reads only
#: the primary keys (an index-only scan when an index covers the ordering).
DEFERRED_SKIP = 1_000


def seek(queryset, keyset, *, skip: int, limit: int, key=None, backwards=False) -> list:
    """Rows of ``queryset`` (ordered by ``keyset``), in its order.

    Forwards: the ``limit`` rows after ``key`` (or from the start), skipping ``skip``.
    Backwards: the ``limit`` rows before ``key`` (or before the end), skipping ``skip``
    counted from there. A long skip (a page number typed without its cursor) is
    still an OFFSET, but over primary keys only, and the page's rows are then read
    by key ("deferred join"): on PostgreSQL an index-only scan instead of reading
    every skipped row from the table.
    """
    if key is not None:
        queryset = queryset.filter(_beyond(keyset, key, backwards=backwards))
    if backwards:
        queryset = queryset.reverse()
    if skip >= DEFERRED_SKIP:
        pks = queryset.values("pk")[skip : skip + limit]
        rows = list(queryset.filter(pk__in=pks)[:limit])
    else:
        rows = list(queryset[skip : skip + limit])
    if backwards:
        rows.reverse()
    return rows


def _beyond(keyset, key, *, backwards: bool) -> Q:
    """The rows after ``key`` in the keyset's order (before it when ``backwards``).

    ``(a, b, id) > (x, y, z)`` spelled out as ``a >= x AND (a > x OR (a = x AND b > y)
    OR (a = x AND b = y AND id > z))``, the leading ``a >= x`` being what lets the
    database start its index scan at ``x`` (per column direction for mixed orders).
    """

    def op(descending):
        return "lt" if descending != backwards else "gt"

    (first, first_desc), value = keyset[0], key[0]
    condition = Q()
    equal = {}
    for (field, descending), value_i in zip(keyset, key, strict=True):
        condition |= Q(**equal, **{f"{field.name}__{op(descending)}": value_i})
        equal[field.name] = value_i
    return Q(**{f"{first.name}__{op(first_desc)}e": value}) & condition


def encode_cursor(anchor, keyset) -> str:
    """The ``cursor`` parameter for ``anchor``: ``(direction, page, key)``, base64 JSON."""
    direction, page, key = anchor
    data = json.dumps([direction[0], page, key], cls=DjangoJSONEncoder, separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def decode_cursor(value, keyset):
    """``(direction, page, key)`` from a ``cursor`` parameter, or None if it is not one.

    A malformed or foreign cursor (another ordering, a hand-edited link) is ignored:
    the page is then read from the nearer end of the list.
    """
    if not value:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        direction, page, key = data
        direction = {"a": "after", "b": "before"}[direction]
        if not isinstance(page, int) or len(key) != len(keyset):
            return None
        key = [field.to_python(v) for (field, _), v in zip(keyset, key, strict=True)]
    except (ValueError, TypeError, KeyError, binascii.Error, ValidationError):
        return None
    if any(v is None for v in key):
        return None
    return direction, page, key


def keyset_link_params(model, ordering, row, page: int, anchor_page: int) -> dict:
    """The query parameters of the link to ``page`` as page ``anchor_page`` draws it.

    ``row`` is the last row of ``anchor_page`` and ``ordering`` the changelist's
    ordering of ``model`` (``make bench`` opens the page before its deep page so).
    """
    keyset = keyset_fields(model._default_manager.order_by(*ordering))
    anchor = ("after", anchor_page, _key(row, keyset))
    return {CURSOR_VAR: encode_cursor(anchor, keyset), PAGE_VAR: page}
