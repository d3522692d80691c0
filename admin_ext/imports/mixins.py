"""The admin side of every import: formats read from the content, limits before work,
an import job record for every import, and the "valid rows only" choice.

:class:`ImportJobAdminMixin` goes into ``ClinicModelAdmin`` (``admin_ext.admin``), so
every ModelAdmin with an import page gets it; it uses import-export's own hooks
(``process_dataset``, ``process_result``, ``get_import_data_kwargs``, the form
classes) rather than new views.

The upload page also says what was read ("CSV, semicolon-separated, Windows-1252,
1,234 rows": :class:`FileRead`, context ``file_read``), accepts a form without a
file when it carries a kept upload's token (``kept_upload``, see
``admin_ext.imports.storage``), and records its progress for the page to poll
(``admin_ext.imports.views.ImportProgress``: the Resource's ``progress``).
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from import_export.formats.base_formats import Format
from import_export.forms import ConfirmImportForm, ImportForm

from admin_ext.imports.models import ImportJob
from admin_ext.imports.reading import (
    ImportFileError,
    Table,
    check_upload_size,
    encoding_label,
    read_table,
)
from admin_ext.imports.services import file_entry, job_finish, job_start, job_stopped
from admin_ext.imports.storage import KEPT_FIELD, REFUSAL, KeptUpload, is_token
from admin_ext.imports.views import CHECKING, READING, ImportProgress

#: How a CSV delimiter is named to users.
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def describe_table(table: Table) -> str:
    """What was read, for people: ``"XLSX"`` or ``"CSV, semicolon-separated,
    Windows-1252"`` (format, delimiter, encoding as ``reading`` names it)."""
    if table.format != "CSV":
        return table.format
    parts = ["CSV"]
    if table.delimiter:
        parts.append(f"{DELIMITER_NAMES.get(table.delimiter, repr(table.delimiter))}-separated")
    if table.encoding:
        parts.append(encoding_label(table.encoding))
    return ", ".join(parts)


@dataclass
class FileRead:
    """An uploaded file as :class:`DetectedFormat` read it: ``format`` (``"CSV"`` or
    ``"XLSX"``), ``description`` (:func:`describe_table`), data ``rows``, and the
    bytes' ``sha256`` (hex) and ``size``. ``str()`` is what the upload form shows:
    ``"CSV, comma-separated, UTF-8, 1,234 rows"``."""

    format: str
    description: str
    rows: int
    sha256: str
    size: int

    def __str__(self) -> str:
        noun = "row" if self.rows == 1 else "rows"
        return f"{self.description}, {self.rows:,} {noun}"


@dataclass
class _Reading:
    """The file the current import request read (import-export calls
    ``create_dataset`` with the bytes only, so the request's admin hears of it here)."""

    file: FileRead | None = None


_reading: contextvars.ContextVar[_Reading | None] = contextvars.ContextVar(
    "admin_ext_import_reading", default=None
)


class DetectedFormat(Format):
    """CSV or XLSX, decided from the file's bytes, never from its name or a menu
    (``admin_ext.imports.reading.read_table``: encodings, delimiters, limits).

    The only import format (settings ``IMPORT_FORMATS``); export keeps CSV and XLSX.
    ``create_dataset`` raises ``ImportFileError`` with a message for the user.
    """

    def __init__(self, encoding=None):
        self.encoding = encoding

    def get_title(self):
        return "CSV or XLSX (detected from the file)"

    def create_dataset(self, in_stream):
        """The table in ``in_stream`` (bytes) as a ``tablib.Dataset``, which also carries the
        bytes' ``sha256`` (hex) and ``size`` for the import job record."""
        if isinstance(in_stream, str):
            in_stream = in_stream.encode("utf-8")
        table = read_table(in_stream, "The file")
        dataset = table.to_dataset()
        dataset.sha256 = hashlib.sha256(in_stream).hexdigest()
        dataset.size = len(in_stream)
        dataset.format_name = table.format
        reading = _reading.get()
        if reading is not None:
            reading.file = FileRead(
                format=table.format,
                description=describe_table(table),
                rows=len(dataset),
                sha256=dataset.sha256,
                size=dataset.size,
            )
        return dataset

    def can_import(self):
        return True

    def get_extension(self):
        return "csv"


