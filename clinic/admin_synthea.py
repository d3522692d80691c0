"""Synthea folder import in the patient admin: one upload, one preview, one confirm.

A data steward uploads a Synthea output folder, as a ZIP archive or as several CSV
files at once, and gets one preview over all of it: ``organizations.csv``,
``providers.csv``, ``patients.csv``, then primary doctors from ``encounters.csv``, in
dependency order, through :func:`clinic.synthea.import_folder`, the procedure behind
``python manage.py import_synthea`` (DESIGN.md, "Import and export"). Then one
confirm writes it all in one transaction and leaves one import job.

``SyntheaFolderImportMixin`` gives ``PatientAdmin``:

- the page ``<admin>/clinic/patient/import-synthea/`` (URL name
  ``admin:clinic_patient_synthea_import``), GET (the upload form) and POST (the
  upload's preview, or with ``step=confirm`` the confirm);
- an "Import Synthea folder" button beside "Import" on the patient changelist
  (``templates/admin/clinic/patient/change_list.html``), for users who may use it.

Who may: :meth:`SyntheaFolderImportMixin.has_synthea_import_permission`, i.e. the
patient import permission (``import_patient`` with the model-wide add and change)
and the model-wide add and change of organizations and doctors, because a folder
writes all three. Anyone else gets 403 on GET and POST alike. The work-queue
proxies (unassigned, archived patients) have no such page.

What an upload may be (checked before anything is unpacked or parsed; every refusal
is a message naming the file):

- one ZIP archive (PKWARE APPNOTE.TXT): at most :data:`MAX_ZIP_MEMBERS` members,
  declared uncompressed sizes (central directory, APPNOTE 4.4.9; ``zipfile`` never
  unpacks more than a member declares) adding up to at most
  ``IMPORT_MAX_UPLOAD_BYTES`` x :data:`ZIP_EXPANSION`, and each known member within
  ``IMPORT_MAX_UPLOAD_BYTES``; members are matched by base name, case-insensitively,
  in any folder (``output/csv/patients.csv``); other members are ignored and
  listed; nothing is extracted to disk, members are read into memory one at a time;
- or CSV files (``<input type=file multiple>``), each within
  ``IMPORT_MAX_UPLOAD_BYTES``, matched by name the same way.

At least one of ``FOLDER_FILES`` must be there; each must be CSV text (the format is
decided from the bytes by ``admin_ext.imports.reading``) of at most
``IMPORT_MAX_ROWS`` data rows; a bigger folder goes through ``import_synthea``.

Between preview and confirm the known files wait in the database as one ZIP
(``admin_ext.imports.storage.DatabaseStorage``: an ``ImportUpload`` owned by the
user, named by an unguessable token, expiring, deleted when the confirm ends), never
in a temporary folder; ignored members are not kept. The confirm form carries only
that token and the "valid rows only" choice.

A preview that offers no confirm (invalid rows, a conflict) keeps the stored folder
too (issue 6): the upload form comes back with "File: synthea.zip (CSV files:
patients.csv 1,234 rows, ...) — choose other files to replace it" and the token in
its hidden ``kept_upload`` field, so that posting it again without files previews
the same folder (say with "valid rows only" ticked). The token is checked as at
confirm (the user's, not expired; anything else gets ``storage.REFUSAL``); files
chosen replace the kept folder (deleted). A folder that could not be read is never
kept.

Preview and confirm record their progress for the page to poll
(``admin_ext.imports.views.ImportProgress``: ``import_folder``'s ``progress(file
name, rows read)``) when the page posted a ``progress_id``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import logging
import posixpath
import re
import shutil
import zipfile
from dataclasses import dataclass, field

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.exceptions import NotRegistered
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.translation import ngettext

from admin_ext.imports import reading
from admin_ext.imports.mixins import KeptUploadForm, validate_upload_size
from admin_ext.imports.models import ImportJob
from admin_ext.imports.reading import ImportFileError, check_upload_size, read_table
from admin_ext.imports.resources import ImportProblem
from admin_ext.imports.services import file_entry, job_finish, job_start
from admin_ext.imports.storage import (
    KEPT_FIELD,
    REFUSAL,
    DatabaseStorage,
    KeptUpload,
    UploadTracker,
    UploadUnavailable,
    discard,
    find_upload,
)
from admin_ext.imports.views import READING, ImportProgress
from clinic.models import Doctor, Organization, mask_ssn
from clinic.synthea import ENCOUNTERS_FILE, FOLDER_FILES, FolderResult, import_folder

logger = logging.getLogger(__name__)

#: The ``ImportJob.kind`` of a folder import (the same as ``import_synthea``'s).
JOB_KIND = "Synthea folder"
#: The most members a ZIP upload may list (a Synthea folder has about 20 files).
MAX_ZIP_MEMBERS = 100
#: A ZIP's members may unpack to this many times ``IMPORT_MAX_UPLOAD_BYTES`` in all
#: (CSV compresses about tenfold); more is refused before anything is unpacked.
ZIP_EXPANSION = 10
#: How many problems the page lists; the rest are counted ("... and N more") and
#: are on the import job's page.
MAX_LISTED_PROBLEMS = 500
#: How many bytes of a file decide whether it is CSV text (``reading.SAMPLE_BYTES``).
HEAD_BYTES = reading.SAMPLE_BYTES
#: The history reason a preview runs under (it writes nothing: rolled back).
PREVIEW_REASON = "Preview"
#: How often (in rows of a file) a preview or confirm reports its progress to the page.
PROGRESS_EVERY = 1000
#: Columns whose values are SSNs, compared lower-case: masked in the problems the
#: page lists for users without ``clinic.view_ssn`` (DESIGN.md PHI rule).
SSN_COLUMNS = frozenset({"ssn"})
#: What each record file creates, for messages: (singular, plural).
NOUNS = {
    "organizations.csv": ("organization", "organizations"),
    "providers.csv": ("doctor", "doctors"),
    "patients.csv": ("patient", "patients"),
}

MSG_EXPECTED = (
    "Upload the Synthea output folder as one ZIP archive, or its CSV files ("
    + ", ".join(FOLDER_FILES)
    + ")."
)
MSG_NONE_FOUND = "%(upload)s holds none of the files a Synthea folder import reads: %(files)s."
MSG_XLSX = "%(name)s is an Excel workbook. A Synthea folder is CSV files: " + MSG_EXPECTED
MSG_MIXED = "Upload either one ZIP archive or CSV files, not both: %(name)s is a ZIP archive."
MSG_TWICE = "%(file)s is there twice (%(names)s): keep one of them and upload again."
MSG_TOO_MANY_MEMBERS = (
    "%(name)s holds %(count)s files, more than the %(limit)s a Synthea folder upload may "
    "hold. Put only the Synthea CSV files in the ZIP."
)
MSG_TOO_MANY_FILES = "%(count)s files were uploaded, more than the %(limit)s allowed at once."
MSG_EXPANDS = (
    "%(name)s would unpack to %(size)s, more than the %(limit)s a ZIP upload may unpack "
    'to. Import a folder this size on the server with "python manage.py import_synthea '
    '<folder>".'
)
MSG_ENCRYPTED = "%(name)s: %(member)s is password-protected; upload an archive without a password."
MSG_DAMAGED = "%(name)s: %(member)s cannot be unpacked (%(error)s); make the ZIP again."
MSG_NOT_CSV = "%(name)s is a ZIP archive or an Excel workbook, not a CSV file. " + MSG_EXPECTED
MSG_UNEXPECTED = (
    "The folder import stopped on an unexpected error; nothing was imported. The error was "
    "logged for the administrators."
)
#: The message of a job whose preview offered no confirm, by status.
PREVIEW_MESSAGES = {
    ImportJob.Status.REFUSED: "The preview found invalid rows; nothing was imported.",
    ImportJob.Status.CONFLICT: "The preview met a concurrent change; nothing was imported.",
}


# -- the upload form -------------------------------------------------------------------


class MultipleFileInput(forms.ClearableFileInput):
    """A file input that selects several files (``<input type=file multiple>``).

    Django 5.2 refuses ``multiple`` on a plain file input; this is the subclass its
    documentation ("Uploading multiple files") gives.
    """

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A FileField whose cleaned value is a list of ``UploadedFile`` (Django docs,
    "Uploading multiple files"). Each file is cleaned by ``FileField.clean``; when
    the field is required, an empty selection is refused like a missing file."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            if not data:
                return [single(None, initial)] if self.required else []
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class SyntheaUploadForm(KeptUploadForm):
    """The folder (a ZIP or CSV files), the kept folder, and the explicit "valid rows
    only" choice.

    ``clean_files`` checks each file's size and the number of files before anything
    is read. Posted without files, ``kept_upload`` names the folder an earlier preview
    kept (:class:`~admin_ext.imports.mixins.KeptUploadForm`).
    """

    files = MultipleFileField(
        label="Synthea folder",
        required=False,
        help_text="A ZIP of the Synthea output folder (or of its csv folder), or its CSV "
        "files selected together: " + ", ".join(FOLDER_FILES) + ". Other files are ignored.",
        widget=MultipleFileInput(attrs={"accept": ".zip,.csv,application/zip,text/csv"}),
    )
    upload_field = "files"
    valid_rows_only = forms.BooleanField(
        label="Import the valid rows only",
        required=False,
        help_text="Skip invalid rows instead of refusing the whole folder; they are listed "
        "in the import job's report.",
    )
    confirm_not_duplicate = forms.BooleanField(
        label="Create likely duplicates as new patients",
        required=False,
        help_text="Tick only after checking the MRNs a preview named as likely duplicates.",
    )

    def clean_files(self):
        uploads = self.cleaned_data["files"]
        if len(uploads) > MAX_ZIP_MEMBERS:
            raise forms.ValidationError(
                MSG_TOO_MANY_FILES % {"count": len(uploads), "limit": MAX_ZIP_MEMBERS},
                code="too_many",
            )
        for upload in uploads:
            validate_upload_size(upload)
        return uploads


class SyntheaConfirmForm(forms.Form):
    """The confirm step: the stored upload's token and the choice made at upload."""

    step = forms.CharField(widget=forms.HiddenInput, initial="confirm")
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)
    valid_rows_only = forms.BooleanField(widget=forms.HiddenInput, required=False)
    confirm_not_duplicate = forms.BooleanField(widget=forms.HiddenInput, required=False)


