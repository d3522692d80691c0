"""Writes to import job records: one function per operation (DESIGN.md, "Writes: one path each").

An import calls :func:`job_start` before it writes anything (outside the import's
transaction, so the record survives a rollback), writes with ``job.reason`` as the
history reason of every row, and ends with :func:`job_finish`, whatever happened.

Every import path ends in :func:`job_finish` (the admin's single-file import and its
refused previews, ``admin_ext.imports.mixins``; the Synthea folder page,
``clinic.admin_synthea``; the ``import_synthea`` command), so that is where each job
writes its one ``import`` access-log row (DESIGN.md, "Audit"; HIPAA 45 CFR
164.312(b)) and, once an import that wrote rows has committed, seals the audit
chain (issue 7: "sealing runs after each import").
"""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.utils import timezone

from admin_ext.audit.chain import seal_quietly
from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access, request_of
from admin_ext.imports.models import ImportJob

#: The job message of an import stopped by a fault of the server, not of its files (the
#: error's type only: its text may quote a patient's data); the traceback is logged.
MSG_STOPPED = "The import stopped on an unexpected error ({error}); nothing was imported."

#: The outcomes of an import that wrote rows: the audit chain is sealed after them.
#: A refused, conflicting or failed import wrote nothing but its job and access-log
#: row, which the scheduled ``seal_audit`` covers; sealing after those would make a
#: user whose preview was refused wait for the seal's locks behind a running import.
WROTE_ROWS = (ImportJob.Status.SUCCEEDED, ImportJob.Status.PARTIAL)


def file_entry(
    *,
    name: str,
    data: bytes | None = None,
    sha256: str = "",
    fmt: str = "",
    rows: int = 0,
    size: int | None = None,
) -> dict:
    """One item of ``ImportJob.files``: ``{"name", "sha256", "format", "bytes", "rows"}``.

    Args: ``name`` as uploaded; ``data`` the file's bytes (hashed here), or
    ``sha256`` and ``size`` when the caller hashed a stream itself; ``fmt`` the
    format name (``"CSV"``, ``"XLSX"``); ``rows`` the data rows read.
    """
    if data is not None:
        sha256 = hashlib.sha256(data).hexdigest()
        size = len(data)
    return {"name": name, "sha256": sha256, "format": fmt, "bytes": size or 0, "rows": rows}


def job_start(
    *, actor, source: str, kind: str, files: list[dict], valid_rows_only: bool = False
) -> ImportJob:
    """Record that an import starts; returns the saved :class:`ImportJob` (status running).

    Args: ``actor`` (a User, or None for the system); ``source`` an
    ``ImportJob.Source`` value; ``kind`` what is imported; ``files`` from
    :func:`file_entry`; ``valid_rows_only`` the user's explicit choice to skip
    invalid rows.
    """
    return ImportJob.objects.create(
        actor=actor,
        actor_label=getattr(actor, "email", "") or "",
        source=source,
        kind=kind,
        files=files,
        valid_rows_only=valid_rows_only,
        started_at=timezone.now(),
    )


def job_finish(
    *,
    job: ImportJob,
    status: str,
    counts: dict | None = None,
    problems: list | None = None,
    failed_rows: list | None = None,
    message: str = "",
    files: list[dict] | None = None,
    problem_count: int | None = None,
) -> ImportJob:
    """Record how ``job`` ended (``status`` an ``ImportJob.Status`` value) and when.

    ``problems`` are ``ImportProblem``-like objects (``file``, ``row``, ``column``,
    ``value``, ``message`` attributes) or dicts; at most
    ``ImportJob.MAX_STORED_PROBLEMS`` are kept, ``problem_count`` is exact.
    ``failed_rows`` dicts likewise. ``files``, when given, replaces the list (row
    counts known only at the end). ``problem_count`` is the exact number of problems
    when the caller kept only some (default ``len(problems)``). Returns the saved job.

    Also writes the job's ``import`` access-log row (:func:`log_import`) and, for an
    import that wrote rows (:data:`WROTE_ROWS`), seals the audit chain once the
    caller's transaction commits (at once outside one).
    """
    problems = list(problems or [])
    cap = ImportJob.MAX_STORED_PROBLEMS
    job.status = status
    job.counts = dict(counts or {})
    job.problem_count = len(problems) if problem_count is None else problem_count
    job.problems = [_problem_dict(p) for p in problems[:cap]]
    job.failed_rows = list(failed_rows or [])[:cap]
    job.message = message
    if files is not None:
        job.files = files
    job.finished_at = timezone.now()
    job.save()
    log_import(job)
    if status in WROTE_ROWS:
        # robust: the import has committed; a seal that fails must not turn it into
        # an error page (the scheduled seal_audit covers the rows instead).
        transaction.on_commit(lambda: seal_quietly(trigger=f"Import #{job.pk}"), robust=True)
    return job


def job_stopped(*, job: ImportJob, error: BaseException) -> ImportJob:
    """Record that ``job`` was stopped by ``error``, a fault of the server rather than
    of its files (a database gone, a bug): status failed, :data:`MSG_STOPPED` naming
    the error's type only. The caller raises ``error`` on, so its traceback is logged.
    Returns the job (:func:`job_finish`)."""
    return job_finish(
        job=job,
        status=ImportJob.Status.FAILED,
        message=MSG_STOPPED.format(error=type(error).__name__),
    )


def log_import(job: ImportJob) -> AccessLog:
    """Write ``job``'s ``import`` access-log row; returns it.

    The row's actor is ``job.actor`` (None for a command run without ``--actor``: the
    system), its object the job, its ``detail`` ``{"job": id, "status": str,
    "counts": {...}}``. IP address, user agent and request id are those of the
    request the import runs in, when there is one (``request_of``), so no
    import path has to pass it down; a command has none.
    """
    return log_access(
        action=AccessLog.Action.IMPORT,
        request=request_of(job.actor),
        actor=job.actor,
        obj=job,
        detail={"job": job.pk, "status": job.status, "counts": job.counts},
    )


def _problem_dict(problem) -> dict:
    if isinstance(problem, dict):
        return problem
    return {
        "file": problem.file,
        "row": problem.row,
        "column": problem.column,
        "value": problem.value,
        "message": problem.message,
    }
