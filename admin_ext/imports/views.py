"""Progress of an import request, recorded in the cache and read by the page as JSON.

The issue: a 100,000-row file takes seconds to send and more to preview, and the
page gave no sign of life meanwhile. The upload page (``templates/admin/import_export/
import.html``, ``templates/admin/clinic/patient/synthea_import.html``, both through
``static/imports/upload_progress.js``) sends its form with ``XMLHttpRequest``, so
that it can show the bytes sent, and polls :func:`import_progress` for what the
server has read so far while the request runs.

How a request and its poll meet:

- the page makes a random id (``crypto.getRandomValues``) and posts it with the form
  as ``progress_id`` (:data:`PROGRESS_FIELD`); without JavaScript there is none and
  nothing is recorded;
- the request doing the work records its figures with :class:`ImportProgress`
  (``ImportProgress.for_request``): the import Resource's ``progress(rows_done,
  rows_total)`` and ``import_folder``'s ``progress(file name, rows read)``, written
  at most every :data:`MIN_INTERVAL` seconds (the last figure always), under a cache
  key made of the user's id and a hash of the id (:func:`progress_key`);
- :func:`import_progress` (GET ``/admin/import-progress/<id>/``, URL name
  ``import_progress``) builds the same key from the *requesting* user: another
  user, an anonymous visitor or an unknown id finds nothing and gets 404, so the
  answer never says whether someone else's import exists.

The cache is Django's default cache (``settings.CACHES``). Local memory, the default
in development, is per process: with several gunicorn workers the poll usually
reaches another worker than the one doing the work and finds nothing, and a single
sync worker answers the poll only after the work is done. Progress then needs a
shared cache (Redis through ``CACHE_URL``, DESIGN.md "Dashboard and cache"). Either
way nothing breaks: the page shows a plain "working" line while the poll finds
nothing, and recording never fails an import (a cache error is logged and recording
stops).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable

from django.core.cache import cache
from django.http import Http404, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

#: The form field (added by the page's script, not a Django form field) naming a request.
PROGRESS_FIELD = "progress_id"
#: What an id may look like: what the script makes (24 base64url characters), with room.
_PROGRESS_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
#: Seconds a record stays in the cache after its last write.
PROGRESS_TIMEOUT = 15 * 60
#: The least time between two writes of one record, in seconds: a Resource reports
#: every 500 rows, 40 times a second at 20,000 rows/s, and the page polls once a second.
MIN_INTERVAL = 0.5
#: Stages, as the page names them.
READING, CHECKING, DONE = "reading", "checking", "done"


def is_progress_id(value) -> bool:
    """Whether ``value`` has the shape of an id the page's script makes."""
    return isinstance(value, str) and _PROGRESS_ID.fullmatch(value) is not None


def progress_key(user, progress_id) -> str | None:
    """The cache key of ``user``'s request ``progress_id``, or None (no key) for an
    anonymous or missing user or an id of the wrong shape.

    The key holds the user's primary key, so the same id asked for by another user
    names another (empty) record; the id itself is hashed (fixed length, and any
    cache backend accepts the characters).
    """
    if (
        user is None
        or not getattr(user, "is_authenticated", False)
        or not is_progress_id(progress_id)
    ):
        return None
    digest = hashlib.sha256(progress_id.encode("ascii")).hexdigest()
    return f"imports:progress:{user.pk}:{digest}"