# -- the folder ------------------------------------------------------------------------


@dataclass
class SyntheaFolder:
    """The known files of an uploaded Synthea folder, as one in-memory ZIP.

    ``data`` is a ZIP archive holding only the files of ``FOLDER_FILES`` that were
    uploaded, at its root under those (lower-case) names; ``names`` lists them in
    ``FOLDER_FILES`` order; ``ignored`` the other files or members uploaded (as
    named in the upload); ``label`` what was uploaded, for messages and the
    stored upload's name.
    """

    data: bytes
    names: list[str]
    ignored: list[str] = field(default_factory=list)
    label: str = ""

    def openers(self) -> dict:
        """``{file name: opener}`` for :func:`clinic.synthea.import_folder`: each opener
        reads its member into memory when called and returns ``(headers, iterator of
        (spreadsheet row number, cells))`` (header = row 1; blank rows skipped, as
        ``reading.iter_csv_file`` does for the command). Raises ``ImportFileError``."""
        return {name: functools.partial(_open_member, self.data, name) for name in self.names}

    def entries(self) -> list[dict]:
        """``ImportJob.files`` items (``file_entry``): name, SHA-256 and size of each
        member as uploaded, format ``"CSV"``, rows 0 (filled in after the import).
        The bytes are hashed as a stream. Raises ``ImportFileError`` if a member
        cannot be unpacked."""
        entries = []
        with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
            for name in self.names:
                info = archive.getinfo(name)
                try:
                    with archive.open(info) as member:
                        digest = hashlib.file_digest(member, "sha256").hexdigest()
                except Exception as exc:  # zipfile: BadZipFile, zlib.error, EOFError...
                    raise _damaged(self.label, name, exc) from None
                entries.append(file_entry(name=name, sha256=digest, size=info.file_size, fmt="CSV"))
        return entries


