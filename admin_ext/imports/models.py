"""Import job records and uploads waiting between preview and confirm.

DESIGN.md, "Import and export": each import leaves a job record (actor, file name,
SHA-256, counts, duration, outcome) linked from the history rows it wrote; every
history row an import writes carries the reason ``Import #<job id>``
(:meth:`ImportJob.reason`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ImportJob(models.Model):
    """One import, from the admin or a management command, whatever its outcome.

    ``files`` lists the source files, each ``{"name": str, "sha256": hex str,
    "format": str, "bytes": int, "rows": int}``; ``counts`` the rows by outcome
    (``new``, ``changed``, ``unchanged``, ``invalid``, ``skipped``), over all files;
    ``problems`` every error as ``{"file", "row", "column", "value", "message"}``
    (``row``: spreadsheet row, header = 1), capped at :data:`MAX_STORED_PROBLEMS`
    with ``problem_count`` the full number; ``failed_rows`` the rows that did not
    import (``{"file", "row", "headers", "cells", "error"}``, same cap), from which
    the admin offers a fixable CSV.
    """

    #: How many problems and failed rows a job stores (the count is always exact).
    MAX_STORED_PROBLEMS = 10000

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Valid rows imported, invalid rows skipped"
        REFUSED = "refused", "Refused: invalid rows, nothing imported"
        CONFLICT = "conflict", "Conflict with a concurrent change, nothing imported"
        FAILED = "failed", "Failed: nothing imported"

    class Source(models.TextChoices):
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Management command"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_jobs",
        help_text="Who ran the import (empty: the system, e.g. a command without --actor).",
    )
    actor_label = models.CharField(
        max_length=254, blank=True, help_text="The actor's email when the job ran."
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    kind = models.CharField(
        max_length=100, help_text='What was imported, e.g. "Synthea folder" or the Resource.'
    )
    valid_rows_only = models.BooleanField(
        default=False, help_text="The user chose to import the valid rows and skip the rest."
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True
    )
    files = models.JSONField(default=list)
    counts = models.JSONField(default=dict)
    problems = models.JSONField(default=list)
    problem_count = models.PositiveIntegerField(default=0)
    failed_rows = models.JSONField(default=list)
    message = models.TextField(blank=True, help_text="Why the job ended as it did, if not done.")
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["actor", "-started_at"])]
        permissions = [("view_all_importjobs", "Can view every user's import jobs")]

    def __str__(self) -> str:
        return f"Import #{self.pk}"

    @property
    def reason(self) -> str:
        """The history reason of every row this job writes: ``"Import #<id>"``."""
        return f"Import #{self.pk}"

    @property
    def duration(self):
        """``finished_at - started_at`` as a ``timedelta`` (None while running)."""
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class ImportUpload(models.Model):
    """An uploaded file kept between an import's preview and its confirm.

    Stored in the database, so it works across several app servers and is covered
    by the database's access control and backups policy, not left in a temporary
    folder (import-export's default storage is "for development only"). Read only
    by its ``owner`` through an unguessable ``token``; deleted when the import ends,
    or by ``purge_imports`` after ``expires_at``.
    """

    token = models.CharField(max_length=64, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_uploads"
    )
    name = models.CharField(max_length=255, help_text="The file name as uploaded.")
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.name
