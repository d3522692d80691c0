"""The audit admin: the access log and the seals, read-only, and the trail's URLs.

DESIGN.md, "Audit": nobody, superusers included, adds, changes or deletes an audit
row through the app. Both admins use ``AuditRecordAdminMixin`` (no add, change or
delete for anyone; history pages GET only), so a POST to a change page is refused
(403) before anything is looked at.

- Access log: ``audit.view_accesslog`` opens it; the rows are the ones the audit
  trail shows the viewer (``admin_ext.audit.trail``: every row with
  ``audit.view_all_accesslog``, else those about records the viewer may see). A
  row outside them answers as a missing one. A million rows: counts capped and
  long lists paged by key (``admin_ext.pagination``).
- Seals: ``audit.view_auditseal``.
- The audit trail page and its CSV export (``admin_ext.audit.views``) are site
  URLs, ``admin:audit_trail`` at ``<admin>/audit/trail/`` and
  ``admin:audit_trail_export`` at ``<admin>/audit/trail/export/``: they belong to no
  one model. :func:`add_trail_urls` puts them in front of the site's own patterns
  (the app index would not take them, but the site's final catch-all would).
"""

from __future__ import annotations

import functools
import json

from django.contrib import admin
from django.urls import path
from django.utils.html import format_html

from admin_ext.audit import trail, views
from admin_ext.audit.models import AccessLog, AuditSeal
from admin_ext.changelists import changelist_with
from admin_ext.history import AuditRecordAdminMixin
from admin_ext.pagination import CountingPaginator, KeysetChangeListMixin


@admin.register(AccessLog)
class AccessLogAdmin(AuditRecordAdminMixin, admin.ModelAdmin):
    """The access log, read-only, narrowed to what the viewer may see (module docstring)."""

    list_display = (
        "created_at",
        "actor_label",
        "action",
        "content_type",
        "object_repr",
        "ip_address",
        "request_id",
    )
    list_filter = ("action",)
    search_fields = ("actor_label", "object_repr", "request_id")
    list_select_related = ("content_type",)
    ordering = ("-created_at", "-id")
    actions = None
    fields = (
        "created_at",
        "actor",
        "actor_label",
        "action",
        "content_type",
        "object_id",
        "object_repr",
        "detail_display",
        "ip_address",
        "user_agent",
        "request_id",
    )
    readonly_fields = fields
    # A million rows: counts stop at a cap and long lists are read by key.
    paginator = CountingPaginator
    show_full_result_count = False

    def get_queryset(self, request):
        """The rows the audit trail shows ``request.user`` (none without the permission)."""
        qs = super().get_queryset(request)
        if not super().has_view_permission(request):
            return qs.none()
        return trail.AccessSource().visible(qs, request.user)

    def get_changelist(self, request, **kwargs):
        return changelist_with(KeysetChangeListMixin, super().get_changelist(request, **kwargs))

    @admin.display(description="detail")
    def detail_display(self, obj: AccessLog):
        text = json.dumps(obj.detail, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html("<pre class='mb-0'>{}</pre>", text)


@admin.register(AuditSeal)
class AuditSealAdmin(AuditRecordAdminMixin, admin.ModelAdmin):
    """The hash chain's seals, read-only (``audit.view_auditseal``)."""

    list_display = ("id", "created_at", "trigger", "row_count", "short_digest")
    list_display_links = ("id", "created_at")
    ordering = ("-id",)
    actions = None
    fields = ("created_at", "trigger", "row_count", "previous", "digest", "sources_display")
    readonly_fields = fields
    paginator = CountingPaginator
    show_full_result_count = False

    @admin.display(description="digest")
    def short_digest(self, obj: AuditSeal) -> str:
        return f"{obj.digest[:16]}…"

    @admin.display(description="sources")
    def sources_display(self, obj: AuditSeal):
        text = json.dumps(obj.sources, indent=2, sort_keys=True)
        return format_html("<pre class='mb-0'>{}</pre>", text)


def trail_urls(site) -> list:
    """The trail's URL patterns on ``site`` (names ``audit_trail``, ``audit_trail_export``)."""
    return [
        path(
            "audit/trail/",
            site.admin_view(functools.partial(views.trail_view, admin_site=site)),
            name="audit_trail",
        ),
        path(
            "audit/trail/export/",
            site.admin_view(functools.partial(views.trail_export_view, admin_site=site)),
            name="audit_trail_export",
        ),
    ]


def add_trail_urls(site) -> None:
    """Put :func:`trail_urls` in front of ``site``'s URL patterns (once per site)."""
    if getattr(site, "_audit_trail_urls", False):
        return
    get_urls = site.get_urls

    @functools.wraps(get_urls)
    def with_trail():
        return [*trail_urls(site), *get_urls()]

    site.get_urls = with_trail
    site._audit_trail_urls = True


add_trail_urls(admin.site)