def _folder_name(name: str) -> str | None:
    """The ``FOLDER_FILES`` name a file or ZIP member named ``name`` stands for, or None.

    Matched on the base name (``output/csv/Patients.CSV`` is ``patients.csv``),
    case-insensitively; ZIP paths written with backslashes count as folders.
    """
    base = posixpath.basename(name.replace("\\", "/")).strip().lower()
    return base if base in FOLDER_FILES else None


def _expected(message: str) -> str:
    """A ``reading`` refusal with its advice (a CSV or an XLSX file) replaced by this
    page's (a ZIP or CSV files)."""
    advice = getattr(reading, "_EXPECTED", "")
    if advice and message.endswith(advice):
        message = message[: -len(advice)].rstrip()
    return f"{message} {MSG_EXPECTED}"


def _require_csv(head: bytes, name: str) -> None:
    """Refuse a file whose first bytes (``head``) are not CSV text.

    Raises ``ImportFileError``: empty, a ZIP or XLSX, a known binary format (PDF,
    images...) or binary data, as ``reading.detect_format`` names them.
    """
    if head.startswith(b"PK"):
        raise ImportFileError(MSG_NOT_CSV % {"name": name})
    try:
        reading.detect_format(head, name)
    except ImportFileError as exc:
        raise ImportFileError(_expected(exc.message)) from None


def _damaged(upload: str, member: str, exc: Exception) -> ImportFileError:
    error = str(exc) or type(exc).__name__
    return ImportFileError(MSG_DAMAGED % {"name": upload, "member": member, "error": error})


