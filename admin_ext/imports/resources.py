"""Shared import plumbing for django-import-export Resources (DESIGN.md, "Import and export").

Every clinic Resource extends :class:`ServiceModelResource`, which

- writes each row through a service function (``write``), with the importing user
  as ``actor`` and ``"Imported from <file>"`` as the history reason; import-export
  never calls ``instance.save()`` itself;
- checks the whole file before anything is kept: header aliases are resolved,
  missing columns and duplicate keys are reported, foreign keys are looked up
  from one query per import, and the import runs in one transaction that is
  rolled back when any row is invalid (validation errors included, which the
  library's default would let through on confirm);
- reports every problem as an :class:`ImportProblem` naming the row, the column
  as the file spells it and the value, e.g.
  ``Row 5, column BIRTHDATE: "1990-13-01" is not a valid date (YYYY-MM-DD)``;
- skips rows that would change nothing (no save, no history row), so importing
  the same file twice reports every row unchanged.

Row numbers are spreadsheet row numbers: the header is row 1 and the first data
row is row 2, as a spreadsheet program shows the file. (A quoted field spanning
several physical lines, RFC 4180 section 2.6, still counts as one row.)
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, OperationalError
from django.utils.functional import cached_property
from import_export import fields as ie_fields
from import_export import resources, widgets
from import_export.instance_loaders import ModelInstanceLoader
from import_export.results import Result, RowResult

from admin_ext.exports import restore_formula

logger = logging.getLogger(__name__)

#: How many keys one ``IN (...)`` lookup carries; stays under SQLite's variable limit.
LOOKUP_CHUNK = 500

MSG_REQUIRED = "a value is required"
MSG_BAD_DATE = "is not a valid date (YYYY-MM-DD)"
MSG_BAD_BOOLEAN = "is not a yes/no value (1, 0, true or false)"
MSG_DUPLICATE = "appears more than once in this file (first on row %(first)d)"
MSG_UNKNOWN = "is not a known %(model)s (no %(model)s has this external ID)"
MSG_MISSING_COLUMN = "is missing from the header (accepted names: %(names)s)"
MSG_TOO_LONG = "is longer than %(limit_value)d characters"
MSG_NOT_A_CHOICE = "is not one of %(choices)s"
MSG_NOT_UNIQUE = "already belongs to another record"
MSG_IMPORT_FIRST = (
    "names %(count)d %(model)s and none of them exists yet: import %(file)s first, then this file"
)
MSG_CONFLICT = (
    "Another import or user saved some of these records at the same time, so nothing "
    "was imported. Run the import again: rows saved meanwhile will show as unchanged."
)


def rows_by_key(queryset, field: str, keys: Iterable[str]) -> dict:
    """Rows of ``queryset`` whose ``field`` is one of ``keys``, as ``{key: row}``.

    Queries ``LOOKUP_CHUNK`` keys at a time, so a large file stays under SQLite's
    limit on query parameters. Keys with no row are simply absent.
    """
    keys = sorted(keys)
    found = {}
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        for obj in queryset.filter(**{f"{field}__in": chunk}):
            found[getattr(obj, field)] = obj
    return found


def spreadsheet_row(data_row_number: int) -> int:
    """The spreadsheet row number of import-export's 1-based data row number (header = row 1)."""
    return data_row_number + 1


@dataclass(frozen=True)
class ImportProblem:
    """One reason a file cannot be imported, as shown to the user.

    ``row`` is the spreadsheet row number (header = 1), or None for a problem with
    the file as a whole; ``column`` the header as the file spells it ('' if the
    problem is not about one column); ``value`` the cell text (None: not shown);
    ``message`` a predicate that follows the quoted value ("is not a valid date").
    ``file`` is filled in by callers that import several files.
    """

    row: int | None
    column: str
    value: str | None
    message: str
    file: str = ""

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column}")
        where = ", ".join(parts)
        if not self.file:  # "Row 5, ..."; a file name keeps its own case
            where = where[:1].upper() + where[1:]
        if self.value is None:
            if self.row is None and self.column:  # "Column LAST is missing from the header"
                return f"{where} {self.message}"
            return f"{where}: {self.message}"
        shown = self.value if len(self.value) <= 80 else self.value[:77] + "..."
        return f'{where}: "{shown}" {self.message}'


