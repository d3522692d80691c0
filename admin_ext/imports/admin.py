"""The "Import jobs" admin: every import's record, read-only (DESIGN.md "Import and export").

Who sees which jobs:

- ``imports.view_importjob`` opens the list, and shows the viewer's own jobs
  (``actor`` = the viewer): the Data steward's role.
- ``imports.view_all_importjobs`` (with ``view_importjob``) shows every job, the
  system's included: Auditor and Administrator roles, and superusers.
- Anyone else sees none. A job outside what the viewer sees answers exactly as a
  missing one: the change and history pages redirect with "doesn't exist", the
  failed-rows download is 404.

Nobody adds, changes or deletes a job here, superusers included: a job is written
only by the import that ran it (``admin_ext.imports.services``). A POST to the
change page is refused (403) before anything is saved; the history page and the
download answer GET only.

The detail page shows the job's files (name, format, size, rows, SHA-256), its
counts and duration, its problems (paged), the records it changed (every model
registered with simple-history, counted by the history reason ``Import #<id>``,
each record linked to its history page when the viewer may see it), and a
"Download failed rows (CSV)" link per source file
(``<id>/failed-rows.csv?file=<name>``, URL name ``admin:imports_importjob_failed_rows``).

Sensitive columns. ``admin_ext`` never imports ``clinic``, so it cannot ask the
patient model which columns hold an SSN. It masks columns by their header instead:
``settings.IMPORT_SENSITIVE_COLUMNS`` (default :data:`IMPORT_SENSITIVE_COLUMNS`,
``{"ssn": "clinic.view_ssn"}``) maps a header, compared case-insensitively, to the
permission that reads it. For a viewer without that permission the column's values
show as ``***-**-1234`` in the problems list and in the failed-rows CSV, and the
value is masked inside the error texts that quote it.
"""

from __future__ import annotations

import csv
import datetime
import io
import re

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.http import content_disposition_header, urlencode
from simple_history.models import registered_models
from simple_history.utils import get_history_model_for_model

from admin_ext.exports import neutralize_formula
from admin_ext.history import READ_METHODS, AuditRecordAdminMixin
from admin_ext.imports.models import ImportJob

#: Default for ``settings.IMPORT_SENSITIVE_COLUMNS``: a column header (compared
#: case-insensitively) -> the permission that reads its values unmasked.
IMPORT_SENSITIVE_COLUMNS = {"ssn": "clinic.view_ssn"}

#: Records listed per model under "Records changed" (the rest: "and N more").
RECORDS_CHANGED_CAP = 100

#: Problems per page on the detail page.
PROBLEMS_PER_PAGE = 100

#: The query-string parameter that pages the problems list.
PROBLEMS_PAGE_VAR = "problems_page"

#: Fields a changelist URL may filter on (list filters, date hierarchy, actor).
#: Any other lookup is refused (400): ``problems`` and ``failed_rows`` hold cell
#: values, so ``?failed_rows__icontains=999-12-4`` would read a masked SSN out of
#: the row count, one character at a time.
FILTERABLE_FIELDS = frozenset({"id", "status", "source", "kind", "started_at", "actor"})

#: The added column of a failed-rows CSV (``"import error"`` if the file has its own "error").
ERROR_COLUMN = "error"

#: Bootstrap badge colour per status.
STATUS_BADGES = {
    ImportJob.Status.RUNNING: "info",
    ImportJob.Status.SUCCEEDED: "success",
    ImportJob.Status.PARTIAL: "warning",
    ImportJob.Status.REFUSED: "danger",
    ImportJob.Status.CONFLICT: "danger",
    ImportJob.Status.FAILED: "danger",
}

COUNT_KEYS = ("new", "changed", "unchanged", "invalid", "skipped")


# -- sensitive columns ---------------------------------------------------------------


def sensitive_columns() -> dict[str, str]:
    """``{lower-case header: "app_label.codename"}`` from the setting (or the default)."""
    configured = getattr(settings, "IMPORT_SENSITIVE_COLUMNS", IMPORT_SENSITIVE_COLUMNS)
    return {str(header).strip().lower(): perm for header, perm in configured.items()}


def masked_columns(user) -> frozenset[str]:
    """The lower-case headers whose values ``user`` reads masked (lacks the permission)."""
    return frozenset(h for h, perm in sensitive_columns().items() if not user.has_perm(perm))


def is_masked(header, masked: frozenset[str]) -> bool:
    """Whether a column named ``header`` (any case, any surrounding spaces) is masked."""
    return str(header or "").strip().lower() in masked


