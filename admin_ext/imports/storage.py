"""Where an uploaded import file waits between preview and confirm: the database.

The issue: django-import-export keeps the upload in a temporary folder by default
(``TempFolderStorage``, "for development only" in its own documentation): PHI left
in ``/tmp`` indefinitely, on one app server only, and its confirm step
(``process_import``) opened whatever file name the form posted, so a crafted name
read and deleted another file in that folder.

Here (DESIGN.md, "Import and export"; ``ImportUpload`` in ``models.py``):

- :class:`DatabaseStorage` is the library's temporary storage
  (``IMPORT_EXPORT_TMP_STORAGE_CLASS``, see ``import_export/tmp_storages.py``): an
  ``ImportUpload`` row owned by the uploading user, named by an unguessable token,
  expiring after ``settings.IMPORT_UPLOAD_EXPIRY``. It never touches the disk; a
  name is only ever a token to look up, together with the owner and the expiry.
- :class:`DatabaseUploadAdminMixin` (a base of ``ClinicModelAdmin``) tells the storage
  who the user is (``get_tmp_storage_class_kwargs``), answers a refused upload with
  a message and a redirect to the import page instead of a server error, deletes
  the upload when the job ends (confirmed, failed, or a file that could not be
  read), and imports under the file name stored at upload rather than the one
  the confirm form posts back.
- A preview that read the file but offers no confirm (invalid rows, likely
  duplicates) keeps the upload (issue 6): the upload form comes back with "File:
  patients.csv (CSV, comma-separated, UTF-8, 1,234 rows)" and the token in its
  hidden ``kept_upload`` field (:data:`KEPT_FIELD`), so that posting the form
  again without a file previews the same upload, say with "valid rows only"
  ticked. The token is checked exactly as at confirm (:meth:`DatabaseStorage.read`:
  the user's, not expired); choosing a file replaces the kept upload (deleted).
- Expired uploads are deleted by ``manage.py purge_imports`` (cron) and, in case
  that is forgotten, by every new upload (:func:`purge_expired`).
"""

from __future__ import annotations

import contextvars
import datetime
import os
import re
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from import_export.tmp_storages import BaseStorage

from admin_ext.imports.models import ImportUpload

#: What a user reads when the upload named by the confirm form cannot be used: the
#: same words whether it expired, belongs to someone else or never existed, so the
#: answer tells a prober nothing.
REFUSAL = "This upload has expired or is not yours; upload the file again."
#: What a user reads when the stored file cannot be read in the format posted.
UNREADABLE = "The uploaded file could not be read in the chosen format; upload the file again."
#: What a user reads when the confirm form's hidden fields were altered.
TAMPERED = "This import could not be confirmed; upload the file again."

#: Default lifetime of an upload when ``IMPORT_UPLOAD_EXPIRY`` is not set.
DEFAULT_EXPIRY = datetime.timedelta(hours=1)
#: ``secrets.token_urlsafe(TOKEN_BYTES)``: 256 random bits, 43 characters.
TOKEN_BYTES = 32
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_INDEX = re.compile(r"[0-9]{1,4}")


class UploadUnavailable(PermissionDenied):
    """The upload cannot be read: expired, another user's, never existed, not a token,
    or not readable in the format asked for.

    A ``PermissionDenied``, so that a view without :class:`DatabaseUploadAdminMixin`
    answers 403, never 500; the mixin turns it into its message (``str(error)``)
    and a redirect.
    """

    def __init__(self, message: str = REFUSAL):
        super().__init__(message)


def upload_expiry() -> datetime.timedelta:
    """How long an upload is kept: ``settings.IMPORT_UPLOAD_EXPIRY``.

    The setting is a ``timedelta`` or a number of seconds; default one hour.
    Raises ``ImproperlyConfigured`` if it is anything else or not positive.
    """
    value = getattr(settings, "IMPORT_UPLOAD_EXPIRY", DEFAULT_EXPIRY)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = datetime.timedelta(seconds=value)
    if not isinstance(value, datetime.timedelta) or value <= datetime.timedelta(0):
        raise ImproperlyConfigured(
            "IMPORT_UPLOAD_EXPIRY must be a positive timedelta or number of seconds."
        )
    return value


def purge_expired(now: datetime.datetime | None = None) -> int:
    """Delete every upload whose ``expires_at`` is at or before ``now`` (default: now).

    One ``DELETE`` statement. Returns how many uploads were deleted.
    """
    now = now or timezone.now()
    deleted, _ = ImportUpload.objects.filter(expires_at__lte=now).delete()
    return deleted


