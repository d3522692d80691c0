"""Structured logs: one JSON object per line, with the request id and the actor, never PHI.

Production (``LOG_FORMAT=json``, the default when DEBUG is off) writes every record as
one JSON object (python-json-logger) with ``timestamp``, ``level``, ``logger``,
``message``, ``request_id`` and ``actor``; the access line of each request adds
``method``, ``path``, ``status`` and ``duration_ms``.

What keeps patient data out (HIPAA 164.312(b) audit controls without disclosing PHI;
OWASP ASVS 5.0 V16.2 "log content", OWASP Logging Cheat Sheet "data to exclude"):

- ``path`` never carries the query string: search terms (``?q=Smith``) are PHI; a
  password-reset token in the path is masked.
- ``actor`` is the signed-in user's id, never a name or an email.
- Only the fields above leave the formatter: a record's other attributes (Django's
  ``django.request`` passes the request, whose repr holds the query string) are dropped.
- A traceback keeps its frames (file, line, function, source line) and the exception's
  type, never its message: a database error or a failed import row quotes the values.
"""

from __future__ import annotations

import logging
import time
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime

from django.utils.functional import SimpleLazyObject, empty
from pythonjsonlogger.json import JsonFormatter as LibraryJsonFormatter

#: The request being served in this context (thread or task), for the log filter.
_current_request: ContextVar = ContextVar("backoffice_log_request", default=None)

#: Paths whose successful answers write no access line: load-balancer probes every few
#: seconds would drown the log (an unhealthy answer is still written).
QUIET_PATH_PREFIXES = ("/health/",)

#: The access line's own fields, after the ones every record has.
REQUEST_FIELDS = ("method", "path", "status", "duration_ms")

#: What a password-reset token in a logged path is replaced with.
MASK = "********"

access_logger = logging.getLogger("backoffice.requests")


def _actor_id(request) -> int | None:
    """The signed-in user's id for ``request``, or None (anonymous, no request, or a user
    the request never loaded).

    A user Django has not loaded yet stays unloaded: logging must not run queries (a
    query could log and call the filter again, and it would change every page's query
    count). Every admin page loads the user to check permissions.
    """
    user = getattr(request, "user", None)
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    try:
        return user.pk if user.is_authenticated else None
    except Exception:  # the session or user table cannot be read (database down)
        return None


def loggable_path(request) -> str:
    """``request.path`` as logs may show it: no query string, a URL's ``token`` masked."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    token = match.kwargs.get("token") if match is not None else None
    if token:
        path = path.replace(str(token), MASK)
    return path


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``actor`` (user id) of the request being served to every
    record a handler emits; both None outside a request (a command, a worker thread).

    Set it on the handler, not a logger, so records propagated from every logger get it.
    A record that carries its request (``django.request`` logs 4xx and 5xx answers after
    the middleware has returned) takes it from there. Never filters anything out
    (always returns True).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None) or _current_request.get()
        if not hasattr(record, "request_id"):
            record.request_id = getattr(request, "request_id", None)
        if not hasattr(record, "actor"):
            record.actor = _actor_id(request) if request is not None else None
        return True


def _traceback_without_messages(exc: traceback.TracebackException) -> list[str]:
    """Lines of a traceback (causes first, as Python prints them) with each exception's
    type but not its message."""
    lines: list[str] = []
    if exc.__cause__ is not None:
        lines += _traceback_without_messages(exc.__cause__)
        lines.append("The above exception was the direct cause of the following exception:")
    elif exc.__context__ is not None and not exc.__suppress_context__:
        lines += _traceback_without_messages(exc.__context__)
        lines.append("During handling of the above exception, another exception occurred:")
    lines.append("Traceback (most recent call last):")
    lines += [line.rstrip("\n") for line in exc.stack.format()]
    exc_type = exc.exc_type
    name = f"{exc_type.__module__}.{exc_type.__qualname__}" if exc_type else "Exception"
    lines.append(f"{name}: [message withheld from logs]")
    return lines


class JsonFormatter(LibraryJsonFormatter):
    """python-json-logger's formatter limited to the fields named in this module's
    docstring, tracebacks without exception messages. Output: one JSON object, one line.
    """

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        log_data["timestamp"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data["request_id"] = getattr(record, "request_id", None)
        log_data["actor"] = getattr(record, "actor", None)
        for field in REQUEST_FIELDS:
            if hasattr(record, field):
                log_data[field] = getattr(record, field)
        if message_dict.get("exc_info"):
            log_data["exc_info"] = message_dict["exc_info"]

    def formatException(self, ei) -> str:
        return "\n".join(_traceback_without_messages(traceback.TracebackException(*ei)))


class TextFormatter(logging.Formatter):
    """Readable lines for development (``LOG_FORMAT=text``): time, level, logger, request
    id, actor and message; tracebacks without exception messages, as in JSON."""

    def __init__(self, fmt=None, *args, **kwargs):
        fmt = fmt or (
            "%(asctime)s %(levelname)s %(name)s [request=%(request_id)s actor=%(actor)s] "
            "%(message)s"
        )
        super().__init__(fmt, *args, **kwargs)

    def formatException(self, ei) -> str:
        return "\n".join(_traceback_without_messages(traceback.TracebackException(*ei)))


class RequestLogMiddleware:
    """One access line per request on the ``backoffice.requests`` logger (INFO):
    ``"GET /admin/ 200"`` with ``method``, ``path`` (see :func:`loggable_path`),
    ``status``, ``duration_ms``, and the request id and actor; it also makes the
    request visible to :class:`RequestContextFilter` while it is served.

    Listed right after ``RequestIdMiddleware`` so every answer, redirects and errors
    included, is timed and logged. Successful load-balancer probes
    (:data:`QUIET_PATH_PREFIXES`) write no line. Replaces gunicorn's access log, whose
    lines carry the query string.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current_request.set(request)
        started = time.perf_counter()
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            return response
        finally:
            if status >= 500 or not request.path.startswith(QUIET_PATH_PREFIXES):
                path = loggable_path(request)
                access_logger.info(
                    "%s %s %s",
                    request.method,
                    path,
                    status,
                    extra={
                        "method": request.method,
                        "path": path,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "actor": _actor_id(request),
                    },
                )
            _current_request.reset(token)