def _limit() -> int:
    return int(getattr(settings, "IMPORT_MAX_UPLOAD_BYTES", reading.DEFAULT_MAX_UPLOAD_BYTES))


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:,.1f} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def _scan(archive: zipfile.ZipFile, upload: str) -> tuple[dict[str, zipfile.ZipInfo], list[str]]:
    """The known members of ``archive`` and the names of the others, from its central
    directory only (nothing is unpacked).

    Returns ``({folder file name: ZipInfo}, [ignored member names])``. Raises
    ``ImportFileError`` for: more than :data:`MAX_ZIP_MEMBERS` members; declared
    sizes adding up to more than ``IMPORT_MAX_UPLOAD_BYTES`` x :data:`ZIP_EXPANSION`;
    a known member over ``IMPORT_MAX_UPLOAD_BYTES``, encrypted, or there twice; none
    of ``FOLDER_FILES``.
    """
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise ImportFileError(
            MSG_TOO_MANY_MEMBERS % {"name": upload, "count": len(infos), "limit": MAX_ZIP_MEMBERS}
        )
    total, allowed = sum(info.file_size for info in infos), _limit() * ZIP_EXPANSION
    if total > allowed:
        raise ImportFileError(
            MSG_EXPANDS % {"name": upload, "size": _size(total), "limit": _size(allowed)}
        )
    found: dict[str, zipfile.ZipInfo] = {}
    ignored: list[str] = []
    for info in infos:
        if info.is_dir():
            continue
        name = _folder_name(info.filename)
        if name is None:
            ignored.append(info.filename)
            continue
        if name in found:
            raise ImportFileError(
                MSG_TWICE % {"file": name, "names": f"{found[name].filename}, {info.filename}"}
            )
        check_upload_size(info.file_size, f"{upload}: {info.filename}")
        if info.flag_bits & 0x1:  # APPNOTE 4.4.4, bit 0: encrypted
            raise ImportFileError(MSG_ENCRYPTED % {"name": upload, "member": info.filename})
        found[name] = info
    if not found:
        raise ImportFileError(MSG_NONE_FOUND % {"upload": upload, "files": ", ".join(FOLDER_FILES)})
    return found, ignored