def mask_value(value) -> str:
    """``"999-12-4321"`` -> ``"***-**-4321"`` (last four digits kept); empty stays ``""``.

    The PHI rule's masking (DESIGN.md), written here because admin_ext does not
    import clinic. Fewer than four digits: ``"***-**-****"``.
    """
    text = "" if value is None else str(value)
    if not text:
        return ""
    digits = "".join(ch for ch in text if ch.isdigit())
    return f"***-**-{digits[-4:]}" if len(digits) >= 4 else "***-**-****"


def mask_text(text, secrets) -> str:
    """``text`` with every value of ``secrets`` (strings) replaced by its mask.

    For error texts that quote a cell (``Row 5, column SSN: "999-12-43" is not...``;
    ``ImportProblem`` shortens values over 80 characters to 77 and "..."). A value
    is replaced where it stands quoted; a value of four characters or more wherever
    it stands (a shorter one could be a row number).
    """
    text = "" if text is None else str(text)
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        masked = mask_value(secret)
        text = text.replace(f'"{secret}"', f'"{masked}"')
        if len(secret) > 80:
            text = text.replace(f'"{secret[:77]}...', f'"{masked}')
        if len(secret) >= 4:
            text = text.replace(secret, masked)
    return text


def visible_problems(problems, masked: frozenset[str]) -> list[dict]:
    """``problems`` (``ImportJob.problems`` items) as shown to a viewer.

    Returns ``[{"file", "row", "column", "value", "message"}]``; values of masked
    columns are masked, in ``value`` and inside ``message``.
    """
    shown = []
    for problem in problems:
        if not isinstance(problem, dict):
            continue
        value = problem.get("value")
        message = problem.get("message") or ""
        if value is not None and is_masked(problem.get("column"), masked):
            message = mask_text(message, [str(value)])
            value = mask_value(value)
        shown.append(
            {
                "file": problem.get("file") or "",
                "row": problem.get("row"),
                "column": problem.get("column") or "",
                "value": value,
                "message": message,
            }
        )
    return shown


# -- failed rows ---------------------------------------------------------------------


def failed_row_files(job: ImportJob) -> dict[str, list[dict]]:
    """The job's failed rows by source file: ``{file name: [failed row dict, ...]}``.

    In the order the files first appear; a row without a file name goes under ``""``.
    """
    files: dict[str, list[dict]] = {}
    for row in job.failed_rows or ():
        if isinstance(row, dict):
            files.setdefault(str(row.get("file") or ""), []).append(row)
    return files


def _cells(row: dict, headers: list[str]) -> list[str]:
    """``row``'s cells as text, one per ``headers`` item (by position, or by name when
    the row was read under other headers); missing cells are ``""``."""
    cells = ["" if c is None else str(c) for c in (row.get("cells") or ())]
    own = row.get("headers")
    if own and list(own) != headers:
        by_name = dict(zip((str(h) for h in own), cells, strict=False))
        return [by_name.get(h, "") for h in headers]
    return (cells + [""] * len(headers))[: len(headers)]


def failed_rows_csv(rows: list[dict], masked: frozenset[str]) -> str:
    """One source file's failed rows as CSV text (RFC 4180: CRLF, quoted as needed).

    Args: ``rows`` from :func:`failed_row_files` (``{"headers", "cells", "error",
    ...}``), ``masked`` from :func:`masked_columns`. Returns the header line (the
    file's own headers plus ``error``), then one line per row: its cells, then the
    error text. Masked columns' values are masked, in the cells and in the error;
    every text cell goes through ``admin_ext.exports.neutralize_formula``, which
    the import undoes, so the fixed file imports as typed.
    """
    headers = [str(h) for h in (rows[0].get("headers") or ())] if rows else []
    hidden = [i for i, h in enumerate(headers) if is_masked(h, masked)]
    lowered = {h.strip().lower() for h in headers}
    error_column = ERROR_COLUMN if ERROR_COLUMN not in lowered else f"import {ERROR_COLUMN}"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralize_formula(h) for h in headers] + [error_column])
    for row in rows:
        cells = _cells(row, headers)
        secrets = [cells[i] for i in hidden]
        for i in hidden:
            cells[i] = mask_value(cells[i])
        error = mask_text(row.get("error") or "", secrets)
        writer.writerow([neutralize_formula(c) for c in cells] + [neutralize_formula(error)])
    return out.getvalue()


