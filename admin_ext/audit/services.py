"""Writes to the access log: one function per operation (DESIGN.md, "Writes: one path each").

Every access-log row goes through :func:`log_access` (one record) or
:func:`log_access_many` (the patients on one search result page). Callers write the
row before the response leaves and outside the view's transaction (the admin's
change view runs in ``transaction.atomic``; log after it returns), so a response
that fails while rendering or sending still leaves its row; the row is written in
autocommit, one ``INSERT``.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from simple_history.models import HistoricalRecords

from admin_ext.audit.models import AccessLog

#: An incoming ``X-Request-ID`` kept as the request id when it looks like one.
REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def new_request_id(incoming: str | None = None) -> str:
    """The id of a request: ``incoming`` (a proxy's ``X-Request-ID``) when it is 8 to 64
    letters, digits, dots, dashes or underscores, else a new UUID4 in hex (32 chars)."""
    if incoming and REQUEST_ID_SHAPE.match(incoming):
        return incoming
    return uuid.uuid4().hex


def current_request():
    """The request being served on this thread, or None (a command, a test without one).

    simple-history's ``HistoryRequestMiddleware`` keeps it for the history rows'
    user; services and imports, which take no request, read it here for the IP, user
    agent and request id of their access-log rows.
    """
    return getattr(HistoricalRecords.context, "request", None)


def request_of(actor):
    """The request being served (:func:`current_request`) when ``actor`` is its signed-in
    user, else None: the IP, user agent and request id of an access-log row a service
    or an import writes for ``actor``. None outside a request (a command, a test) and
    for the system (``actor`` None)."""
    request = current_request()
    user = getattr(request, "user", None)
    if actor is None or user is None or getattr(user, "pk", None) != actor.pk:
        return None
    return request


def client_ip(request) -> str | None:
    """The client's IP address (text), or None without a request or a valid address.

    Without proxies (``TRUSTED_PROXY_COUNT`` = 0, the default) it is ``REMOTE_ADDR``
    and ``X-Forwarded-For`` is ignored, since any client can send that header. Behind
    N trusted reverse proxies that each append the address they received from to
    ``X-Forwarded-For`` (nginx ``$proxy_add_x_forwarded_for``, most load balancers),
    it is the N-th address from the right of that header: the one the outermost
    trusted proxy saw; anything further left was written by the client and is
    ignored (MDN, "X-Forwarded-For: Selecting an IP address"). A header with fewer
    than N addresses, or a value that is not an IP address, falls back to
    ``REMOTE_ADDR``. The access log and the sign-in lockout (``people.lockouts``)
    both use this, so they agree on who tried.
    """
    if request is None:
        return None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        chain = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        chain = [hop for hop in chain if hop]
        if len(chain) >= proxies:
            try:
                return str(ipaddress.ip_address(chain[-proxies]))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR") or None


def request_fields(request) -> dict:
    """The access-log columns a request gives: ``ip_address``, ``user_agent``, ``request_id``."""
    if request is None:
        return {"ip_address": None, "user_agent": "", "request_id": ""}
    return {
        "ip_address": client_ip(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:500],
        "request_id": getattr(request, "request_id", ""),
    }


def _actor(request, actor):
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
    return actor


def _entry(*, action, actor, obj, model, object_id, object_repr, detail, fields) -> AccessLog:
    if obj is not None:
        model = type(obj)
        object_id = str(obj.pk)
        object_repr = object_repr or str(obj)
    content_type = (
        ContentType.objects.get_for_model(model, for_concrete_model=True) if model else None
    )
    return AccessLog(
        actor=actor,
        actor_label=(getattr(actor, "email", "") or "")[:254],
        action=action,
        content_type=content_type,
        object_id=str(object_id or "")[:64],
        object_repr=str(object_repr or "")[:200],
        detail=detail or {},
        **fields,
    )


def log_access(
    *,
    action: str,
    request=None,
    actor=None,
    obj=None,
    model=None,
    object_id: str | int = "",
    object_repr: str = "",
    detail: dict | None = None,
    actor_label: str = "",
) -> AccessLog:
    """Write one access-log row; returns it.

    Args: ``action`` an ``AccessLog.Action`` value; ``request`` (gives the actor when
    ``actor`` is None, and the IP, user agent and request id); ``obj`` the record, or
    ``model`` with ``object_id`` and ``object_repr`` (a model without one row: an
    export); ``detail`` JSON-serializable extras (``rows``, ``filter``, ``job``...);
    ``actor_label`` the email a failed sign-in typed: with it, ``actor`` is the user
    that email names or None, never the request's signed-in user.
    """
    if not actor_label:  # a failed sign-in names its own actor, never the session's
        actor = _actor(request, actor)
    entry = _entry(
        action=action,
        actor=actor,
        obj=obj,
        model=model,
        object_id=object_id,
        object_repr=object_repr,
        detail=detail,
        fields=request_fields(request),
    )
    if actor_label and not entry.actor_label:
        entry.actor_label = actor_label[:254]
    entry.save(force_insert=True)
    return entry


def log_access_many(*, action: str, request, objects, detail: dict | None = None) -> int:
    """One access-log row per object in ``objects`` (the patients a search result page
    shows), in one ``INSERT``; returns how many were written."""
    actor = _actor(request, None)
    fields = request_fields(request)
    entries = [
        _entry(
            action=action,
            actor=actor,
            obj=obj,
            model=None,
            object_id="",
            object_repr="",
            detail=detail,
            fields=fields,
        )
        for obj in objects
    ]
    AccessLog.objects.bulk_create(entries)
    return len(entries)


_default_reason: ContextVar[str] = ContextVar("audit_default_change_reason", default="")


@contextmanager
def default_change_reason(reason: str):
    """History rows written inside the block without a reason get ``reason``.

    For code the project does not own that saves tracked models through ``save()``
    without a reason: Django's ``createsuperuser`` and ``changepassword`` commands
    (``people/management/commands``). Thread- and task-local (a ``ContextVar``);
    nestable. :func:`fill_default_change_reason` applies it.
    """
    token = _default_reason.set(reason)
    try:
        yield
    finally:
        _default_reason.reset(token)


def fill_default_change_reason(sender, history_instance, **kwargs):
    """simple-history's ``pre_create_historical_record`` receiver: a history row without
    a reason gets the one :func:`default_change_reason` set, if any (connected in
    ``AuditConfig.ready``)."""
    if not history_instance.history_change_reason:
        history_instance.history_change_reason = _default_reason.get() or None