def is_token(name) -> bool:
    """Whether ``name`` has the shape of a token :class:`DatabaseStorage` hands out
    (so that a path such as ``../../etc/passwd`` is refused before any lookup)."""
    return isinstance(name, str) and _TOKEN.fullmatch(name) is not None


def discard(token, user) -> int:
    """Delete ``user``'s upload named ``token``, if any; another user's is left alone.

    Returns how many rows were deleted (0 or 1).
    """
    if not is_token(token) or user is None or not getattr(user, "is_authenticated", False):
        return 0
    deleted, _ = ImportUpload.objects.filter(token=token, owner=user).delete()
    return deleted


#: The upload form's hidden field carrying a kept upload's token (``JobImportForm``,
#: ``SyntheaUploadForm``).
KEPT_FIELD = "kept_upload"


@dataclass
class KeptUpload:
    """An upload kept after a preview, as the upload form shows it and re-previews it.

    ``token`` names the ``ImportUpload``; ``name`` is the file name as uploaded ('' until
    looked up); ``detail`` what was read, e.g. ``"CSV, semicolon-separated,
    Windows-1252, 1,234 rows"`` ('' when unknown). Also the cleaned ``import_file`` of
    a form posted without a file (``JobImportForm``): the mixin reads the stored
    upload instead of saving a new one.
    """

    token: str
    name: str = ""
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.name} ({self.detail})" if self.detail else self.name


def find_upload(token, user) -> KeptUpload | None:
    """``user``'s upload ``token`` if it has not expired, as a :class:`KeptUpload`
    (name only: the content is not read), else None. The same test as
    :meth:`DatabaseStorage.read`."""
    if not is_token(token) or user is None or not getattr(user, "is_authenticated", False):
        return None
    name = (
        ImportUpload.objects.filter(token=token, owner=user, expires_at__gt=timezone.now())
        .values_list("name", flat=True)
        .first()
    )
    return None if name is None else KeptUpload(token=token, name=name)


@dataclass
class UploadTracker:
    """What the storages of one admin request did, for the mixin to act on.

    ``saved``: tokens of the uploads saved; ``read_name``: the stored file name of
    the upload read (None until one is read); ``removed``: tokens removed.
    """

    saved: list[str] = field(default_factory=list)
    read_name: str | None = None
    removed: list[str] = field(default_factory=list)


class DatabaseStorage(BaseStorage):
    """import-export temporary storage kept in ``ImportUpload`` rows.

    Keyword arguments (beyond the library's ``name``, ``encoding``, ``read_mode``):
    ``user``, the uploading or confirming user (required to save or read);
    ``file_name``, the file's name as uploaded (stored in ``ImportUpload.name``);
    ``tracker``, an optional :class:`UploadTracker`.

    - ``save(data)``: ``data`` is ``bytes`` or ``str`` (encoded with ``encoding``,
      default UTF-8). Creates a row owned by ``user`` with a fresh token as
      ``self.name`` (any name given is ignored), expiring after
      :func:`upload_expiry`, and first deletes every expired upload. Raises
      ``ImproperlyConfigured`` without a user.
    - ``read()``: the content, as ``bytes`` when ``read_mode`` contains ``"b"``,
      else as ``str`` decoded with ``encoding``. Raises :class:`UploadUnavailable`
      unless ``self.name`` is a token of an upload of ``user`` that has not expired
      (or if the content does not decode). Never opens a file.
    - ``remove()``: deletes the upload if it is ``user``'s.

    With ``claim=True`` (the confirm step), ``read()`` deletes the upload in the same
    transaction as it reads it (the row locked first), so two confirms of one
    upload cannot both import it.
    """

    def __init__(self, **kwargs):
        self.user = kwargs.pop("user", None)
        self.file_name = kwargs.pop("file_name", None) or ""
        self.tracker = kwargs.pop("tracker", None)
        self.claim = kwargs.pop("claim", False)
        super().__init__(**kwargs)

    def _authenticated_user(self):
        user = self.user
        return user if user is not None and getattr(user, "is_authenticated", False) else None

    def save(self, data):
        owner = self._authenticated_user()
        if owner is None:
            raise ImproperlyConfigured(
                "DatabaseStorage needs the uploading user: use DatabaseUploadAdminMixin "
                "(admin_ext.imports.storage) on the ModelAdmin."
            )
        if isinstance(data, str):
            data = data.encode(self.encoding or "utf-8")
        now = timezone.now()
        purge_expired(now)
        self.name = secrets.token_urlsafe(TOKEN_BYTES)
        ImportUpload.objects.create(
            token=self.name,
            owner=owner,
            name=self.file_name[: ImportUpload._meta.get_field("name").max_length],
            content=bytes(data),
            expires_at=now + upload_expiry(),
        )
        if self.tracker is not None:
            self.tracker.saved.append(self.name)

    def read(self):
        owner = self._authenticated_user()
        if owner is None or not is_token(self.name):
            raise UploadUnavailable()
        uploads = ImportUpload.objects.filter(
            token=self.name, owner=owner, expires_at__gt=timezone.now()
        )
        with transaction.atomic():
            row = (
                (uploads.select_for_update() if self.claim else uploads)
                .values_list("name", "content")
                .first()
            )
            if row is not None and self.claim:
                # A confirm takes the upload: a second click on "Confirm import"
                # (or a replayed form) finds nothing and is refused, never imports twice.
                uploads.delete()
        if row is None:
            raise UploadUnavailable()
        name, content = row
        if self.tracker is not None:
            self.tracker.read_name = name
        content = bytes(content)  # PostgreSQL gives a memoryview
        if "b" in self.read_mode:
            return content
        try:
            return content.decode(self.encoding or "utf-8")
        except UnicodeDecodeError as error:
            raise UploadUnavailable(UNREADABLE) from error

    def remove(self):
        discard(self.name, self._authenticated_user())
        if self.tracker is not None:
            self.tracker.removed.append(self.name)