def download_name(job: ImportJob, file_name: str) -> str:
    """``import-12-failed-rows-patients.csv``: the download's file name, ASCII-safe."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", file_name)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:60]
    return f"import-{job.pk}-failed-rows{'-' + stem if stem else ''}.csv"


# -- records changed -----------------------------------------------------------------


def history_tracked_models() -> list:
    """Every model with simple-history records (not the m2m tables kept with them)."""
    seen = []
    for model in registered_models.values():
        if hasattr(model._meta, "simple_history_manager_attribute") and model not in seen:
            seen.append(model)
    return seen


def records_changed(request, job: ImportJob, admin_site) -> list[dict]:
    """What ``job`` wrote, per model: its history rows with the reason ``job.reason`` (or
    that reason followed by a note in parentheses, as a confirmed duplicate's).

    Returns ``[{"name": verbose_name_plural, "count": history rows, "records":
    [{"label", "url"}], "more": int, "linked": bool}]`` for the models the job
    changed. ``records`` (only when ``request.user`` may view the model in
    ``admin_site``) links up to :data:`RECORDS_CHANGED_CAP` changed records the
    viewer may see to their history pages; ``more`` counts the other changed
    records. Records the viewer may not see are never named.
    """
    found = []
    for model in history_tracked_models():
        history = get_history_model_for_model(model)._default_manager
        # "Import #12", or "Import #12 (confirmed not a duplicate of ...)": an index
        # range on the reason, never a match of "Import #120".
        rows = history.filter(
            Q(history_change_reason=job.reason)
            | Q(history_change_reason__startswith=f"{job.reason} (")
        ).order_by()
        count = rows.count()
        if not count:
            continue
        entry = {
            "name": model._meta.verbose_name_plural,
            "count": count,
            "records": [],
            "more": 0,
            "linked": False,
        }
        model_admin = admin_site._registry.get(model)
        if model_admin is not None and model_admin.has_view_permission(request):
            opts, pk = model._meta, model._meta.pk.attname
            total = rows.values(pk).distinct().count()
            # order_by the key alone: DISTINCT would include the history's ordering columns.
            first = list(
                rows.order_by(pk).values_list(pk, flat=True).distinct()[:RECORDS_CHANGED_CAP]
            )
            shown = model_admin.get_queryset(request).filter(pk__in=first).order_by("pk")
            try:
                entry["records"] = [
                    {
                        "label": str(obj),
                        "url": reverse(
                            f"{admin_site.name}:{opts.app_label}_{opts.model_name}_history",
                            args=[quote(obj.pk)],
                        ),
                    }
                    for obj in shown
                ]
                entry["linked"] = True
            except NoReverseMatch:
                entry["records"] = []
            entry["more"] = total - len(entry["records"])
        found.append(entry)
    return found


# -- display helpers -----------------------------------------------------------------


def format_duration(duration: datetime.timedelta | None) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``, ``1 h 02 min``; ``"—"`` while running."""
    if duration is None:
        return "—"
    seconds = duration.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _count_column(key: str):
    """A ModelAdmin display method: the job's count of ``key`` rows (0 if not recorded)."""

    @admin.display(description=key.capitalize())
    def display(self, job: ImportJob) -> int:
        counts = job.counts if isinstance(job.counts, dict) else {}
        return counts.get(key, 0)

    display.__name__ = f"count_{key}"
    return display


# -- the admin -----------------------------------------------------------------------


@admin.register(ImportJob)
class ImportJobAdmin(AuditRecordAdminMixin, admin.ModelAdmin):
    """Import jobs, read-only: own jobs for stewards, all for auditors and administrators."""

    list_display = (
        "job",
        "started_at",
        "actor_display",
        "kind",
        "file_names",
        "status_badge",
        *(f"count_{key}" for key in COUNT_KEYS),
        "duration_display",
    )
    list_display_links = ("job",)
    list_filter = ("status", "source", "kind")
    search_fields = ("files", "actor_label", "actor__email")
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
    list_per_page = 50
    actions = None
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "actor_display",
                    "source",
                    "kind",
                    "valid_rows_only",
                    "status_badge",
                    "message",
                    "started_at",
                    "finished_at",
                    "duration_display",
                    *(f"count_{key}" for key in COUNT_KEYS),
                    "problem_count",
                )
            },
        ),
    )
    readonly_fields = fieldsets[0][1]["fields"]

    count_new = _count_column("new")
    count_changed = _count_column("changed")
    count_unchanged = _count_column("unchanged")
    count_invalid = _count_column("invalid")
    count_skipped = _count_column("skipped")

    # -- who sees what ------------------------------------------------------------------

    def sees_all(self, request) -> bool:
        """Whether ``request.user`` sees every job (``imports.view_all_importjobs``)."""
        return request.user.has_perm(f"{self.opts.app_label}.view_all_importjobs")

    def get_queryset(self, request):
        """Every job for :meth:`sees_all` viewers, else the viewer's own (none without
        ``view_importjob``)."""
        qs = super().get_queryset(request)
        if not super().has_view_permission(request):
            return qs.none()
        if self.sees_all(request):
            return qs
        return qs.filter(actor_id=request.user.pk)

    def has_view_permission(self, request, obj=None):
        if not super().has_view_permission(request, obj):
            return False
        return obj is None or self.sees_all(request) or obj.actor_id == request.user.pk

    def lookup_allowed(self, lookup, value, request=None):
        # The answer never depends on the value (see FILTERABLE_FIELDS).
        return lookup.split("__", 1)[0] in FILTERABLE_FIELDS and super().lookup_allowed(
            lookup, value, request
        )

    # -- columns and fields -------------------------------------------------------------

    @admin.display(description="Import", ordering="id")
    def job(self, obj: ImportJob) -> str:
        return str(obj)

    @admin.display(description="Actor", ordering="actor_label")
    def actor_display(self, obj: ImportJob) -> str:
        return obj.actor_label or "System"

    @admin.display(description="Files")
    def file_names(self, obj: ImportJob) -> str:
        files = obj.files if isinstance(obj.files, list) else []
        return ", ".join(str(f.get("name", "")) for f in files if isinstance(f, dict)) or "—"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: ImportJob):
        return format_html(
            '<span class="badge text-bg-{}">{}</span>',  # Bootstrap 5 (jazzmin 3)
            STATUS_BADGES.get(obj.status, "secondary"),
            obj.get_status_display(),
        )

    @admin.display(description="Duration")
    def duration_display(self, obj: ImportJob) -> str:
        return format_duration(obj.duration)

    # -- pages --------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        # Before Django's own: its "<path:object_id>/" catch-all would take this URL.
        return [
            path(
                "<path:object_id>/failed-rows.csv",
                self.admin_site.admin_view(self.failed_rows_view),
                name="{}_{}_failed_rows".format(*info),
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self.job_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def job_context(self, request, job: ImportJob) -> dict:
        """The detail page's sections, for ``request.user``.

        Returns ``{"job_files": [file dicts], "problems": Page of problem dicts,
        "problems_stored": int, "problems_page_var": str, "records_changed": see
        :func:`records_changed`, "failed_row_downloads": [{"file", "rows", "url"}]}``.
        """
        masked = masked_columns(request.user)
        problems = Paginator(
            visible_problems(job.problems or (), masked), PROBLEMS_PER_PAGE
        ).get_page(request.GET.get(PROBLEMS_PAGE_VAR))
        url = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_failed_rows",
            args=[quote(job.pk)],
        )
        downloads = [
            {"file": name, "rows": len(rows), "url": f"{url}?{urlencode({'file': name})}"}
            for name, rows in failed_row_files(job).items()
        ]
        files = job.files if isinstance(job.files, list) else []
        return {
            "job_files": [f for f in files if isinstance(f, dict)],
            "problems": problems,
            "problems_stored": len(job.problems or ()),
            "problems_page_var": PROBLEMS_PAGE_VAR,
            "records_changed": records_changed(request, job, self.admin_site),
            "failed_row_downloads": downloads,
        }

    def failed_rows_view(self, request, object_id):
        """One source file's failed rows as a CSV download (:func:`failed_rows_csv`).

        ``?file=<name>`` picks the file; it may be left out when the job's failed
        rows come from one file. GET only (405 otherwise); 403 without
        ``view_importjob``; 404 for a job the viewer does not see (as for a missing
        one), a job without failed rows, and an unknown or missing file name.
        """
        if request.method not in READ_METHODS:
            return HttpResponseNotAllowed(READ_METHODS)
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = self.get_object(request, unquote(object_id))
        if job is None or not self.has_view_permission(request, job):
            raise Http404("No such import job.")
        files = failed_row_files(job)
        name = request.GET.get("file")
        if name is None and len(files) == 1:
            name = next(iter(files))
        if name is None or name not in files:
            raise Http404("No failed rows for that file.")
        response = HttpResponse(
            failed_rows_csv(files[name], masked_columns(request.user)),
            content_type="text/csv; charset=utf-8",
        )
        response.headers["Content-Disposition"] = content_disposition_header(
            True, download_name(job, name)
        )
        return response
