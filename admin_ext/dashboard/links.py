"""Admin URLs for the dashboard's links, for viewers whose ``ModelAdmin`` lets them in.

Whether a viewer may open a list or a record is the model's ``ModelAdmin``'s
decision (``has_view_or_change_permission``, ``get_queryset``), as on every other
admin page, so a link on the dashboard never leads to a page that answers 403 or
"doesn't exist".
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.admin.utils import quote
from django.urls import NoReverseMatch, reverse

from admin_ext.dashboard.panels import Link


def model_admin(model):
    """The default admin site's ``ModelAdmin`` of ``model`` (a class or an
    ``"app_label.model_name"`` label), or None when it is not registered."""
    if isinstance(model, str):
        try:
            model = apps.get_model(model)
        except (LookupError, ValueError):
            return None
    try:
        return admin.site.get_model_admin(model)
    except NotRegistered:
        return None


def changelist_url(request, link: Link | None) -> str | None:
    """The URL of ``link``'s changelist (with its query) when ``request.user`` may
    open it, else None."""
    if link is None:
        return None
    model_admin_ = model_admin(link.model)
    if model_admin_ is None or not model_admin_.has_view_or_change_permission(request):
        return None
    opts = model_admin_.opts
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    except NoReverseMatch:
        return None
    return f"{url}?{link.query}" if link.query else url


def change_url(model_admin_, obj) -> str:
    """The change (or view) page of ``obj`` in ``model_admin_``'s admin."""
    opts = model_admin_.opts
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])