@dataclass
class _Scope:
    """The admin request an import view is serving (held in a ContextVar, because
    import-export's ``get_tmp_storage_class_kwargs`` takes no request)."""

    user: object
    tracker: UploadTracker = field(default_factory=UploadTracker)
    file_name: str = ""
    processing: bool = False
    #: The kept upload a preview re-reads (its token), if the form came without a file.
    kept: str = ""
    #: The kept upload posted with a new file, deleted once the new file is saved.
    replaces: str = ""
    #: The confirm step: reading the upload takes it (DatabaseStorage ``claim``).
    confirming: bool = False


_current: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "admin_ext_import_upload", default=None
)


class DatabaseUploadAdminMixin:
    """ModelAdmin mixin, placed before import-export's ``ImportMixin`` in the bases,
    that makes :class:`DatabaseStorage` safe to use through the library's views.

    Hooks: ``get_tmp_storage_class_kwargs`` (passes ``user``, ``file_name``,
    ``tracker``), ``write_to_tmp_storage`` (records the uploaded file's name; for a
    :class:`KeptUpload`, reads the stored upload instead of saving one; a new file
    deletes the kept upload it replaces), ``add_data_read_fail_error_to_form`` (a
    refused kept upload: :data:`REFUSAL` on the form, never another user's file),
    ``process_dataset`` (imports under the stored name, not the posted
    ``original_file_name``), and the two views, wrapped:

    - ``import_action`` (preview): a file that could not be read is deleted at
      once; a preview that read it keeps it, offering the confirm form or, if it
      offers none, the upload form with the kept upload (context ``kept_upload``,
      a :class:`KeptUpload` whose ``detail`` is the ``file_read`` context that
      ``ImportJobAdminMixin`` adds).
    - ``process_import`` (confirm): a refused upload (:class:`UploadUnavailable`),
      altered ``format``/``resource`` fields, or stored bytes that do not parse in
      the posted format answer a message and a redirect to the import page; the
      upload is deleted however the confirm ends. Method and permission checks
      stay the library's (405, 403).
    """

    def get_tmp_storage_class_kwargs(self):
        kwargs = super().get_tmp_storage_class_kwargs()
        scope = _current.get()
        if scope is not None:
            kwargs.update(
                user=scope.user,
                file_name=scope.file_name,
                tracker=scope.tracker,
                claim=scope.confirming,
            )
        return kwargs

    def write_to_tmp_storage(self, import_file, input_format):
        scope = _current.get()
        if isinstance(import_file, KeptUpload):
            # Always the database storage, whatever IMPORT_EXPORT_TMP_STORAGE_CLASS
            # says: a posted token must never become a path to open.
            found = find_upload(import_file.token, scope.user if scope else None)
            import_file.name = found.name if found else ""
            if scope is not None:
                scope.file_name, scope.kept = import_file.name, import_file.token
            kwargs = {**self.get_tmp_storage_class_kwargs(), "file_name": import_file.name}
            return DatabaseStorage(
                name=import_file.token, read_mode=input_format.get_read_mode(), **kwargs
            )
        if scope is not None:
            scope.file_name = import_file.name or ""
        storage = super().write_to_tmp_storage(import_file, input_format)
        if scope is not None and scope.replaces and scope.replaces != storage.name:
            discard(scope.replaces, scope.user)
        return storage

    def add_data_read_fail_error_to_form(self, form, e):
        if isinstance(e, UploadUnavailable):
            form.add_error("import_file", str(e))
        else:
            super().add_data_read_fail_error_to_form(form, e)

    def process_dataset(self, dataset, form, request, **kwargs):
        scope = _current.get()
        if scope is not None:
            scope.processing = True
            if scope.tracker.read_name is not None:
                kwargs["file_name"] = scope.tracker.read_name
        return super().process_dataset(dataset, form, request, **kwargs)

    def import_action(self, request, **kwargs):
        scope = _Scope(user=request.user)
        if request.method == "POST" and request.FILES.get("import_file"):
            scope.replaces = request.POST.get(KEPT_FIELD, "").strip()
        reset = _current.set(scope)
        keep = False
        try:
            response = super().import_action(request, **kwargs)
            context = getattr(response, "context_data", None)
            if context is None:
                return response
            previewed = context.get("result") is not None
            keep = previewed or bool(context.get("confirm_form"))
            if previewed and not context.get("confirm_form"):
                token = scope.tracker.saved[-1] if scope.tracker.saved else scope.kept
                detail = context.get("file_read")
                context["kept_upload"] = KeptUpload(token, scope.file_name, str(detail or ""))
            elif request.method == "POST" and not previewed and not scope.kept:
                # Refused before it was read (a new file too large, a bad choice):
                # the kept upload, if still there, stays on offer. One that was
                # read and failed is deleted below.
                context["kept_upload"] = find_upload(
                    request.POST.get(KEPT_FIELD, "").strip(), request.user
                )
            return response
        finally:
            _current.reset(reset)
            if not keep:
                for token in [*scope.tracker.saved, scope.kept]:
                    discard(token, request.user)

    def process_import(self, request, **kwargs):
        if request.method != "POST" or not self.has_import_permission(request):
            return super().process_import(request, **kwargs)
        if not self._confirm_indexes_valid(request):
            discard(self._posted_token(request), request.user)
            return self._refuse_import(request, TAMPERED)
        scope = _Scope(user=request.user, confirming=True)
        reset = _current.set(scope)
        try:
            return super().process_import(request, **kwargs)
        except UploadUnavailable as error:
            return self._refuse_import(request, error.args[0] if error.args else REFUSAL)
        except Exception:
            # Read, but not parsed in the format the form posted (only an altered
            # form asks for another format than the preview's).
            if scope.tracker.read_name is not None and not scope.processing:
                return self._refuse_import(request, UNREADABLE)
            raise
        finally:
            _current.reset(reset)
            if not scope.tracker.removed:  # the library removes it only on success
                discard(self._posted_token(request), request.user)

    @staticmethod
    def _posted_token(request) -> str:
        # ConfirmImportForm keeps the base name of what was posted; so does this.
        return os.path.basename(request.POST.get("import_file_name", "").strip())

    def _confirm_indexes_valid(self, request) -> bool:
        """Whether the confirm form's ``format`` and ``resource`` (hidden indexes,
        parsed by the library with ``int()`` and used unchecked) name a choice."""
        fmt = request.POST.get("format", "").strip()
        resource = request.POST.get("resource", "").strip()
        if fmt and not (_INDEX.fullmatch(fmt) and int(fmt) < len(self.get_import_formats())):
            return False
        if resource and not (
            _INDEX.fullmatch(resource)
            and int(resource) < len(self.get_import_resource_classes(request))
        ):
            return False
        return True

    def _refuse_import(self, request, message: str):
        messages.error(request, message)
        opts = self.opts
        return HttpResponseRedirect(
            reverse(
                f"admin:{opts.app_label}_{opts.model_name}_import",
                current_app=self.admin_site.name,
            )
        )