def _open_zip(data: bytes, upload: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # BadZipFile, OSError, EOFError, ValueError...
        raise ImportFileError(
            f"{upload} looks like a ZIP archive, but it is damaged or incomplete ({exc}). "
            "Make the ZIP again, or check that the upload was not cut short."
        ) from None


def _pack(sources, upload: str) -> bytes:
    """A new ZIP archive (deflated) of ``sources``, each checked to be CSV text.

    ``sources`` are ``(folder file name, name as uploaded, open)`` triples, ``open``
    returning a context manager over a binary file object (a ZIP member or an
    uploaded file). Each is copied a block at a time, so a member is never whole in
    memory here. Raises ``ImportFileError`` for a file that is not CSV
    (:func:`_require_csv`) or a member that cannot be unpacked.
    """
    out = io.BytesIO()
    # Level 1: several times faster than the default for a few % more bytes; the
    # archive only waits between preview and confirm.
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, shown, open_source in sources:
            try:
                with open_source() as source, archive.open(name, "w") as target:
                    head = source.read(HEAD_BYTES)
                    _require_csv(head, shown)
                    target.write(head)
                    shutil.copyfileobj(source, target, 1024 * 1024)
            except ImportFileError:
                raise
            except Exception as exc:  # BadZipFile (CRC), zlib.error, NotImplementedError...
                raise _damaged(upload, shown, exc) from None
    return out.getvalue()


def folder_from_zip(data: bytes, upload: str) -> SyntheaFolder:
    """A :class:`SyntheaFolder` of the known members of the ZIP archive ``data``.

    Args: ``data`` the archive's bytes; ``upload`` its name as uploaded (messages).
    Checks the archive as :func:`_scan` does before unpacking anything, then copies
    the known members, streamed one at a time in memory, into a new archive
    (:func:`_pack`). Raises ``ImportFileError``.
    """
    with _open_zip(data, upload) as archive:
        found, ignored = _scan(archive, upload)
        names = [name for name in FOLDER_FILES if name in found]
        sources = [
            (name, found[name].filename, functools.partial(archive.open, found[name]))
            for name in names
        ]
        packed = _pack(sources, upload)
    return SyntheaFolder(packed, names, ignored, upload)


def folder_from_uploads(uploads) -> SyntheaFolder:
    """A :class:`SyntheaFolder` from the files of one upload form.

    Args: ``uploads``, Django ``UploadedFile`` objects (sizes already checked by
    :class:`SyntheaUploadForm`, checked again here). One file that is a ZIP archive
    is read as a folder (:func:`folder_from_zip`); otherwise every file must be CSV
    text, and files not named as one of ``FOLDER_FILES`` are ignored without being
    read. Raises ``ImportFileError`` (an XLSX or another office document, a ZIP
    among other files, a file that is not CSV, a known file twice, none of the
    known files).
    """
    heads = []
    for upload in uploads:
        check_upload_size(upload.size, upload.name)
        upload.seek(0)
        heads.append(upload.read(4))
        upload.seek(0)
    if len(uploads) == 1 and heads[0].startswith(b"PK"):
        upload = uploads[0]
        data = upload.read()
        try:
            kind = reading.detect_format(data, upload.name)
        except ImportFileError as exc:
            raise ImportFileError(_expected(exc.message)) from None
        if kind == "xlsx":
            raise ImportFileError(MSG_XLSX % {"name": upload.name})
        return folder_from_zip(data, upload.name)
    if len(uploads) == 1:
        upload = uploads[0]
        _require_csv(upload.read(HEAD_BYTES), upload.name)
        upload.seek(0)
    known, ignored = {}, []
    for upload, head in zip(uploads, heads, strict=True):
        if head.startswith(b"PK") and len(uploads) > 1:
            raise ImportFileError(MSG_MIXED % {"name": upload.name})
        name = _folder_name(upload.name)
        if name is None:
            ignored.append(upload.name)
        elif name in known:
            raise ImportFileError(
                MSG_TWICE % {"file": name, "names": f"{known[name].name}, {upload.name}"}
            )
        else:
            known[name] = upload
    label = ", ".join(upload.name for upload in uploads)
    if not known:
        raise ImportFileError(
            MSG_NONE_FOUND % {"upload": f"The upload ({label})", "files": ", ".join(FOLDER_FILES)}
        )
    names = [name for name in FOLDER_FILES if name in known]
    sources = [(name, known[name].name, functools.partial(_rewound, known[name])) for name in names]
    return SyntheaFolder(_pack(sources, label), names, ignored, label)


def _rewound(upload):
    """``upload`` read from its start, left open (Django closes uploads itself)."""
    upload.seek(0)
    return contextlib.nullcontext(upload)


def open_folder(data: bytes, label: str = "The stored upload") -> SyntheaFolder:
    """The :class:`SyntheaFolder` stored at preview (``SyntheaFolder.data``), checked
    again as any ZIP is. Raises ``ImportFileError``."""
    with _open_zip(data, label) as archive:
        found, ignored = _scan(archive, label)
    return SyntheaFolder(data, [n for n in FOLDER_FILES if n in found], ignored, label)


def _numbered(rows):
    """``(spreadsheet row number, cells)`` for ``reading.Table.rows`` (row i is line
    i + 2), blank rows skipped as the command's reader skips them."""
    for index, cells in enumerate(rows):
        if any(cell.strip() for cell in cells):
            yield index + 2, cells


#: How many times ``IMPORT_MAX_ROWS`` an uploaded ``encounters.csv`` may hold.
ENCOUNTER_ROWS_FACTOR = 40


def _open_member(data: bytes, name: str):
    """Opener of member ``name`` of the folder ZIP ``data`` (see
    :meth:`SyntheaFolder.openers`)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        try:
            content = archive.read(name)
        except Exception as exc:  # damaged after all
            raise _damaged("The upload", name, exc) from None
    # Encounters only feed a tally (no record per row): their limit is the record
    # files' times ENCOUNTER_ROWS_FACTOR (Synthea writes tens of encounters a patient).
    limit = int(getattr(settings, "IMPORT_MAX_ROWS", reading.DEFAULT_MAX_ROWS))
    if name == ENCOUNTERS_FILE:
        limit *= ENCOUNTER_ROWS_FACTOR
    table = read_table(content, name, max_rows=limit)
    del content
    return list(table.headers), _numbered(table.rows)


# -- outcomes ----------------------------------------------------------------------------


def folder_detail(folder: SyntheaFolder, result: FolderResult | None) -> str:
    """What a kept folder holds, for the upload form: ``"CSV files: organizations.csv
    1 row, patients.csv 1,234 rows, encounters.csv 5,000 rows"`` (a file the preview
    did not reach is named without a count)."""
    rows = result.file_rows() if result else {}
    parts = []
    for name in folder.names:
        if name in rows:
            noun = "row" if rows[name] == 1 else "rows"
            parts.append(f"{name} {rows[name]:,} {noun}")
        else:
            parts.append(name)
    return "CSV files: " + ", ".join(parts)


def _importable(result: FolderResult) -> bool:
    """Whether confirming would write anything (new or changed rows, or a doctor assigned)."""
    counts = result.counts
    assigned = (result.primary or {}).get("assigned", 0)
    return bool(counts["new"] + counts["changed"] + assigned)


def summary(result: FolderResult) -> str:
    """What a folder import did, for the success message: ``"1 organization created, 0
    updated, 0 unchanged; 2 doctors created, ...; 2 primary doctors assigned, 0
    unchanged; 1 invalid row skipped"``."""
    parts = []
    for outcome in result.files:
        c = outcome.counts
        one, many = NOUNS.get(outcome.name, ("row", "rows"))
        noun = one if c["new"] == 1 else many
        parts.append(
            f"{c['new']:,} {noun} created, {c['changed']:,} updated, {c['unchanged']:,} unchanged"
        )
    if result.primary is not None:
        p = result.primary
        noun = ngettext("primary doctor", "primary doctors", p["assigned"])
        parts.append(f"{p['assigned']:,} {noun} assigned, {p['unchanged']:,} unchanged")
    if result.written and result.problem_count:
        parts.append(
            ngettext("%d invalid row skipped", "%d invalid rows skipped", result.problem_count)
            % result.problem_count
        )
    return "; ".join(parts)


