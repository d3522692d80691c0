"""``ClinicModelAdmin``: the one composed base every ModelAdmin here extends.

It combines django-import-export's ``ImportExportMixin`` (import/export views,
gated by ``import_<model>``/``export_<model>`` permissions), simple-history's
``SimpleHistoryAdmin`` (history pages with field-level diffs) and the project's
rules:

- Writes go through a service: subclasses implement ``write(request, obj, reason)``
  and ``save_model`` calls it with the reason typed on the form (or a summary of
  the changed fields), so history carries actor and reason.
- Reads go through ``visible_queryset(request, action)``: the model manager's
  ``visible_to(user, action)`` where the model has one (patients), else all rows
  for holders of the model permission. Object-level ``has_view_permission`` and
  ``has_change_permission`` apply the same rule, and an object outside it answers
  as if it did not exist, on the change page and on the history page alike.
- Nothing is deleted through the admin: patients are archived, doctors made
  inactive. Delete stays off for everyone, superusers included, so no path
  bypasses the services.

django-guardian's ``GuardedModelAdminMixin`` is deliberately not mixed in: its
object-permission page would grant access without a service (no reason, no
history); grants come from assignments (``clinic.services``).
"""

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.text import get_text_list
from import_export.admin import ImportExportMixin
from simple_history.admin import SimpleHistoryAdmin

REASON_FIELD = "change_reason"


def changed_fields_reason(form) -> str:
    """The history reason for a change-form save that gave none: the changed fields.

    Returns ``"Changed in admin: City and ZIP"`` (field labels), or
    ``"Saved in admin"`` when no field changed.
    """
    changed = [
        str(form.fields[name].label or name)
        for name in form.changed_data
        if name != REASON_FIELD and name in form.fields
    ]
    return f"Changed in admin: {get_text_list(changed, 'and')}" if changed else "Saved in admin"


class ReasonForm(forms.ModelForm):
    """A ModelForm with an optional "reason for change" kept in the history row."""

    change_reason = forms.CharField(
        label="Reason for change",
        required=False,
        max_length=500,
        help_text="Kept in the record's history. Left empty, the changed fields are listed.",
    )


