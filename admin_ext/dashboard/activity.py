"""The viewer's own activity on the dashboard: recent imports and most visited records.

Read on each view (they change with every import and every page the viewer opens,
so they are not cached), a few indexed queries each, and only through the
``ModelAdmin`` that would show the rows: what the dashboard links to, the viewer
may open.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Count, Max
from django.utils import timezone

from admin_ext.audit.models import AccessLog
from admin_ext.dashboard.links import change_url, model_admin
from admin_ext.imports.admin import STATUS_BADGES
from admin_ext.imports.models import ImportJob

#: How far back the access log is read for the most visited records.
VISITS_WINDOW = datetime.timedelta(days=90)

#: Candidates read per record shown, so that records the viewer may no longer see
#: (a patient reassigned to another doctor) leave room for the next ones.
VISIT_CANDIDATES_PER_SHOWN = 4


@dataclass(frozen=True)
class RecentImport:
    """One import job as the dashboard lists it."""

    job: ImportJob
    url: str
    badge: str


@dataclass(frozen=True)
class Visit:
    """A record the viewer opened ``count`` times, last at ``last``."""

    label: str
    model_label: str
    url: str
    count: int
    last: datetime.datetime


def recent_imports(request, limit: int = 5) -> list[RecentImport] | None:
    """The newest ``limit`` import jobs ``request.user`` may open (the import job
    admin's own rule: a steward their own, auditors and administrators all), or
    None when they may not open import jobs at all. One query."""
    job_admin = model_admin(ImportJob)
    if job_admin is None or not job_admin.has_view_permission(request):
        return None
    # The problem and failed-row lists can be megabytes per job; the panel reads none.
    jobs = job_admin.get_queryset(request).defer("problems", "failed_rows")[:limit]
    return [
        RecentImport(
            job=job,
            url=change_url(job_admin, job),
            badge=STATUS_BADGES.get(job.status, "secondary"),
        )
        for job in jobs
    ]


def _valid_ids(model, ids) -> list:
    valid = []
    for object_id in ids:
        try:
            valid.append(model._meta.pk.to_python(object_id))
        except (ValidationError, ValueError, TypeError):
            continue
    return valid


def most_visited(request, limit: int = 5) -> list[Visit]:
    """The records ``request.user`` opened most often (access-log rows of action
    ``view`` by them, in the last :data:`VISITS_WINDOW`), most visits first, at most
    ``limit``, each one they may still see, linked to its page.

    Visibility is the record's ``ModelAdmin.get_queryset`` (patients:
    ``visible_to``): a record they may no longer open is left out. One grouped
    query on the access log, then one query per model among the candidates.
    """
    user = request.user
    since = timezone.now() - VISITS_WINDOW
    candidates = list(
        AccessLog.objects.filter(
            actor=user,
            action=AccessLog.Action.VIEW,
            created_at__gte=since,
            content_type__isnull=False,
        )
        .exclude(object_id="")
        .values("content_type_id", "object_id")
        .annotate(visits=Count("id"), last=Max("created_at"))
        .order_by("-visits", "-last", "object_id")[: limit * VISIT_CANDIDATES_PER_SHOWN]
    )
    by_type: dict[int, list[str]] = {}
    for row in candidates:
        by_type.setdefault(row["content_type_id"], []).append(row["object_id"])
    found: dict[tuple[int, str], tuple] = {}
    for type_id, ids in by_type.items():
        model = ContentType.objects.get_for_id(type_id).model_class()
        admin_ = model_admin(model) if model is not None else None
        if admin_ is None or not admin_.has_view_or_change_permission(request):
            continue
        objects = admin_.get_queryset(request).filter(pk__in=_valid_ids(model, ids))
        for obj in objects:
            found[(type_id, str(obj.pk))] = (obj, admin_)
    visits = []
    for row in candidates:
        hit = found.get((row["content_type_id"], row["object_id"]))
        if hit is None:
            continue
        obj, admin_ = hit
        visits.append(
            Visit(
                label=str(obj),
                model_label=str(obj._meta.verbose_name),
                url=change_url(admin_, obj),
                count=row["visits"],
                last=row["last"],
            )
        )
        if len(visits) == limit:
            break
    return visits