def validate_upload_size(upload) -> None:
    """Refuse ``upload`` (an ``UploadedFile``) over ``IMPORT_MAX_UPLOAD_BYTES`` before
    anything is read: ``forms.ValidationError`` (code ``too_large``) with
    ``reading.check_upload_size``'s message naming the file and the limit."""
    try:
        check_upload_size(upload.size, upload.name)
    except ImportFileError as exc:
        raise forms.ValidationError(exc.message, code="too_large") from None


class KeptUploadForm(forms.Form):
    """An upload form that may be posted again without a file, to preview again the
    upload an earlier preview kept (``admin_ext.imports.storage``).

    ``upload_field`` names the form's file field. ``kept_upload`` (hidden) carries the
    kept upload's token. Posted without a file, the token must be there (else the file
    field's "This field is required.") and token-shaped (else the storage's
    ``REFUSAL``); then :meth:`use_kept` gets it. Its owner and expiry are checked when
    the admin reads it. A chosen file always wins.
    """

    upload_field = "import_file"
    kept_upload = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        field = self.upload_field
        if cleaned.get(field) or field in self.errors:
            return cleaned
        token = (cleaned.get(KEPT_FIELD) or "").strip()
        if not token:
            error = self.fields[field].error_messages["required"]
            self.add_error(field, forms.ValidationError(error, code="required"))
        elif not is_token(token):
            self.add_error(field, forms.ValidationError(REFUSAL, code="unavailable"))
        else:
            self.use_kept(cleaned, token)
        return cleaned

    def use_kept(self, cleaned: dict, token: str) -> None:
        """What the form does with a valid kept token (default: nothing; the view reads
        ``kept_upload``)."""


class JobImportForm(KeptUploadForm, ImportForm):
    """import-export's upload form: the size limit checked before anything is read, the
    explicit choice to import the valid rows only, and the kept upload.

    Posted without a file (:class:`KeptUploadForm`), the form's cleaned
    ``import_file`` is a ``KeptUpload`` naming the kept upload.
    """

    import_file = forms.FileField(label="File to import", required=False)
    valid_rows_only = forms.BooleanField(
        label="Import the valid rows only",
        required=False,
        help_text="Skip invalid rows instead of refusing the whole file; the skipped rows "
        "are listed in the import job's report.",
    )

    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        if not upload:
            return None
        validate_upload_size(upload)
        return upload

    def use_kept(self, cleaned, token):
        cleaned["import_file"] = KeptUpload(token=token)


class JobConfirmImportForm(ConfirmImportForm):
    """import-export's confirm form, carrying the "valid rows only" choice."""

    valid_rows_only = forms.BooleanField(required=False, widget=forms.HiddenInput)


def job_url(job: ImportJob) -> str | None:
    """The admin page of ``job``, or None if the job admin is not installed."""
    try:
        return reverse("admin:imports_importjob_change", args=[job.pk])
    except NoReverseMatch:
        return None


def job_status(result, *, valid_rows_only: bool) -> str:
    """The ``ImportJob.Status`` an import ``result`` (``ImportResult``) ends with."""
    if getattr(result, "conflict", False):
        return ImportJob.Status.CONFLICT
    if result.problems and not valid_rows_only:
        return ImportJob.Status.REFUSED
    if result.has_errors():
        return ImportJob.Status.FAILED
    return ImportJob.Status.PARTIAL if result.problems else ImportJob.Status.SUCCEEDED