class ClinicModelAdmin(ImportExportMixin, SimpleHistoryAdmin):
    """Base ModelAdmin: import/export, history, service writes, one visibility rule.

    Subclasses set the usual declarations and implement ``write``.
    """

    form = ReasonForm
    list_per_page = 50
    # A history list is paged like a changelist (simple-history option).
    history_list_per_page = 50

    # -- writes -----------------------------------------------------------------

    def write(self, request, obj, reason: str):
        """Save ``obj`` through its service. Subclasses must implement it.

        Args: the request (its user is the actor), the instance the form changed,
        the reason text. Returns the saved instance. May raise ``ValidationError``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement write()")

    def change_reason(self, request, form, change: bool) -> str:
        """The history reason for a form save: what the user typed, else a summary."""
        typed = form.cleaned_data.get(REASON_FIELD, "").strip() if form else ""
        if typed:
            return typed
        if not change:
            return "Created in admin"
        return changed_fields_reason(form)

    def save_model(self, request, obj, form, change):
        self.write(request, obj, self.change_reason(request, form, change))

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if self.has_change_permission(request, obj) if obj else self.has_add_permission(request):
            names = {f for _, opts in fieldsets for f in opts.get("fields", ())}
            if REASON_FIELD not in names and issubclass(self.form, ReasonForm):
                fieldsets.append(("Reason for change", {"fields": [REASON_FIELD]}))
        return fieldsets

    def has_delete_permission(self, request, obj=None):
        return False

    # -- import and export (resources: admin_ext.imports, clinic.resources) -------

    def has_import_permission(self, request):
        # import_<model> alone is not enough: import matches rows model-wide
        # (ServiceModelResource.get_queryset), so it also takes the model-wide add
        # and change permissions; per-object grants never allow an import.
        opts = self.opts
        return super().has_import_permission(request) and all(
            request.user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
            for action in ("add", "change")
        )

    def get_import_resource_kwargs(self, request, **kwargs):
        """The importing user goes to the Resource: actor of every write."""
        return {**super().get_import_resource_kwargs(request, **kwargs), "user": request.user}

    def get_export_resource_kwargs(self, request, **kwargs):
        """The exporting user goes to the Resource: it masks SSNs without view_ssn."""
        return {**super().get_export_resource_kwargs(request, **kwargs), "user": request.user}

    def get_export_resource_classes(self, request):
        """Export writes the native format only; Synthea formats are import-only."""
        return [
            r
            for r in super().get_export_resource_classes(request)
            if getattr(r, "exportable", True)
        ]

    def process_result(self, result, request):
        # The confirm step imports again; if the data changed since the preview and
        # a row is now invalid, the resource has rolled everything back: say so
        # instead of the library's "Import finished".
        if getattr(result, "problems", None):
            for problem in result.problems[:20]:
                messages.error(request, str(problem))
            messages.error(request, "Nothing was imported: the file has invalid rows.")
            return HttpResponseRedirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import")
            )
        return super().process_result(result, request)

    def add_success_message(self, result, request):
        counts = result.counts
        messages.success(
            request,
            f"Import finished: {counts['new']} new, {counts['changed']} changed and "
            f"{counts['unchanged']} unchanged {self.opts.verbose_name_plural}.",
        )

    # -- reads ------------------------------------------------------------------

    def visible_queryset(self, request, action: str = "view"):
        """Rows ``request.user`` may ``action``: the manager's ``visible_to`` rule if any."""
        manager = self.model._default_manager
        if hasattr(manager, "visible_to"):
            return manager.visible_to(request.user, action)
        qs = manager.get_queryset()
        return qs if self._has_model_perm(request, action) else qs.none()

    def _has_model_perm(self, request, action: str) -> bool:
        if action == "view":
            return super().has_view_permission(request)
        return super().has_change_permission(request)

    def _uses_object_permissions(self) -> bool:
        # Object grants are held on the concrete model (a doctor's patients). The
        # proxy work queues (unassigned, archived) are for roles holding their
        # model permission; a grant on one patient does not open a queue.
        return hasattr(self.model._default_manager, "visible_to") and not self.opts.proxy

    def _may(self, request, action: str, obj) -> bool:
        if self._has_model_perm(request, action):
            return True
        if not self._uses_object_permissions():
            return False
        if obj is not None:
            return self.visible_queryset(request, action).filter(pk=obj.pk).exists()
        # Without an object: may the user reach the changelist at all? Cached per
        # request because the admin asks this for every menu entry it draws.
        cache = request.__dict__.setdefault("_clinic_any_visible", {})
        key = (self.model, action)
        if key not in cache:
            cache[key] = self.visible_queryset(request, action).exists()
        return cache[key]

    def has_view_permission(self, request, obj=None):
        return self._may(request, "view", obj) or self._may(request, "change", obj)

    def has_change_permission(self, request, obj=None):
        return self._may(request, "change", obj)

    def get_queryset(self, request):
        qs = self.visible_queryset(request, "view")
        ordering = self.get_ordering(request)
        if ordering:
            qs = qs.order_by(*ordering)
        return qs

    def _hidden_or_missing(self, request, object_id) -> bool:
        """True when ``object_id`` is not among the rows ``request.user`` may see.

        ``get_object`` filters ``get_queryset`` (the visibility rule) and answers
        None for a malformed id too, so all three cases read the same.
        """
        return self.get_object(request, unquote(object_id)) is None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Django asks has_view_or_change_permission(request, None) before it finds
        # out that the object is missing, so a user without any visible row would
        # get 403 for a hidden patient and for a missing one alike, while a user
        # with some rows gets the "doesn't exist" redirect. Answer the redirect
        # first, for everyone: hidden reads as missing.
        if object_id is not None and self._hidden_or_missing(request, object_id):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        # simple-history falls back to the latest historical row when the object
        # is not in get_queryset and then answers 403, which would reveal that a
        # hidden patient exists. Hidden reads as missing.
        if self._hidden_or_missing(request, object_id):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # The page of one historical version loads the row straight from the
        # history table; check the live object against the visibility rule first.
        if self._hidden_or_missing(request, object_id):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)
