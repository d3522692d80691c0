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
- Seals: ``audit.view_auditseal``, with "Verify the chain" (``admin:audit_auditseal_verify``,
  :class:`VerifyForm`): the check ``verify_audit`` makes, run from the admin, so an
  auditor answers "has anything been altered?" without a shell.
- The audit trail page and its CSV export (``admin_ext.audit.views``) are site
  URLs, ``admin:audit_trail`` at ``<admin>/audit/trail/`` and
  ``admin:audit_trail_export`` at ``<admin>/audit/trail/export/``: they belong to no
  one model. :func:`add_trail_urls` puts them in front of the site's own patterns
  (the app index would not take them, but the site's final catch-all would).
"""

from __future__ import annotations

import datetime
import functools
import json

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html

from admin_ext.audit import trail, views
from admin_ext.audit.chain import verify
from admin_ext.audit.models import AccessLog, AuditSeal
from admin_ext.changelists import changelist_with
from admin_ext.history import READ_METHODS, AuditRecordAdminMixin
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


class VerifyForm(forms.Form):
    """How much of the chain "Verify the chain" re-reads.

    Every seal's link and row list is checked either way; ``recent`` re-reads the rows
    of the seals of the last :data:`RECENT_DAYS` days, ``all`` every sealed row (as
    ``verify_audit`` does: about 25 µs a row, so minutes at millions of rows).
    """

    RECENT_DAYS = 7
    scope = forms.ChoiceField(
        choices=[
            ("recent", f"Re-read the rows sealed in the last {RECENT_DAYS} days"),
            ("all", "Re-read every sealed row (slow on millions of rows)"),
        ],
        initial="recent",
        widget=forms.RadioSelect,
    )

    def reread_since(self) -> datetime.datetime | None:
        """The ``reread_since`` of :func:`~admin_ext.audit.chain.verify` for the choice."""
        if self.cleaned_data["scope"] == "all":
            return None
        return timezone.now() - datetime.timedelta(days=self.RECENT_DAYS)


@admin.register(AuditSeal)
class AuditSealAdmin(AuditRecordAdminMixin, admin.ModelAdmin):
    """The hash chain's seals, read-only (``audit.view_auditseal``), and "Verify the chain"."""

    change_list_template = "admin/audit/auditseal/change_list.html"

    def get_urls(self):
        verify_url = path(
            "verify/",
            self.admin_site.admin_view(self.verify_view),
            name="audit_auditseal_verify",
        )
        return [verify_url, *super().get_urls()]

    def verify_view(self, request):
        """The chain check of ``verify_audit`` (``admin_ext.audit.chain.verify``), GET only.

        Without ``scope`` the page offers the check; with it, it runs and shows
        "intact" with what was checked, or the first row or seal that no longer
        matches. Reading only, so GET; 405 for other methods, 403 without
        ``audit.view_auditseal``.
        """
        if request.method not in READ_METHODS:
            return HttpResponseNotAllowed(READ_METHODS)
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = VerifyForm(request.GET if "scope" in request.GET else None)
        result = verify(reread_since=form.reread_since()) if form.is_valid() else None
        context = {
            **self.admin_site.each_context(request),
            "title": "Verify the audit trail",
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/audit/auditseal/verify.html", context)

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
