"""``ClinicModelAdmin``: the one composed base every ModelAdmin here extends.

It combines django-import-export's ``ImportExportMixin`` (import/export views,
gated by ``import_<model>``/``export_<model>`` permissions; an export holds the
rows the changelist shows, formulas neutralized) and ``ExportActionMixin``
("Export selected"), simple-history's
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
- History is read-only (``admin_ext.history.ReadOnlyHistoryMixin``): history and
  version pages answer GET only and show a version as text; nothing is reverted.
- Sensitive fields (``sensitive_fields = {"ssn": "clinic.view_ssn"}``, see
  ``admin_ext.sensitive``) cannot be filtered, sorted or searched by users without
  their permission, here or through relations from another changelist.
- Nothing is deleted through the admin: patients are archived, doctors made
  inactive. Delete stays off for everyone, superusers included, so no path
  bypasses the services.

django-guardian's ``GuardedModelAdminMixin`` is deliberately not mixed in: its
object-permission page would grant access without a service (no reason, no
history); grants come from assignments (``clinic.services``).
"""

from django import forms
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils.text import get_text_list
from import_export.admin import ExportActionMixin, ImportExportMixin
from import_export.formats.base_formats import CSV
from import_export.signals import post_export
from simple_history.admin import SimpleHistoryAdmin

from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access
from admin_ext.changelists import changelist_with
from admin_ext.export_form import LabelledExportForm
from admin_ext.exports import check_in_memory_export, escape_formulae, stream_csv
from admin_ext.history import ReadOnlyHistoryMixin
from admin_ext.imports.mixins import ImportJobAdminMixin
from admin_ext.imports.storage import DatabaseUploadAdminMixin
from admin_ext.pagination import CountingPaginator, KeysetChangeListMixin
from admin_ext.selection import ValidSelectionMixin
from admin_ext.sensitive import SensitiveFieldsMixin

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