class ImportResult(Result):
    """import-export's ``Result`` plus the problems list, the counts a preview shows and the
    failed rows; it keeps at most :attr:`SAMPLE_ROWS` row results, so a 100,000-row
    file never holds (or renders) 100,000 of them. The counts are exact."""

    #: How many new or changed rows the preview shows (each with its diff).
    SAMPLE_ROWS = 50

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        #: Every :class:`ImportProblem`, in file order; empty when the file is valid.
        self.problems: list[ImportProblem] = []
        #: The rows that did not import: ``{"row", "headers", "cells", "error"}`` dicts.
        self.failed_rows: list[dict] = []
        #: The file's header as read (the failed rows' columns).
        self.headers: list[str] = []
        #: True when writing failed because of a concurrent change (see ``is_conflict``).
        self.conflict = False

    def append_row_result(self, row_result):
        if row_result.import_type in ("new", "update") and len(self.rows) < self.SAMPLE_ROWS:
            self.rows.append(row_result)

    @property
    def counts(self) -> dict[str, int]:
        """Rows by outcome: ``new``, ``changed``, ``unchanged`` and ``invalid``."""
        totals = self.totals
        return {
            "new": totals[RowResult.IMPORT_TYPE_NEW],
            "changed": totals[RowResult.IMPORT_TYPE_UPDATE],
            "unchanged": totals[RowResult.IMPORT_TYPE_SKIP],
            "invalid": totals[RowResult.IMPORT_TYPE_INVALID] + totals[RowResult.IMPORT_TYPE_ERROR],
        }

    def is_valid(self) -> bool:
        """True when nothing stops the import (no problem, no library error)."""
        return not (self.problems or self.has_errors() or self.has_validation_errors())

    def sample_rows(self, limit: int = SAMPLE_ROWS) -> list[RowResult]:
        """Up to ``limit`` new or changed rows, with their diffs, for the preview."""
        return self.rows[:limit]


# -- widgets ---------------------------------------------------------------------