# -- the admin -----------------------------------------------------------------------------


class SyntheaFolderImportMixin:
    """The Synthea folder import page and changelist button for ``PatientAdmin`` (see
    the module docstring). Mix in before ``ClinicModelAdmin``; every hook calls
    ``super()``."""

    synthea_import_template = "admin/clinic/patient/synthea_import.html"
    # import-export's changelist template hook (ImportExportMixin.init_change_list_template):
    # the library's Import/Export buttons plus "Import Synthea folder".
    import_export_change_list_template = "admin/clinic/patient/change_list.html"

    def has_synthea_import_permission(self, request) -> bool:
        """Whether ``request.user`` may import a Synthea folder here.

        The patient import permission (``has_import_permission``: ``import_patient``
        with the model-wide add and change), plus the model-wide add and change of
        organizations and doctors: a folder writes all three, and the import matches
        rows model-wide. Never on the work-queue proxies.
        """
        if self.opts.proxy or not self.has_import_permission(request):
            return False
        user = request.user
        return all(
            user.has_perm(f"{model._meta.app_label}.{action}_{model._meta.model_name}")
            for model in (Organization, Doctor)
            for action in ("add", "change")
        )

    def get_urls(self):
        if self.opts.proxy:
            return super().get_urls()
        return [
            path(
                "import-synthea/",
                self.admin_site.admin_view(self.synthea_import_view),
                name=f"{self.opts.app_label}_{self.opts.model_name}_synthea_import",
            ),
            *super().get_urls(),
        ]

    def synthea_import_url(self) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_synthea_import",
            current_app=self.admin_site.name,
        )

    def changelist_view(self, request, extra_context=None):
        """The changelist, with ``synthea_import_url`` for users who may use the page."""
        extra_context = dict(extra_context or {})
        if self.has_synthea_import_permission(request):
            extra_context["synthea_import_url"] = self.synthea_import_url()
        return super().changelist_view(request, extra_context)

    # -- the page --------------------------------------------------------------------

    def synthea_import_view(self, request):
        """GET: the upload form. POST: the preview of an upload, or (``step=confirm``)
        the import of the upload a preview stored. 403 without
        :meth:`has_synthea_import_permission`, whatever the method."""
        if not self.has_synthea_import_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            progress = ImportProgress.for_request(request)
            progress.stage(READING)
            try:
                if request.POST.get("step") == "confirm":
                    return self._synthea_confirm(request, progress)
                return self._synthea_preview(request, progress)
            finally:
                progress.finish()
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET", "POST"])
        return self._synthea_render(request, upload_form=SyntheaUploadForm())

    def _synthea_preview(self, request, progress=None):
        """Check the upload (or read the kept folder), dry-run the folder, then offer the
        confirm or record a refused job; either way the folder stays stored (a new
        upload is stored, replacing the kept one), unless it could not be read."""
        form = SyntheaUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            kept = find_upload(request.POST.get(KEPT_FIELD, "").strip(), request.user)
            return self._synthea_render(request, upload_form=form, kept=kept)
        posted = form.cleaned_data[KEPT_FIELD].strip()
        kept_token = ""
        try:
            if form.cleaned_data["files"]:
                discard(posted, request.user)  # files chosen replace the kept folder
                folder = folder_from_uploads(form.cleaned_data["files"])
            else:
                folder = self._kept_folder(request, posted)
                kept_token = posted
        except UploadUnavailable:
            discard(posted, request.user)  # the user's own, expired; never another's
            form.add_error("files", REFUSAL)
            return self._synthea_render(request, upload_form=form)
        except ImportFileError as exc:
            form.add_error("files", exc.message)
            return self._synthea_render(request, upload_form=form)
        valid_only = form.cleaned_data["valid_rows_only"]
        not_duplicates = form.cleaned_data["confirm_not_duplicate"]
        again = SyntheaUploadForm(
            initial={"valid_rows_only": valid_only, "confirm_not_duplicate": not_duplicates}
        )
        result, error = self._run_folder(
            request,
            folder,
            reason=PREVIEW_REASON,
            dry_run=True,
            valid_rows_only=valid_only,
            confirmed_not_duplicate=not_duplicates,
            progress=progress,
        )
        if error is not None:
            discard(kept_token, request.user)  # it cannot be previewed: not worth keeping
            job = self._record_job(
                request, folder, valid_only, ImportJob.Status.FAILED, result, error
            )
            return self._synthea_render(
                request, upload_form=again, folder=folder, job=job, error=error
            )
        token = kept_token or self._store_folder(request, folder)
        confirmable = not result.conflict and (result.valid or (valid_only and _importable(result)))
        if not confirmable:
            status = result.status
            job = self._record_job(
                request, folder, valid_only, status, result, PREVIEW_MESSAGES.get(status, "")
            )
            kept = KeptUpload(token, folder.label, folder_detail(folder, result))
            return self._synthea_render(
                request, upload_form=again, folder=folder, result=result, job=job, kept=kept
            )
        confirm_form = SyntheaConfirmForm(
            initial={
                "step": "confirm",
                "token": token,
                "valid_rows_only": valid_only,
                "confirm_not_duplicate": not_duplicates,
            }
        )
        return self._synthea_render(
            request, confirm_form=confirm_form, folder=folder, result=result, valid_only=valid_only
        )

    def _kept_folder(self, request, token) -> SyntheaFolder:
        """The folder a preview kept under ``token``, read as at confirm. Raises
        ``UploadUnavailable`` unless it is the user's and has not expired, or when
        its bytes are not a folder (only an altered row's are not)."""
        tracker = UploadTracker()
        storage = DatabaseStorage(name=token, user=request.user, read_mode="rb", tracker=tracker)
        data = storage.read()
        try:
            return open_folder(data, tracker.read_name or "The stored upload")
        except ImportFileError:
            raise UploadUnavailable() from None

    def _store_folder(self, request, folder) -> str:
        """Store ``folder`` for the user (``DatabaseStorage``); returns its token."""
        storage = DatabaseStorage(user=request.user, file_name=folder.label, read_mode="rb")
        storage.save(folder.data)
        return storage.name

    def _synthea_confirm(self, request, progress=None):
        """Import the upload the preview stored: one job, one transaction; the upload is
        deleted however it ends. A token that is not the user's live upload is
        refused with a message and a redirect back to the upload form."""
        form = SyntheaConfirmForm(request.POST)
        token = form.cleaned_data["token"] if form.is_valid() else None
        storage = DatabaseStorage(name=token, user=request.user, read_mode="rb", claim=True)
        try:
            try:
                if token is None:
                    raise UploadUnavailable()
                folder = open_folder(storage.read())
                entries = folder.entries()
            except (UploadUnavailable, ImportFileError):
                messages.error(request, REFUSAL)
                return HttpResponseRedirect(self.synthea_import_url())
            valid_only = form.cleaned_data["valid_rows_only"]
            job = job_start(
                actor=request.user,
                source=ImportJob.Source.ADMIN,
                kind=JOB_KIND,
                files=entries,
                valid_rows_only=valid_only,
            )
            result, error = self._run_folder(
                request,
                folder,
                reason=job.reason,
                dry_run=False,
                valid_rows_only=valid_only,
                confirmed_not_duplicate=form.cleaned_data["confirm_not_duplicate"],
                progress=progress,
            )
        finally:
            storage.remove()
        if error is not None:
            job_finish(
                job=job,
                status=ImportJob.Status.FAILED,
                message=error,
                files=result.with_rows(entries) if result else entries,
            )
            return self._synthea_render(
                request, upload_form=SyntheaUploadForm(), folder=folder, job=job, error=error
            )
        status = result.status
        headline = {
            ImportJob.Status.CONFLICT: "Nothing was imported: another import or user changed "
            "the same records at the same time. Upload the folder again.",
            ImportJob.Status.REFUSED: "Nothing was imported: the folder has invalid rows.",
        }.get(status, "")
        job_finish(
            job=job,
            status=status,
            counts=result.job_counts,
            problems=result.problems,
            problem_count=result.problem_count,
            failed_rows=result.failed_rows,
            message=headline,
            files=result.with_rows(entries),
        )
        if not result.written:
            return self._synthea_render(
                request,
                upload_form=SyntheaUploadForm(),
                folder=folder,
                result=result,
                job=job,
                error=headline,
            )
        messages.success(
            request, format_html("{}: {}.", self._job_link(request, job), summary(result))
        )
        return HttpResponseRedirect(
            reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                current_app=self.admin_site.name,
            )
        )

    def _run_folder(
        self,
        request,
        folder,
        *,
        reason,
        dry_run,
        valid_rows_only,
        confirmed_not_duplicate=False,
        progress=None,
    ):
        """``import_folder`` over ``folder``: returns ``(FolderResult or None, error
        message or None)``. A file that cannot be read or a refused permission is
        the error; so is any other exception (logged), so that no upload makes a
        server error. ``progress`` (an ``ImportProgress``) hears of every
        :data:`PROGRESS_EVERY` rows."""
        options = {}
        if progress is not None and progress.enabled:
            options = {"progress": progress.file_rows, "progress_every": PROGRESS_EVERY}
        try:
            result = import_folder(
                folder.openers(),
                actor=request.user,
                reason=reason,
                dry_run=dry_run,
                valid_rows_only=valid_rows_only,
                confirmed_not_duplicate=confirmed_not_duplicate,
                **options,
            )
        except (ImportFileError, PermissionDenied) as exc:
            return None, f"The folder cannot be imported: {exc}"
        except Exception:
            # Not the upload's file names: one may be named after a patient.
            logger.exception("Synthea folder import failed")
            return None, MSG_UNEXPECTED
        return result, None

    def _record_job(self, request, folder, valid_only, status, result, message) -> ImportJob:
        """A job for a preview that offers no confirm (refused, conflict, failed): its
        page lists the problems and offers the failed rows as CSV."""
        entries = result.with_rows(folder.entries()) if result else folder.entries()
        job = job_start(
            actor=request.user,
            source=ImportJob.Source.ADMIN,
            kind=JOB_KIND,
            files=entries,
            valid_rows_only=valid_only,
        )
        return job_finish(
            job=job,
            status=status,
            counts=result.job_counts if result else {},
            problems=result.problems if result else [],
            problem_count=result.problem_count if result else 0,
            failed_rows=result.failed_rows if result else [],
            message=message,
        )

    def _job_url(self, request, job) -> str | None:
        """The job's admin page, if the job admin is installed and the user may see it."""
        try:
            url = reverse("admin:imports_importjob_change", args=[job.pk])
            job_admin = self.admin_site.get_model_admin(ImportJob)
        except (NoReverseMatch, NotRegistered):
            return None
        return url if job_admin.has_view_permission(request, job) else None

    def _job_link(self, request, job):
        url = self._job_url(request, job)
        return format_html('<a href="{}">{}</a>', url, job) if url else str(job)

    def _listed_problems(self, request, result) -> list[str]:
        """The first :data:`MAX_LISTED_PROBLEMS` problems as sentences, SSN values
        masked for users without ``clinic.view_ssn``."""
        problems = result.problems[:MAX_LISTED_PROBLEMS]
        if not request.user.has_perm("clinic.view_ssn"):
            problems = [_masked(p) for p in problems]
        return [str(p) for p in problems]

    def _synthea_render(
        self,
        request,
        *,
        upload_form=None,
        confirm_form=None,
        folder=None,
        result=None,
        job=None,
        error="",
        valid_only=False,
        kept=None,
    ):
        """The page: the upload form (with the kept folder, ``kept``, a ``KeptUpload``)
        or the confirm form, and what the preview found."""
        context = {
            **self.admin_site.each_context(request),
            "title": "Import Synthea folder",
            "opts": self.opts,
            "upload_form": upload_form,
            "confirm_form": confirm_form,
            "folder": folder,
            "error": error,
            "job": job,
            "job_url": self._job_url(request, job) if job else None,
            "valid_only": valid_only,
            "kept_upload": kept,
            "folder_files": FOLDER_FILES,
            "max_rows": int(getattr(settings, "IMPORT_MAX_ROWS", reading.DEFAULT_MAX_ROWS)),
            "max_size": _size(_limit()),
            "media": self.media + (upload_form.media if upload_form else forms.Media()),
        }
        if result is not None:
            read = {outcome.name for outcome in result.files}
            if result.primary is not None:
                read.add(ENCOUNTERS_FILE)
            listed = self._listed_problems(request, result)
            context.update(
                result=result,
                files=result.files,
                primary=result.primary,
                encounters=result.encounters,
                unchecked=[n for n in folder.names if n not in read] if folder else [],
                problems=listed,
                more_problems=max(result.problem_count - len(listed), 0),
            )
        return TemplateResponse(request, self.synthea_import_template, context)


#: A quoted value inside a message: straight quotes, or the curly ones Django's
#: validators use (“value”).
_QUOTED = re.compile(r"([\"“])([^\"”]*)([\"”])")


def _masked(problem: ImportProblem) -> ImportProblem:
    """``problem`` masked (``mask_ssn``) if it is about an SSN column: its value, and
    every quoted value in its message (a validator's message quotes the cell, e.g.
    ``“123-45-67890” is not an SSN``), the value itself wherever it stands."""
    if (problem.column or "").strip().lower() not in SSN_COLUMNS:
        return problem
    message = problem.message or ""
    if problem.value:
        message = message.replace(problem.value.strip(), mask_ssn(problem.value))
    message = _QUOTED.sub(
        lambda m: m[1] + (mask_ssn(m[2]) if m[2] and "*" not in m[2] else m[2]) + m[3], message
    )
    value = mask_ssn(problem.value) if problem.value else problem.value
    return dataclasses.replace(problem, value=value, message=message)