class ImportProgress:
    """The figures of one import request, written to the cache under :func:`progress_key`.

    A disabled recorder (no key: no id posted, no user) records nothing; every method
    may be called on it all the same. Methods:

    - :meth:`stage` (``"reading"`` the file, ``"checking"`` its rows), with the row
      total when known; starts the clock of the rows/s figure;
    - :meth:`rows` (``rows_done, rows_total``): the import Resource's ``progress``;
    - :meth:`file_rows` (``file name, rows read``): ``import_folder``'s ``progress``;
    - :meth:`finish`: the last figure, marked done.

    What is stored (and what :func:`import_progress` returns): ``{"stage", "file",
    "rows", "total" (None when unknown), "rate" (rows/s, whole), "elapsed"
    (seconds), "done"}``.
    """

    def __init__(
        self,
        key: str | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        min_interval: float = MIN_INTERVAL,
    ):
        self.key = key
        self.clock = clock
        self.min_interval = min_interval
        self.started = self.phase_started = clock()
        self.stage_name = READING
        self.file = ""
        self.done_rows = 0  # in the current file
        self.earlier_rows = 0  # in the folder's earlier files
        self.total: int | None = None
        self._last_write: float | None = None

    @classmethod
    def for_request(cls, request) -> ImportProgress:
        """The recorder of ``request`` (one per request, kept on it): enabled when the
        request is a POST carrying a well-formed ``progress_id`` from a signed-in user."""
        recorder = getattr(request, "_import_progress", None)
        if recorder is None:
            progress_id = request.POST.get(PROGRESS_FIELD) if request.method == "POST" else None
            recorder = cls(progress_key(getattr(request, "user", None), progress_id))
            request._import_progress = recorder
        return recorder

    @property
    def enabled(self) -> bool:
        return self.key is not None

    def stage(self, stage: str, *, total: int | None = None, file: str = "") -> None:
        """Start ``stage`` (``"reading"`` or ``"checking"``) of ``total`` rows, if known."""
        self.stage_name, self.total, self.file = stage, total, file
        self.done_rows = self.earlier_rows = 0
        self.phase_started = self.clock()
        self._write(force=True)

    def rows(self, rows_done: int, rows_total: int | None = None) -> None:
        """``rows_done`` of ``rows_total`` rows checked (a Resource's ``progress``)."""
        self.stage_name = CHECKING
        self.done_rows = rows_done
        if rows_total:
            self.total = rows_total
        self._write(force=bool(self.total) and rows_done >= self.total)

    def file_rows(self, name: str, rows: int) -> None:
        """``rows`` rows of the folder's file ``name`` read (``import_folder``'s ``progress``)."""
        if name != self.file:
            self.earlier_rows += self.done_rows
            self.file, self.done_rows = name, 0
        self.stage_name = CHECKING
        self.done_rows = rows
        self._write()

    def finish(self) -> None:
        """Record the last figures, marked done (the page stops asking)."""
        self.stage_name = DONE
        self._write(force=True)

    def figures(self) -> dict:
        """What is stored: see the class docstring."""
        now = self.clock()
        phase = max(now - self.phase_started, 1e-3)
        return {
            "stage": self.stage_name,
            "file": self.file,
            "rows": self.done_rows,
            "total": self.total,
            "rate": round((self.earlier_rows + self.done_rows) / phase),
            "elapsed": round(now - self.started, 1),
            "done": self.stage_name == DONE,
        }

    def _write(self, *, force: bool = False) -> None:
        if self.key is None:
            return
        now = self.clock()
        if (
            not force
            and self._last_write is not None
            and now - self._last_write < self.min_interval
        ):
            return
        self._last_write = now
        try:
            cache.set(self.key, self.figures(), PROGRESS_TIMEOUT)
        except Exception:  # a cache outage must not fail the import: stop recording
            logger.warning("Cannot record import progress; recording stops", exc_info=True)
            self.key = None


# The view answers GET only. A POST gets 405 from require_GET rather than the CSRF
# middleware's 403, which is why it is exempt: it never changes anything.
@csrf_exempt
@require_GET
@never_cache
def import_progress(request, progress_id: str):
    """The figures of the signed-in staff user's import request ``progress_id`` as JSON
    (see :class:`ImportProgress`); 404 for anyone else, an unknown or expired id, or
    when the cache cannot be read. GET only: 405 otherwise."""
    user = request.user
    if not (user.is_active and user.is_staff):
        raise Http404
    key = progress_key(user, progress_id)
    if key is None:
        raise Http404
    try:
        figures = cache.get(key)
    except Exception:
        logger.warning("Cannot read import progress", exc_info=True)
        figures = None
    if not isinstance(figures, dict):
        raise Http404
    return JsonResponse(figures)