def add_service_error(form, error: ValidationError) -> None:
    """Show a service's ``ValidationError`` on ``form``: on its field where the form has
    that field, else above the form (a rule about a read-only or hidden field)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class ReasonForm(forms.ModelForm):
    """A ModelForm with an optional "reason for change" kept in the history row."""

    change_reason = forms.CharField(
        label="Reason for change",
        required=False,
        max_length=500,
        # The admin's class for text boxes, so the theme draws it as the others.
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text="Kept in the record's history. Left empty, the changed fields are listed.",
    )


class ClinicModelAdmin(
    # A malformed action selection or autocomplete value is no choice, not a 500
    # (admin_ext.selection).
    ValidSelectionMixin,
    SensitiveFieldsMixin,
    # Uploads wait in the database, owned and expiring (admin_ext.imports.storage).
    DatabaseUploadAdminMixin,
    # Import jobs, formats read from the content, "valid rows only" (admin_ext.imports.mixins).
    ImportJobAdminMixin,
    ImportExportMixin,
    ExportActionMixin,
    ReadOnlyHistoryMixin,
    SimpleHistoryAdmin,
):
    """Base ModelAdmin: import/export, history, service writes, one visibility rule.

    Subclasses set the usual declarations and implement ``write``.
    """

    form = ReasonForm
    list_per_page = 50
    # A history list is paged like a changelist (simple-history option).
    history_list_per_page = 50

    # -- writes -----------------------------------------------------------------

    def write(self, request, obj, reason: str):
        """Save ``obj`` through its service. Subclasses implement it (or override
        ``save_model`` when their service takes more than a reason from the form).

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

    # -- import and export (resources: admin_ext.imports.resources, clinic.resources) -------

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

    # Export follows the changelist: import-export's export view builds its queryset
    # through a ChangeList from the request's query string (get_export_queryset), so
    # the visibility rule, search, list filters, lookup_allowed and ordering are the
    # list's own. The query string travels in the Export link and in the export
    # form's action (templates/admin/import_export/export.html, which fixes jazzmin
    # issue #685: its form posted to the bare export URL and exported every row).
    # "Export selected" is import-export's ExportActionMixin action, offered to
    # holders of the export permission; its rows are the ticked ones among the list's.
    #
    # ExportActionMixin's change-form Export button is left off: it would export
    # only after saving the form, writing a history row for a read. Its change-form
    # template goes with it, so Django's lookup (admin/<app>/<model>/change_form.html)
    # finds the project's overrides again.
    change_form_template = None
    show_change_form_export = False
    # Field checkboxes labelled by the model's verbose names (admin_ext.export_form).
    export_form_class = LabelledExportForm

    def export_admin_action(self, request, queryset):
        # "Select all N" ticks the whole filtered list: that is the list's own
        # export, without N hidden ids on the form (a million for all patients).
        if request.POST.get("select_across") == "1":
            export = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_export")
            query = request.GET.urlencode()
            return HttpResponseRedirect(f"{export}?{query}" if query else export)
        return super().export_admin_action(request, queryset)

    def export_action(self, request):
        # The changelist answers a malformed filter by redirecting to its "?e=1"
        # error page; its export does the same instead of a server error.
        try:
            return super().export_action(request)
        except IncorrectLookupParameters:
            changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            return HttpResponseRedirect(f"{changelist}?{ERROR_FLAG}=1")

    def get_valid_export_item_pks(self, request):
        # The choices of the "Export selected" form's hidden export_items field.
        # import-export's default (a deprecated hook) lists every pk in the table,
        # a million ids per export; they never decided what is exported anyway:
        # the ticked ids only narrow get_export_queryset (visibility and filters),
        # so an id the user may not see exports nothing.
        return request.POST.getlist("export_items")

    def get_data_for_export(self, request, queryset, **kwargs):
        """The export dataset, with spreadsheet formulas neutralized (``admin_ext.exports``)."""
        return escape_formulae(super().get_data_for_export(request, queryset, **kwargs))

    def _do_file_export(self, file_format, request, queryset, export_form=None):
        """The export file's response: CSV streamed, other formats (XLSX) built in memory.

        import-export 4.4.3 builds every export here as one Dataset of all rows, then
        the whole file (``get_export_data``). Both the list's Export and "Export
        selected" end here, with the queryset already narrowed to the list's rows
        (``get_export_queryset``) and, for the action, to the ticked ones.

        - CSV: a ``StreamingHttpResponse`` written while it is sent
          (``admin_ext.exports.stream_csv``): the same bytes, file name and content
          type as the library's, in flat memory and a constant number of queries.
        - Other formats: the library's in-memory path, refused above
          ``settings.EXPORT_MAX_XLSX_ROWS`` rows with ``ExportTooLarge``, a
          ``ValueError`` that ``export_action`` shows on the export form.
        """
        if not isinstance(file_format, CSV):
            check_in_memory_export(queryset, file_format)
            response = super()._do_file_export(file_format, request, queryset, export_form)
            self.log_export(request, queryset, file_format, export_form)
            return response
        if not self.has_export_permission(request):  # as the library's get_export_data
            raise PermissionDenied
        # The arguments the library's get_data_for_export builds the Resource from and
        # passes to every widget's render(), so each cell renders as it did.
        kwargs = {"force_native_type": False, "encoding": self.to_encoding}
        kwargs["export_form"] = export_form
        resource_class = self.choose_export_resource_class(export_form, request)
        resource = resource_class(**self.get_export_resource_kwargs(request, **kwargs))
        chunks = stream_csv(
            resource,
            queryset,
            export_fields=self.get_export_resource_fields_from_form(export_form),
            **kwargs,
        )
        if self.to_encoding:
            chunks = (chunk.encode(self.to_encoding) for chunk in chunks)
        response = StreamingHttpResponse(chunks, content_type=file_format.get_content_type())
        filename = self.get_export_filename(request, queryset, file_format)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        # Before the first row is sent: a download cut short still leaves its row.
        self.log_export(request, queryset, file_format, export_form, resource=resource)
        post_export.send(sender=None, model=self.model)
        return response

    def log_export(self, request, queryset, file_format, export_form=None, *, resource=None):
        """Write the export's one ``export`` access-log row; returns it (DESIGN.md,
        "Audit": an export is logged with its row count and the filter used).

        Args: the export request; ``queryset``, the rows exported (counted here, one
        ``COUNT`` query); the import-export format instance; the export form (the
        fields chosen); ``resource``, the Resource instance that writes the file, or
        None to make one as the library does. The row names the model (a proxy's
        concrete model) and no object; its ``detail`` is ``{"rows": int, "filter":
        the request's query string (the list's search and filters), "format":
        "csv" | "xlsx" | ...}``, plus ``"<field>": "unmasked"`` for each of the
        admin's ``sensitive_fields`` that the file holds and the user may see (the
        Resource writes it unmasked to holders of its permission, as the list
        shows it), so one row tells an auditor that SSNs left in a file; no
        separate ``ssn_reveal`` row is written per exported record.
        """
        if resource is None:
            resource_class = self.choose_export_resource_class(export_form, request)
            resource = resource_class(
                **self.get_export_resource_kwargs(request, export_form=export_form)
            )
        detail = {
            "rows": queryset.count(),
            "filter": request.GET.urlencode(),
            "format": file_format.get_extension(),
        }
        selected = self.get_export_resource_fields_from_form(export_form)
        exported = {field.attribute for field in resource.get_export_fields(selected)}
        for name, permission in self.sensitive_fields.items():
            if name in exported and request.user.has_perm(permission):
                detail[name] = "unmasked"
        return log_access(
            action=AccessLog.Action.EXPORT, request=request, model=self.model, detail=detail
        )

    # -- pagination (admin_ext.pagination) ---------------------------------------
    # A million patients: the counts stop at CountingPaginator.count_cap rows
    # (above it the planner's estimate, shown as "about N") and long lists are
    # paged by key, so page 5,000 costs what page 1 costs.
    paginator = CountingPaginator

    def get_changelist(self, request, **kwargs):
        return changelist_with(KeysetChangeListMixin, super().get_changelist(request, **kwargs))

    # -- reads ------------------------------------------------------------------

    def visible_queryset(self, request, action: str = "view"):
        """Rows ``request.user`` may ``action``: the manager's ``visible_to`` rule if any.

        Built once per request, model and action: a page asks for it several times
        (permission hooks, the list, its filters), and for a doctor building the
        rule's grant subqueries costs more than running them. The queryset is
        lazy and callers only derive from it, so sharing it is safe.
        """
        cache = request.__dict__.setdefault("_clinic_visible", {})
        key = (self.model, action)
        if key not in cache:
            manager = self.model._default_manager
            if hasattr(manager, "visible_to"):
                cache[key] = manager.visible_to(request.user, action)
            else:
                qs = manager.get_queryset()
                cache[key] = qs if self._has_model_perm(request, action) else qs.none()
        return cache[key]

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
            # Asked several times per page (view, change, history links, inlines):
            # one query per object and action per request.
            cache = request.__dict__.setdefault("_clinic_object_visible", {})
            key = (self.model, action, obj.pk)
            if key not in cache:
                cache[key] = self.visible_queryset(request, action).filter(pk=obj.pk).exists()
            return cache[key]
        # Without an object: may the user reach the changelist at all? Cached per
        # request because the admin asks this for every menu entry it draws. A
        # manager's reachable_by asks the grant tables only; building and running
        # the whole visibility rule here cost a doctor's list page ~20 ms.
        cache = request.__dict__.setdefault("_clinic_any_visible", {})
        key = (self.model, action)
        if key not in cache:
            manager = self.model._default_manager
            if hasattr(manager, "reachable_by"):
                cache[key] = manager.reachable_by(request.user, action)
            else:
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
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            # The service refused a save the form had accepted (a rule only the
            # service can check under its lock, such as a concurrent change). The
            # transaction is rolled back; render the form again with the error and
            # the user's input, as for any invalid form, instead of a 500.
            if request.method != "POST" or self.service_error(request) is not None:
                raise
            request._service_error = error
            return super().changeform_view(request, object_id, form_url, extra_context)

    @staticmethod
    def service_error(request) -> ValidationError | None:
        """The service's refusal that this request's form is being shown again for, if any.

        Set by ``changeform_view``; a subclass may adapt the form to it (the patient
        form offers its duplicate confirmation only after that refusal).
        """
        return getattr(request, "_service_error", None)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        error = self.service_error(request)
        if error is None:
            return form_class

        class ServiceErrorForm(form_class):
            def clean(self):
                cleaned = super().clean()
                add_service_error(self, error)
                return cleaned

        return ServiceErrorForm

    def has_manage_permission(self, request):
        """Model-wide change permission (``<app>.change_<model>``), never a per-object grant.

        Actions that move records between people or queues (archive, assign)
        declare ``permissions=["manage"]``: a doctor who may change their own
        patients must not give them away.
        """
        return self._has_model_perm(request, "change")