def _text(value) -> str:
    """A cell as stripped text ('' for empty); numbers from spreadsheets become text."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


class TextWidget(widgets.CharWidget):
    """Text as written, surrounding whitespace removed; empty cells become ''.

    The apostrophe our exports put before a leading formula character is dropped
    (``admin_ext.exports.restore_formula``), so an exported file reads back unchanged.
    """

    def clean(self, value, row=None, **kwargs):
        return restore_formula(_text(value))


class StrictDateWidget(widgets.DateWidget):
    """Dates as ``YYYY-MM-DD`` only (Synthea's BIRTHDATE/DEATHDATE; ISO 8601 calendar date).

    Empty cells become None. Raises ``ValueError`` (:data:`MSG_BAD_DATE`) for
    anything else, including impossible dates such as ``1990-13-01``.
    """

    _pattern = re.compile(r"^\d{4}-\d{2}-\d{2}$")

    def __init__(self):
        super().__init__(format="%Y-%m-%d")

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        text = _text(value)
        if not text:
            return None
        if not self._pattern.match(text):
            raise ValueError(MSG_BAD_DATE)
        try:
            return datetime.date.fromisoformat(text)  # the pattern above: YYYY-MM-DD only
        except ValueError:
            raise ValueError(MSG_BAD_DATE) from None

    def render(self, value, obj=None, **kwargs):
        return value.isoformat() if value else ""


class StrictBooleanWidget(widgets.BooleanWidget):
    """``1``/``0``/``true``/``false`` (any case); anything else is an error, not False."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, bool):
            return value
        text = _text(value).lower()
        if text in ("1", "true"):
            return True
        if text in ("0", "false"):
            return False
        raise ValueError(MSG_BAD_BOOLEAN)


class ExternalIdWidget(widgets.ForeignKeyWidget):
    """A foreign key written as the related row's ``external_id``.

    :meth:`prime` loads every key a file mentions in one query per
    :data:`LOOKUP_CHUNK` keys, so a file costs no query per row. An unknown key
    raises ``ValueError`` (:data:`MSG_UNKNOWN`), which the import reports as an
    invalid row rather than a crash. Related rows come from the model's default
    manager: organizations and doctors are not restricted per object (every
    role that may import holds the model-wide view permission on them).
    """

    def __init__(self, model, field: str = "external_id", *, source_file: str = "", **kwargs):
        super().__init__(model, field=field, **kwargs)
        #: The file the related rows come from ("organizations.csv"), for the message
        #: that says which file to import first.
        self.source_file = source_file
        self._cache: dict[str, object] | None = None
        self._keys: set[str] = set()

    def prime(self, values: Iterable[str]) -> None:
        """Load the related rows for ``values`` (cell texts) into this import's cache."""
        self._keys = {_text(v) for v in values} - {""}
        self._cache = rows_by_key(self.model._default_manager.all(), self.field, self._keys)

    def none_found(self) -> bool:
        """True when the file names related rows and not one of them exists (after ``prime``):
        the file it depends on was not imported yet."""
        return bool(self._keys) and not self._cache

    def clean(self, value, row=None, **kwargs):
        key = _text(value)
        if not key:
            return None
        if self._cache is not None:
            obj = self._cache.get(key)
        else:
            obj = self.model._default_manager.filter(**{self.field: key}).first()
        if obj is None:
            raise ValueError(MSG_UNKNOWN % {"model": self.model._meta.verbose_name})
        return obj


# -- instance loading --------------------------------------------------------------


class ChunkedInstanceLoader(ModelInstanceLoader):
    """Loads every existing row a file names in ``LOOKUP_CHUNK``-sized queries.

    Like import-export's ``CachedInstanceLoader`` (one ``import_id_field``), but it
    stays under SQLite's limit on query parameters for large files. For a model that
    keeps ``import_digest``, it first reads only each record's key and digest, then
    loads whole records only for the rows whose digest differs: a re-import of an
    unchanged file builds no model instance at all (:meth:`stored_digest`).
    """

    def __init__(self, resource, dataset=None):
        super().__init__(resource, dataset)
        (id_name,) = resource.get_import_id_fields()
        self.id_field = resource.fields[id_name]
        self.instances = {}
        self.digests = {}
        self.row_digests: dict[int, str] = {}  # import-export's row number -> row_digest
        headers = dataset.headers or []
        if self.id_field.column_name not in headers:
            return
        index = headers.index(self.id_field.column_name)
        keys = {_text(row[index]) for row in dataset} - {""}
        attribute = self.id_field.attribute
        if resource._uses_digest:
            self.digests = self._stored_digests(attribute, keys)
            keys = set()
            for number, data in enumerate(dataset, 1):
                key = _text(data[index])
                if key not in self.digests:
                    continue
                # Kept for import_row, which would otherwise compute it again.
                digest = self.row_digests[number] = resource.row_digest(
                    dict(zip(headers, data, strict=False))
                )
                if digest != self.digests[key]:
                    keys.add(key)
        self.instances = rows_by_key(self.get_queryset(), attribute, keys)

    def _stored_digests(self, attribute: str, keys) -> dict[str, str]:
        keys = sorted(keys)
        digests = {}
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            rows = self.get_queryset().filter(**{f"{attribute}__in": chunk})
            digests.update(rows.values_list(attribute, "import_digest"))
        return digests

    def known_keys(self) -> set[str]:
        """The keys of the file's rows that name a stored record."""
        return self.digests.keys() | self.instances.keys()

    def stored_digest(self, row) -> str | None:
        """The ``import_digest`` of the record ``row`` names (``""`` when it has none),
        or None when no record has its key."""
        return self.digests.get(_text(row.get(self.id_field.column_name)))

    def get_instance(self, row):
        key = _text(row.get(self.id_field.column_name))
        if key in self.digests and key not in self.instances:
            # A row whose digest matched but that is imported anyway (a key repeated in
            # the file): load its record now.
            self.instances[key] = (
                self.get_queryset().filter(**{self.id_field.attribute: key}).first()
            )
        return self.instances.get(key)


# -- the base Resource -------------------------------------------------------------


class ServiceModelResource(resources.ModelResource):
    """Base Resource: service writes, whole-file validation, row/column/value errors.

    Subclasses set ``Meta`` (``model``, ``fields``, ``import_id_fields``) and

    - ``write_batch(created, updated, *, actor, reason)``: save a batch through the
      model's bulk service (rows are checked one by one first, so every error names
      its row; the batch is written only on confirm, never in a preview);
    - ``check_instance(instance, stored)``: the service's row rules beyond
      ``full_clean`` (optional);
    - ``column_aliases``: ``{field name: (accepted header, ...)}``; the first name
      is the one export writes. Headers match case-insensitively, and columns the
      resource does not know are ignored;
    - ``required_columns``: field names whose column must be in the header;
    - ``system_fields``: model fields the service fills in (left out of the
      pre-save ``full_clean``);
    - ``exportable``: False for read-only formats (Synthea's files).

    Args (constructor): ``user``, the importing or exporting user (None: the
    system, as in management commands); ``progress``, an optional callable
    ``progress(rows_done, rows_total)`` called every ``progress_every`` rows;
    ``reason``, the history reason of every row written (an import job's
    ``"Import #<id>"``; default ``"Imported from <file>"``).
    Raises ``PermissionDenied`` from ``import_data`` when ``user`` may not change
    every row of the model (see ``get_queryset``).
    """

    column_aliases: dict[str, tuple[str, ...]] = {}
    required_columns: tuple[str, ...] = ()
    system_fields: tuple[str, ...] = ()
    exportable = True
    progress_every = 500

    class Meta:
        import_id_fields = ["external_id"]
        instance_loader_class = ChunkedInstanceLoader
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True
        # Bulk mode: rows are checked one by one, written a batch at a time through
        # write_batch (a bulk service). No per-row deepcopy and diff: unchanged rows
        # are found against a snapshot taken when the row is loaded, and diffs are
        # made only for the preview's sample (ImportResult.SAMPLE_ROWS).
        use_bulk = True
        batch_size = 1000
        skip_diff = True
        skip_html_diff = True

    def __init__(
        self,
        user=None,
        progress: Callable[[int, int], None] | None = None,
        reason: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.user = user
        self.progress = progress
        self.history_reason = reason
        self._row_problems: dict[int, dict[str, ImportProblem]] = {}
        self._header_problems: list[ImportProblem] = []
        self._problems: list[ImportProblem] = []
        self._failed_rows: list[dict] = []
        self._rows_done = 0
        self._rows_total = 0
        self._row_offset = 0
        self._dry_run = False
        self._write_failed = False
        self._sample_left = ImportResult.SAMPLE_ROWS
        self._import_fields = None
        self._key_column = None
        self._digest_getter = None

    # -- hooks for subclasses ------------------------------------------------------

    def write_batch(self, created: list, updated: list, *, actor, reason: str) -> None:
        """Save a batch through the model's bulk service. Subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement write_batch()")

    def check_instance(self, instance, stored: dict | None) -> None:
        """The service's rules for one row beyond ``full_clean``; raise ``ValidationError``.

        ``stored`` is the row as loaded (attribute names to values; None for a new
        row). The default checks nothing.
        """

    @classmethod
    def get_result_class(cls):
        return ImportResult

    def get_queryset(self):
        # Matching uses the default manager, i.e. every row of the model. That is
        # safe only because importing requires the model-wide change permission
        # (ClinicModelAdmin.has_import_permission, and _check_may_import below):
        # whoever imports may already change any row, so matching reveals nothing
        # their role does not. A user limited to per-object grants cannot import.
        return self._meta.model._default_manager.all()

    def reason(self, file_name: str | None) -> str:
        """The history reason for rows from ``file_name`` (the job's, when one was given)."""
        if self.history_reason:
            return self.history_reason
        return f"Imported from {file_name}" if file_name else "Imported"

    # -- import ----------------------------------------------------------------

    def import_data(
        self,
        dataset,
        dry_run=False,
        raise_errors=False,
        use_transactions=None,
        collect_failed_rows=False,
        rollback_on_validation_errors=False,
        *,
        valid_rows_only: bool = False,
        first_row: int = 2,
        **kwargs,
    ):
        """Import ``dataset`` as import-export does, but all or nothing by default.

        Rolls back when any row is invalid, so a confirm never keeps half a file,
        unless ``valid_rows_only`` (the user's explicit choice): then the valid rows
        are kept and the invalid ones listed in ``result.failed_rows``. A dry run
        (preview) checks every row but writes nothing. ``first_row`` is the
        spreadsheet row number of the dataset's first data row (2: the header is
        row 1; a command reading a large file in chunks passes the chunk's start).
        Returns an :class:`ImportResult` whose ``problems`` list every error.
        """
        self._check_may_import(kwargs.get("user"))
        self._problems = []
        self._failed_rows = []
        self._rows_done = 0
        self._rows_total = len(dataset)
        self._row_offset = first_row - 2
        self._dry_run = dry_run
        self._write_failed = False
        self._conflict = False
        self._sample_left = ImportResult.SAMPLE_ROWS
        self._file_name = kwargs.get("file_name")
        self._actor = kwargs.get("user", self.user)
        self.__dict__.pop("_digest_columns", None)  # this file's header spelling
        self._key_column = self._digest_getter = None
        result = super().import_data(
            dataset,
            dry_run=dry_run,
            raise_errors=raise_errors,
            use_transactions=True,
            collect_failed_rows=collect_failed_rows,
            rollback_on_validation_errors=not valid_rows_only,
            **kwargs,
        )
        result.problems = [*self._header_problems, *self._problems]
        result.failed_rows = self._failed_rows
        result.headers = list(dataset.headers or [])
        result.conflict = self._conflict
        for error in result.base_errors:
            if not self._header_problems and not self._write_failed:
                result.problems.append(
                    ImportProblem(None, "", None, _describe_exception(error.error))
                )
        return result

    def _check_may_import(self, user) -> None:
        user = user if user is not None else self.user
        if user is None:
            return  # the system (management commands)
        opts = self._meta.model._meta
        for action in ("add", "change"):
            if not user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
                raise PermissionDenied(f"{user} may not {action} {opts.verbose_name_plural}.")

    def before_import(self, dataset, **kwargs):
        self._resolve_headers(dataset)
        (id_name, *_) = self.get_import_id_fields()
        self._key_column = self.fields[id_name].column_name
        columns = self._digest_columns
        if len(columns) > 1 and set(columns) <= set(dataset.headers or ()):
            self._digest_getter = operator.itemgetter(*columns)
        if self._header_problems:
            raise ValueError("; ".join(str(p) for p in self._header_problems))
        self._find_duplicates(dataset)
        for field in self.fields.values():
            if isinstance(field.widget, ExternalIdWidget) and field.column_name in dataset.headers:
                field.widget.prime(dataset[field.column_name])
                if field.widget.none_found() and len(field.widget._keys) > 1:
                    # Not one red line per row: the whole file waits for another one.
                    self._header_problems.append(
                        ImportProblem(
                            None,
                            field.column_name,
                            None,
                            MSG_IMPORT_FIRST
                            % {
                                "count": len(field.widget._keys),
                                "model": field.widget.model._meta.verbose_name_plural,
                                "file": field.widget.source_file
                                or f"the {field.widget.model._meta.verbose_name_plural}",
                            },
                        )
                    )
        if self._header_problems:
            raise ValueError("; ".join(str(p) for p in self._header_problems))

    def _resolve_headers(self, dataset) -> None:
        """Point each field at the header the file uses; note required ones missing."""
        self._header_problems = []
        headers = [_text(h).lstrip("\ufeff") for h in (dataset.headers or [])]
        if dataset.headers:
            dataset.headers = headers
        by_lower = {h.lower(): h for h in headers}
        for name, field in self.fields.items():
            aliases = self.column_aliases.get(name, (field.column_name,))
            found = next((by_lower[a.lower()] for a in aliases if a.lower() in by_lower), None)
            if found is not None:
                field.column_name = found
            elif name in self.required_columns or name in self.get_import_id_fields():
                self._header_problems.append(
                    ImportProblem(
                        None, aliases[0], None, MSG_MISSING_COLUMN % {"names": ", ".join(aliases)}
                    )
                )

    def _find_duplicates(self, dataset) -> None:
        """Mark every repeat of an import key in the file (rows after its first)."""
        self._row_problems = {}
        for id_name in self.get_import_id_fields():
            field = self.fields[id_name]
            if field.column_name not in dataset.headers:
                continue
            first_seen: dict[str, int] = {}
            for number, value in enumerate(dataset[field.column_name], 1):
                key = _text(value)
                if not key:
                    continue
                row = spreadsheet_row(number) + self._row_offset
                if key in first_seen:
                    self._row_problems.setdefault(number, {})[field.attribute] = ImportProblem(
                        row, field.column_name, key, MSG_DUPLICATE % {"first": first_seen[key]}
                    )
                else:
                    first_seen[key] = row

    def import_row(self, row, instance_loader, **kwargs):
        number = kwargs["row_number"]
        if self._header_problems:
            # The header already explains why nothing can be imported; one line
            # per row would bury that message.
            row_result = self.get_row_result_class()()
            row_result.import_type = RowResult.IMPORT_TYPE_INVALID
            row_result.validation_error = ValidationError("The file's header is incomplete.")
            return row_result
        if not _text(row.get(self._key_column)) and not any(_text(v) for v in row.values()):
            # An empty line between rows (a spreadsheet's blank row): not a record,
            # not counted, as the streaming reader of import_synthea skips it too.
            row_result = self.get_row_result_class()()
            self.after_import_row(row, row_result, **kwargs)
            return row_result
        self._instance_loader = instance_loader
        self._instance = None
        self._row_digest = ""
        if self._uses_digest:
            self._row_digest = instance_loader.row_digests.get(number) or self.row_digest(row)
            if (
                instance_loader.stored_digest(row) == self._row_digest
                and number not in self._row_problems
            ):
                # The very row this record was last imported from, and nothing saved
                # it since (every other save clears the digest): unchanged.
                row_result = self.get_row_result_class()()
                row_result.import_type = RowResult.IMPORT_TYPE_SKIP
                self.after_import_row(row, row_result, **kwargs)
                return row_result
        row_result = super().import_row(row, instance_loader, **kwargs)
        found = len(self._problems)
        if row_result.validation_error is not None:
            self._problems.extend(self._problems_from(row_result.validation_error, row, number))
        for error in row_result.errors:
            logger.warning("Import row %s failed", number, exc_info=error.error)
            self._problems.append(
                ImportProblem(self._line(number), "", None, _describe_exception(error.error))
            )
        if len(self._problems) > found:
            self._failed_rows.append(
                {
                    "file": self._file_name or "",
                    "row": self._line(number),
                    "cells": [_text(v) for v in row.values()],
                    "error": "; ".join(str(p) for p in self._problems[found:]),
                }
            )
        elif self._sample_left and row_result.import_type in ("new", "update"):
            self._sample_left -= 1
            row_result.diff = self._sample_diff(self._instance, row_result.import_type == "new")
        return row_result

    @cached_property
    def _uses_digest(self) -> bool:
        """Whether the model keeps the digest of the row it was imported from."""
        return any(f.attname == "import_digest" for f in self._meta.model._meta.concrete_fields)

    def row_digest(self, row) -> str:
        """A 128-bit BLAKE2 hash (hex) of what this Resource reads from ``row``: its class
        and, in field order, each field's cell. Stored as ``import_digest`` on the
        records an import writes, so re-importing the same row is known unchanged
        without cleaning and comparing it field by field."""
        getter = self._digest_getter  # every column in the header: one C call
        values = getter(row) if getter else [row.get(c, "") for c in self._digest_columns]
        cells = "\x1f".join(map(str, values))
        return hashlib.blake2b(
            cells.encode(), digest_size=16, person=self._digest_person
        ).hexdigest()

    @cached_property
    def _digest_columns(self) -> list[str]:
        return [field.column_name for field in self.get_import_fields()]

    @cached_property
    def _digest_person(self) -> bytes:
        """BLAKE2's personalization: the Resource, so two formats never share a digest."""
        return hashlib.blake2b(type(self).__name__.encode(), digest_size=16).digest()

    def get_import_fields(self):
        """import-export's list, computed once per import instead of once per row (it
        only depends on ``Meta`` and the fields, which do not change while importing)."""
        if self._import_fields is None:
            self._import_fields = super().get_import_fields()
        return self._import_fields

    def _line(self, number: int) -> int:
        """The spreadsheet row of import-export's data row ``number`` (header = 1)."""
        return spreadsheet_row(number) + self._row_offset

    def _sample_diff(self, instance, new: bool) -> list:
        """import-export's HTML diff of one row against its snapshot (preview sample only)."""
        if instance is None:
            return []
        original = type(instance)()
        if not new:
            original.__dict__.update(instance._import_original)
        diff = self.get_diff_class()(self, original, new)
        diff.compare_with(self, instance)
        return diff.as_html()

    def after_init_instance(self, instance, new, row, **kwargs):
        """Snapshot a loaded row's stored values: ``skip_row`` and the diff compare with it."""
        self._instance = instance
        if not new:
            instance._import_original = dict(instance.__dict__)

    def import_instance(self, instance, row, **kwargs):
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if self._uses_digest:
            instance.import_digest = self._row_digest
        for attribute, problem in self._row_problems.get(kwargs.get("row_number"), {}).items():
            errors.setdefault(attribute, []).append(
                ValidationError(problem.message, code="duplicate", params={"_problem": problem})
            )
        if errors:
            raise ValidationError(errors)

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """``full_clean`` without its per-row queries, then :meth:`check_instance`.

        Uniqueness of the import key is checked over the whole file and against
        the rows the loader found (one query per chunk), and the database's
        constraints still guard the write; so ``full_clean`` runs with
        ``validate_unique=False`` and ``validate_constraints=False``, which would
        otherwise cost a query per unique field and per check constraint per row.
        """
        errors = dict(import_validation_errors or {})
        if self._meta.clean_model_instances:
            # A column already reported leaves out every model field it feeds, so
            # one bad cell gives one message.
            exclude = {*errors, *self.system_fields}
            for attribute in errors:
                exclude.update(getattr(self._field_for(attribute), "model_fields", ()))
            # A related row set here was loaded from the database (ExternalIdWidget's
            # cache), so ForeignKey.validate's existence query per row is not needed.
            exclude.update(
                f.name
                for f in instance._meta.concrete_fields
                if f.is_relation and f.name in instance._state.fields_cache
            )
            try:
                instance.full_clean(
                    exclude=exclude, validate_unique=False, validate_constraints=False
                )
            except ValidationError as exc:
                errors = exc.update_error_dict(errors)
        if not errors:
            try:
                self.check_instance(instance, getattr(instance, "_import_original", None))
            except ValidationError as exc:
                errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """Skip (report "unchanged") an existing row whose stored values would not change.

        Compares every concrete model field with the snapshot taken when the row
        was loaded (not only the resource's fields), so a column that feeds two
        fields (Synthea's provider NAME) is compared too.
        """
        stored = getattr(instance, "_import_original", None)
        if import_validation_errors or stored is None or not self._meta.skip_unchanged:
            return False
        return all(
            getattr(instance, f.attname) == stored.get(f.attname)
            for f in instance._meta.concrete_fields
            if f.attname != "import_digest"
        )

    def bulk_create(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        """Write the pending new rows through :meth:`write_batch` (not in a dry run)."""
        self._write_pending(self.create_instances, [], result)

    def bulk_update(self, using_transactions, dry_run, raise_errors, batch_size=None, result=None):
        """Write the pending changed rows through :meth:`write_batch` (not in a dry run)."""
        self._write_pending([], self.update_instances, result)

    def _write_pending(self, created: list, updated: list, result) -> None:
        pending = created or updated
        try:
            if pending and not self._dry_run and not self._write_failed:
                self.write_batch(
                    list(created),
                    list(updated),
                    actor=self._actor,
                    reason=self.reason(self._file_name),
                )
        except Exception as exc:  # reported once; the import is rolled back
            self._write_failed = True
            self._conflict = is_conflict(exc)
            self._problems.append(self.write_problem(exc))
            result.append_base_error(self.get_error_result_class()(exc))
        finally:
            pending.clear()

    def write_problem(self, exc: Exception) -> ImportProblem:
        """The problem to report when writing a batch failed (``exc``).

        A ``ValidationError`` from the service (e.g. a stale row) keeps its message;
        a database ``IntegrityError`` means another import or user wrote the same
        records at the same time. Anything else is logged and described briefly.
        """
        if isinstance(exc, ValidationError):
            return ImportProblem(None, "", None, " ".join(exc.messages))
        if is_conflict(exc):
            return ImportProblem(None, "", None, MSG_CONFLICT)
        logger.error("Import batch failed", exc_info=exc)
        return ImportProblem(None, "", None, _describe_exception(exc))

    def after_import_row(self, row, row_result, **kwargs):
        self._rows_done += 1
        if self.progress and (
            self._rows_done % self.progress_every == 0 or self._rows_done == self._rows_total
        ):
            self.progress(self._rows_done, self._rows_total)

    def after_import(self, dataset, result, **kwargs):
        # ModelResource.after_import resets SQL sequences for explicit primary
        # keys; rows here never carry one, so there is nothing to reset.
        pass

    # -- error reporting ---------------------------------------------------------

    @classmethod
    def widget_from_django_field(cls, f, default=widgets.Widget):
        """Strict widgets for the model's own fields: text stripped, ISO dates, real booleans."""
        internal_type = f.get_internal_type()
        if internal_type == "CharField":
            return TextWidget
        if internal_type == "DateField":
            return StrictDateWidget
        if internal_type == "BooleanField":
            return StrictBooleanWidget
        return super().widget_from_django_field(f, default)

    def _field_for(self, attribute: str):
        for field in self.fields.values():
            if field.attribute == attribute or attribute in getattr(field, "model_fields", ()):
                return field
        return None

    def _problems_from(self, error: ValidationError, row, number: int) -> list[ImportProblem]:
        """Turn a row's ``ValidationError`` into problems with row, column and value."""
        line = self._line(number)
        if not hasattr(error, "error_dict"):
            return [ImportProblem(line, "", None, m) for m in error.messages]
        problems: list[ImportProblem] = []
        for attribute, errors in error.error_dict.items():
            field = None if attribute == NON_FIELD_ERRORS else self._field_for(attribute)
            column = (
                field.column_name if field else ("" if attribute == NON_FIELD_ERRORS else attribute)
            )
            value = _text(row.get(column)) if field and column in row else ""
            for item in errors:
                params = item.params or {}
                if "_problem" in params:
                    problems.append(params["_problem"])
                    continue
                if attribute == NON_FIELD_ERRORS:  # a rule about the row as a whole
                    problems.append(ImportProblem(line, "", None, " ".join(item.messages)))
                    continue
                problems.append(self._problem(line, column, value, item, attribute))
        # One column can feed two model fields (a provider's NAME): say it once.
        return list(dict.fromkeys(problems))

    def _problem(self, line, column, value, item: ValidationError, attribute) -> ImportProblem:
        code, params = item.code, item.params or {}
        if code in ("blank", "required", "null") and not value:
            return ImportProblem(line, column, None, MSG_REQUIRED)
        if code == "max_length":
            return ImportProblem(line, column, value, MSG_TOO_LONG % params)
        if code == "invalid_choice":
            model_field = self._meta.model._meta.get_field(attribute)
            choices = ", ".join(str(key) for key, _ in model_field.flatchoices if key != "")
            return ImportProblem(line, column, value, MSG_NOT_A_CHOICE % {"choices": choices})
        if code == "unique":
            return ImportProblem(line, column, value, MSG_NOT_UNIQUE)
        message = " ".join(item.messages)
        if code == "invalid" and message and message[0].islower():
            return ImportProblem(line, column, value, message)  # our widgets' predicates
        if value and value in message:
            # The model's own message already quotes the value ("“0214” is not a
            # ZIP code"): say it once.
            return ImportProblem(line, column, None, message)
        return ImportProblem(line, column, value if column else None, f"is not accepted: {message}")


def changed_fields(instances) -> list[str]:
    """The names of the model fields any of ``instances`` changes against the snapshot an
    import took when it loaded them (for ``bulk_update``'s field list)."""
    names: set[str] = set()
    for instance in instances:
        stored = instance._import_original
        for f in instance._meta.concrete_fields:
            if getattr(instance, f.attname) != stored.get(f.attname):
                names.add(f.name)
    return sorted(names)


def is_conflict(exc: BaseException) -> bool:
    """True for an error caused by a concurrent writer, not by the file: a unique key
    taken meanwhile (``IntegrityError``), a row saved meanwhile (a ``ValidationError``
    with code ``stale``), or PostgreSQL's deadlock/serialization failure
    (``OperationalError``)."""
    if isinstance(exc, IntegrityError | OperationalError):
        return True
    return isinstance(exc, ValidationError) and getattr(exc, "code", None) == "stale"


def _describe_exception(error: BaseException) -> str:
    """A one-line description of an unexpected error (no traceback)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"could not be imported ({type(error).__name__}{': ' + text if text else ''})"


class ReadonlyField(ie_fields.Field):
    """A field that export writes and import ignores (e.g. a system-assigned MRN)."""

    def __init__(self, *args, **kwargs):
        kwargs["readonly"] = True
        super().__init__(*args, **kwargs)