class ImportJobAdminMixin:
    """Import jobs, detected formats and "valid rows only" for an ImportExportModelAdmin.

    - The preview of a file with invalid rows records a refused job, whose page
      offers the failed rows as a CSV to fix and re-import.
    - The confirm records a job before writing (every history row gets the reason
      ``Import #<id>``) and finishes it with the counts, problems and duration.
    - A refused confirm (a concurrent change since the preview) says so and keeps
      nothing, instead of the library's success message.
    - The preview's page gets ``file_read`` (:class:`FileRead`) once the file was
      read; preview and confirm record their progress (``ImportProgress``) when the
      page posted a ``progress_id``.
    """

    import_form_class = JobImportForm
    confirm_form_class = JobConfirmImportForm

    def get_import_formats(self):
        """One import format, :class:`DetectedFormat`: the content decides (export keeps
        ``IMPORT_EXPORT_FORMATS``)."""
        return [DetectedFormat]

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, ImportFileError):
            form.add_error("import_file", e.message)
        else:
            super().add_data_read_fail_error_to_form(form, e)

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["valid_rows_only"] = import_form.cleaned_data.get("valid_rows_only", False)
        return initial

    def get_import_data_kwargs(self, **kwargs):
        kwargs.pop("import_job", None)
        form = kwargs.get("form")
        valid_only = bool(form and form.cleaned_data.get("valid_rows_only"))
        return {**super().get_import_data_kwargs(**kwargs), "valid_rows_only": valid_only}

    def import_action(self, request, **kwargs):
        progress = ImportProgress.for_request(request)
        progress.stage(READING)
        reading = _Reading()
        reset = _reading.set(reading)
        try:
            response = super().import_action(request, **kwargs)
        finally:
            _reading.reset(reset)
            progress.finish()
        context = getattr(response, "context_data", None) or {}
        if reading.file is not None and "form" in context:
            context["file_read"] = reading.file
        result, form = context.get("result"), context.get("form")
        if result is None or form is None or not form.is_valid():
            return response
        valid_only = form.cleaned_data.get("valid_rows_only", False)
        if result.problems:
            if (
                valid_only
                and not result.base_errors
                and result.counts["new"] + result.counts["changed"]
            ):
                # The confirm records the job, skipped rows included: one job per import.
                context["confirm_form"] = self.create_confirm_form(request, import_form=form)
                return response
            upload = form.cleaned_data["import_file"]
            context["import_job"] = self._record_refused_preview(
                request, form, upload, result, reading.file
            )
            context["import_job_url"] = job_url(context["import_job"])
        return response

    def process_import(self, request, **kwargs):
        """The library's confirm, its progress recorded like the preview's."""
        progress = ImportProgress.for_request(request)
        progress.stage(READING)
        try:
            return super().process_import(request, **kwargs)
        finally:
            progress.finish()

    def _record_refused_preview(self, request, form, upload, result, read=None) -> ImportJob:
        resource = self.choose_import_resource_class(form, request)
        job = job_start(
            actor=request.user,
            source=ImportJob.Source.ADMIN,
            kind=resource.get_display_name(),
            files=[_entry(upload, result, read)],
            valid_rows_only=form.cleaned_data.get("valid_rows_only", False),
        )
        return job_finish(
            job=job,
            status=ImportJob.Status.REFUSED,
            counts=result.counts,
            problems=_in_file(result.problems, upload.name),
            failed_rows=_failed_rows(result),
            message="The preview found invalid rows; nothing was imported.",
        )

    def process_dataset(self, dataset, form, request, **kwargs):
        file_name = kwargs.get("file_name") or form.cleaned_data.get("original_file_name") or ""
        valid_only = form.cleaned_data.get("valid_rows_only", False)
        resource_class = self.choose_import_resource_class(form, request)
        job = job_start(
            actor=request.user,
            source=ImportJob.Source.ADMIN,
            kind=resource_class.get_display_name(),
            files=[
                file_entry(
                    name=file_name,
                    sha256=getattr(dataset, "sha256", ""),
                    size=getattr(dataset, "size", None),
                    fmt=getattr(dataset, "format_name", ""),
                    rows=len(dataset),
                )
            ],
            valid_rows_only=valid_only,
        )
        try:
            result = super().process_dataset(dataset, form, request, import_job=job, **kwargs)
        except Exception as exc:
            # A fault of the server, not of the file (row errors are results): the job
            # says so instead of staying "running", and the error goes on to be reported.
            job_stopped(job=job, error=exc)
            raise
        counts = {**result.counts, "skipped": len(result.problems) if valid_only else 0}
        job_finish(
            job=job,
            status=job_status(result, valid_rows_only=valid_only),
            counts=counts,
            problems=_in_file(result.problems, file_name),
            failed_rows=_failed_rows(result),
        )
        result.import_job = job
        return result

    def get_import_resource_kwargs(self, request, **kwargs):
        """The job's reason (``Import #<id>``) goes to the Resource at confirm; so does
        the request's progress recorder (``progress``), when the page asked for one."""
        job = kwargs.pop("import_job", None)
        resource_kwargs = super().get_import_resource_kwargs(request, **kwargs)
        if job is not None:
            resource_kwargs["reason"] = job.reason
        progress = ImportProgress.for_request(request)
        if progress.enabled and request.method == "POST":
            # Called once the file is read, just before the rows are checked.
            reading = _reading.get()
            total = reading.file.rows if reading is not None and reading.file else None
            progress.stage(CHECKING, total=total)
            resource_kwargs["progress"] = progress.rows
        return resource_kwargs

    def process_result(self, result, request):
        job = getattr(result, "import_job", None)
        if job is None or job.status in (ImportJob.Status.SUCCEEDED, ImportJob.Status.PARTIAL):
            return super().process_result(result, request)
        # The confirm imports again; if the data changed since the preview (a row now
        # invalid, a concurrent change), everything was rolled back: say so.
        for problem in result.problems[:20]:
            messages.error(request, str(problem))
        messages.error(
            request,
            format_html(
                "{}: nothing was imported ({}). The job lists every problem.",
                _link(job),
                job.get_status_display().lower(),
            ),
        )
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import")
        )

    def add_success_message(self, result, request):
        """``"Import #12: 3 new, 1 changed and 40 unchanged patients."`` (the job linked),
        instead of the library's "Import finished"."""
        counts = result.counts
        job = getattr(result, "import_job", None)
        skipped = f"; {len(result.problems)} invalid rows skipped" if result.problems else ""
        messages.success(
            request,
            format_html(
                "{}: {} new, {} changed and {} unchanged {}{}.",
                _link(job) if job else "Import finished",
                counts["new"],
                counts["changed"],
                counts["unchanged"],
                self.opts.verbose_name_plural,
                skipped,
            ),
        )


def _link(job: ImportJob):
    url = job_url(job)
    return format_html('<a href="{}">{}</a>', url, job) if url else str(job)


def _failed_rows(result) -> list[dict]:
    headers = list(getattr(result, "headers", []) or [])
    return [{**row, "headers": headers} for row in getattr(result, "failed_rows", [])]


def _entry(upload, result, read: FileRead | None = None) -> dict:
    """The job's file entry: from what was read (``read``), else by hashing ``upload``."""
    if read is not None:
        return file_entry(
            name=upload.name, sha256=read.sha256, size=read.size, fmt=read.format, rows=read.rows
        )
    upload.seek(0)
    return file_entry(
        name=upload.name,
        sha256=hashlib.file_digest(upload, "sha256").hexdigest(),
        size=upload.size,
        fmt="CSV or XLSX",
        rows=result.total_rows,
    )


def _in_file(problems, name: str) -> list:
    """``problems`` with the file's name, for the job record (one file: no name in them)."""
    return [p if p.file else dataclasses.replace(p, file=name) for p in problems]
