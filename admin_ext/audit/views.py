"""The audit trail page and its CSV export (admin views; URLs in ``admin_ext.audit.admin``).

- ``admin:audit_trail`` (``/admin/audit/trail/``): the trail the viewer may see
  (``admin_ext.audit.trail``), filtered (``admin_ext.audit.filters``), 50 events a
  page with "Newer" and "Older" links (``before``/``after`` carry the cursor).
- ``admin:audit_trail_export`` (``/admin/audit/trail/export/``): the same filtered
  trail as CSV, streamed, for holders of ``audit.export_audit``. The export is itself
  written to the access log (action ``export``, with the row count and the filters)
  before the first byte leaves (DESIGN.md, "Audit").

Both answer GET and HEAD only (405 otherwise); a signed-in user without
``audit.view_accesslog`` gets 403, as does an export without ``audit.export_audit``.
"""

from __future__ import annotations

import csv

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from admin_ext.audit import trail
from admin_ext.audit.filters import TrailFilterSet
from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access
from admin_ext.exports import neutralize_formula

#: Query parameters of the page links: the cursor of the page's last event (the
#: next, older page) and of its first (the newer page).
AFTER_VAR, BEFORE_VAR = "after", "before"

#: The CSV export's columns and the event attribute (or method) each comes from.
CSV_COLUMNS = [
    ("time", "time"),
    ("actor_id", "actor_id"),
    ("actor", "actor_label"),
    ("action", "action"),
    ("model", "model"),
    ("object_id", "object_id"),
    ("object", "object_label"),
    ("reason", "reason"),
    ("changes", "changes_text"),
    ("detail", "detail"),
    ("ip_address", "ip_address"),
    ("user_agent", "user_agent"),
    ("request_id", "request_id"),
    ("source", "source"),
    ("row", "pk"),
]


class _Echo:
    """A file-like object whose ``write`` returns the line (csv writes into it)."""

    def write(self, value):
        return value


def _check_viewer(request) -> None:
    if not trail.may_view_trail(request.user):
        raise PermissionDenied


def _query(request, **changes) -> str:
    """The request's query string with ``changes`` (a None value drops the parameter)."""
    params = request.GET.copy()
    for name in (AFTER_VAR, BEFORE_VAR, *changes):
        params.pop(name, None)
    for name, value in changes.items():
        if value is not None:
            params[name] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@require_safe
def trail_view(request, admin_site=admin.site):
    """The audit trail page (module docstring). Context: ``filter`` (the filterset),
    ``events``, ``newer_url``, ``older_url``, ``export_url``."""
    _check_viewer(request)
    filterset = TrailFilterSet(request.GET, request=request)
    events, newer_url, older_url = [], None, None
    if filterset.is_valid():
        before = trail.decode_cursor(request.GET.get(BEFORE_VAR))
        after = trail.decode_cursor(request.GET.get(AFTER_VAR))
        page = trail.trail_page(
            request.user, filterset, cursor=before or after, newer=before is not None
        )
        events = page.events
        newer_url = _query(request, **{BEFORE_VAR: page.newer}) if page.newer else None
        older_url = _query(request, **{AFTER_VAR: page.older}) if page.older else None
    export_url = None
    if request.user.has_perm(trail.EXPORT_PERMISSION):
        export_url = reverse(f"{admin_site.name}:audit_trail_export") + _query(request)
    opts = AccessLog._meta
    context = {
        **admin_site.each_context(request),
        "title": "Audit trail",
        "subtitle": None,
        "opts": opts,
        "app_label": opts.app_label,
        "filter": filterset,
        "is_filtered": any(request.GET.get(name) for name in filterset.filters),
        "events": events,
        "newer_url": newer_url,
        "older_url": older_url,
        "export_url": export_url,
        "page_size": trail.PAGE_SIZE,
        "trail_url": reverse(f"{admin_site.name}:audit_trail"),
    }
    request.current_app = admin_site.name
    return TemplateResponse(request, "admin/audit/trail.html", context)


@require_safe
def trail_export_view(request, admin_site=admin.site):
    """The filtered trail as CSV, streamed; logged first (module docstring).

    A filter with errors sends the user back to the page, which shows them.
    """
    _check_viewer(request)
    if not request.user.has_perm(trail.EXPORT_PERMISSION):
        raise PermissionDenied
    filterset = TrailFilterSet(request.GET, request=request)
    if not filterset.is_valid():
        return HttpResponseRedirect(reverse(f"{admin_site.name}:audit_trail") + _query(request))
    if request.method == "HEAD":  # sends no rows: nothing exported, nothing to log
        return HttpResponse(content_type="text/csv; charset=utf-8")
    # A snapshot: rows written while the file streams (this export's own log row
    # among them) are left out, so the count logged is the count sent.
    until = timezone.now()
    rows = trail.count_events(request.user, filterset, until=until)
    log_access(
        action=AccessLog.Action.EXPORT,
        request=request,
        model=AccessLog,
        object_repr="Audit trail",
        detail={"rows": rows, "filter": filterset.applied(), "format": "csv"},
    )
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow([name for name, _ in CSV_COLUMNS])
        for event in trail.iter_events(request.user, filterset, until=until):
            yield writer.writerow(
                [neutralize_formula(_cell(event, attr)) for _, attr in CSV_COLUMNS]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime(until).strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = content_disposition_header(True, f"audit-trail-{stamp}.csv")
    return response


def _cell(event, attr):
    value = getattr(event, attr)
    value = value() if callable(value) else value
    if attr == "time":
        return value.isoformat()
    return "" if value is None else value
