"""Read-only history pages: ``ReadOnlyHistoryMixin``, for every ``SimpleHistoryAdmin`` here.

simple-history's page of one version (``<id>/history/<history_id>/``) is its revert
form: on POST it saves the version through the admin's ``save_form``/``save_model``
after checking only the *view* permission, and ``SIMPLE_HISTORY_REVERT_DISABLED``
merely hides the button. Anyone who may read a record's history could rewrite the
record (an auditor changing a patient, a user adding a role to their own login, a
doctor relinking doctor logins to take a colleague's patients). Reverting is also a
write without a service, reason or per-field rules. So here history is only read:

- The history list and version pages answer GET and HEAD; any other method is 405
  (Method Not Allowed) before anything else is looked at, for everyone, superusers
  included, whatever ``SIMPLE_HISTORY_REVERT_DISABLED`` says.
- The version page shows the version read-only, each field as text: no form, no
  inputs, no buttons. Its fields are the admin's own ``get_fieldsets`` for the user,
  so per-user rules there (a masked SSN) hold on version pages too.
- An object outside the admin's ``get_queryset``, or one the user may not view,
  reads as missing (Django's "doesn't exist" redirect), on both pages; a malformed
  object or version id on the version page is 404, as is a version of another object.
- Work-queue proxies of a historical model show the concrete model's history.
- "As of": the history list of a simple-history model offers a date (and optional
  time) and opens the version that was current then (:class:`AsOfForm`), so an
  auditor reads the record as it was on a given day.

Put the mixin before ``SimpleHistoryAdmin`` in the bases. On a plain ModelAdmin it
does the same for Django's own history page (the admin log): GET only, hidden as
missing.
"""

import datetime

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from simple_history.utils import get_history_model_for_model, get_m2m_reverse_field_name

#: The only methods history pages answer.
READ_METHODS = ("GET", "HEAD")


def _parse_id(field, value):
    """``value`` (from the URL) as ``field`` stores it; 404 when it cannot be one."""
    try:
        return field.to_python(value)
    except ValidationError as exc:
        raise Http404(f"Not a valid {field.verbose_name}.") from exc


def _historical_m2m(field, record):
    """A display callable: the objects ``field`` (many-to-many) held in ``record``.

    The version's own instance would read the relation live, showing today's roles
    on last year's version; the history keeps each version's rows in its m2m table.
    """
    target = get_m2m_reverse_field_name(field)

    def display(obj):
        rows = getattr(record, field.name).select_related(target).order_by(target)
        return ", ".join(str(getattr(row, target)) for row in rows) or None

    display.__name__ = field.name
    display.short_description = field.verbose_name
    return display


class AsOfForm(forms.Form):
    """The "as of" moment on a history list: a date, and a time that defaults to the
    end of that day, in the site's time zone (``TIME_ZONE``)."""

    as_of = forms.DateField(label="As of", widget=forms.DateInput(attrs={"type": "date"}))
    at = forms.TimeField(label="at", required=False, widget=forms.TimeInput(attrs={"type": "time"}))

    def moment(self) -> datetime.datetime:
        """The aware datetime asked for (call after ``is_valid()``)."""
        at = self.cleaned_data.get("at") or datetime.time.max
        return timezone.make_aware(datetime.datetime.combine(self.cleaned_data["as_of"], at))


class ReadOnlyHistoryMixin:
    """History list and version pages that only read (see the module docstring)."""

    object_history_form_template = "admin_ext/object_history_version.html"

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        opts, concrete = model._meta, model._meta.concrete_model._meta
        if opts.proxy and hasattr(concrete, "simple_history_manager_attribute"):
            # simple-history names its manager on the concrete model's options only,
            # so its history page fails (500) on a proxy; a proxy's rows and history
            # are the concrete model's.
            opts.simple_history_manager_attribute = concrete.simple_history_manager_attribute
        if self._history_model() is not None:
            # simple-history's list with the "as of" form above it.
            self.object_history_template = "admin_ext/object_history.html"

    def revert_disabled(self, request, obj=None):
        """Always: nothing is reverted from a history page (titles say "View")."""
        return True

    def readable_history_object(self, request, object_id):
        """The live object whose history ``request.user`` may read, else None.

        None alike for a missing object, one outside ``get_queryset`` and one the
        user may not view: hidden reads as missing. (simple-history falls back to
        the latest historical row for an object outside ``get_queryset`` and then
        answers 403, as Django's history page does for an object the user may not
        view; either would say the row exists.)
        """
        obj = self.get_object(request, unquote(str(object_id)))
        may_read = getattr(
            self,
            "has_view_history_or_change_history_permission",
            self.has_view_or_change_permission,
        )
        return obj if obj is not None and may_read(request, obj) else None

    def _history_model(self):
        """The simple-history model of this admin's model, or None (Django's log only)."""
        if not hasattr(self.opts.concrete_model._meta, "simple_history_manager_attribute"):
            return None
        return get_history_model_for_model(self.opts.concrete_model)

    def history_view(self, request, object_id, extra_context=None):
        """The list of versions (simple-history's, or Django's log), GET only.

        With ``?as_of=YYYY-MM-DD`` (and optionally ``&at=HH:MM``) it redirects to
        the version current at that moment; a moment before the record existed, or
        an invalid date, shows the list with a message.
        """
        if request.method not in READ_METHODS:
            return HttpResponseNotAllowed(READ_METHODS)
        obj = self.readable_history_object(request, object_id)
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        history_model = self._history_model()
        if history_model is None:
            return super().history_view(request, object_id, extra_context)
        form = AsOfForm(request.GET if "as_of" in request.GET else None)
        if form.is_bound:
            if form.is_valid():
                moment = form.moment()
                record = (
                    history_model._default_manager.filter(
                        **{self.opts.pk.attname: obj.pk}, history_date__lte=moment
                    )
                    .order_by("-history_date", "-history_id")
                    .first()
                )
                if record is not None:
                    url_name = (
                        f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}"
                    )
                    url = reverse(f"{url_name}_simple_history", args=[obj.pk, record.pk])
                    return HttpResponseRedirect(f"{url}?{urlencode({'as_of': moment.isoformat()})}")
                messages.warning(
                    request,
                    f"{obj} has no version as of {timezone.localtime(moment):%Y-%m-%d %H:%M}: "
                    "it was created later.",
                )
            else:
                messages.error(request, "Give the date as YYYY-MM-DD and the time as HH:MM.")
        context = {"as_of_form": form if form.is_bound else AsOfForm(), **(extra_context or {})}
        return super().history_view(request, object_id, context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """One version of the object, read-only. Replaces simple-history's revert form."""
        if request.method not in READ_METHODS:
            return HttpResponseNotAllowed(READ_METHODS)
        request.current_app = self.admin_site.name
        history_model = get_history_model_for_model(self.opts.concrete_model)
        pk = _parse_id(self.opts.pk, unquote(object_id))
        history_id = _parse_id(history_model._meta.pk, version_id)
        # The live object decides visibility: the version alone would show a row the
        # user may not see.
        obj = self.readable_history_object(request, pk)
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        record = get_object_or_404(
            history_model, **{self.opts.pk.attname: obj.pk, history_model._meta.pk.name: history_id}
        )
        version = record.instance
        version._state.adding = False

        fieldsets = self.get_history_version_fieldsets(request, version, record)
        # A form without fields: AdminForm needs one for labels; every field is shown
        # through AdminReadonlyField, as text.
        form = forms.modelform_factory(type(version), fields=[])(instance=version)
        adminform = helpers.AdminForm(
            form, fieldsets, {}, readonly_fields=flatten_fieldsets(fieldsets), model_admin=self
        )
        url_name = f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}"
        context = {
            **self.admin_site.each_context(request),
            "title": self.history_form_view_title(request, version),
            "subtitle": None,
            "adminform": adminform,
            "inline_admin_formsets": [],
            "object_id": object_id,
            "object": obj,
            "original": version,
            "record": record,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "changelist_url": reverse(f"{url_name}_changelist"),
            "change_url": reverse(f"{url_name}_change", args=[object_id]),
            "history_url": reverse(f"{url_name}_history", args=[object_id]),
            "is_popup": False,
            "add": False,
            "change": False,
            "revert_disabled": True,
            "as_of": self._as_of(request),
            "change_history": False,
            "has_view_permission": True,
            "has_add_permission": False,
            "has_change_permission": False,
            "has_delete_permission": False,
            **(extra_context or {}),
        }
        return self.render_history_view(request, self.object_history_form_template, context)

    @staticmethod
    def _as_of(request) -> datetime.datetime | None:
        """The moment the version page was opened for (``?as_of=``, ISO 8601), if any."""
        try:
            return datetime.datetime.fromisoformat(request.GET.get("as_of", ""))
        except ValueError:
            return None

    def get_history_version_fieldsets(self, request, version, record):
        """The admin's fieldsets for ``version``, reduced to what the history holds.

        Kept: model fields the history records (many-to-many ones as the objects the
        version held) and the admin's display fields (a masked SSN). Dropped:
        form-only fields (a reason for change: a version has none), fields the
        history excludes (their value on the instance would be today's, e.g. a
        password hash), reverse relations, and ``sensitive_fields`` the user may
        not see. Empty lines and fieldsets go too.
        """
        fieldsets = []
        for name, options in self.get_fieldsets(request, version):
            lines = []
            for line in options.get("fields", ()):
                names = [line] if isinstance(line, str) or callable(line) else line
                shown = [f for f in (self._history_field(request, n, record) for n in names) if f]
                if shown:
                    lines.append(shown[0] if len(shown) == 1 else tuple(shown))
            if lines:
                fieldsets.append((name, {**options, "fields": lines}))
        return fieldsets

    def _history_field(self, request, name, record):
        """What shows ``name`` on the version page, or None to leave it out."""
        if callable(name):
            return name
        # A sensitive field (admin_ext.sensitive) the admin's fieldsets left in for a
        # user without its permission: never its raw value on a version page.
        unlock = getattr(self, "sensitive_fields", {}).get(name)
        if unlock and not request.user.has_perm(unlock):
            return None
        try:
            field = self.opts.get_field(name)
        except FieldDoesNotExist:
            form_only = getattr(self.form, "declared_fields", {})
            return None if name in form_only else name
        if name in (record._history_excluded_fields or ()):
            return None
        if field.many_to_many:
            tracked = {f.name for f in record._history_m2m_fields}
            return _historical_m2m(field, record) if field.name in tracked else None
        return name if field.concrete else None


class AuditRecordAdminMixin(ReadOnlyHistoryMixin):
    """ModelAdmin mixin for records the app writes and nobody edits through the admin:
    login events, import jobs (DESIGN.md, "Audit": audit rows are append-only). No
    add, change or delete, superusers included; the history pages stay read-only.
    Viewing is the model's view permission, narrowed as the admin's queryset says.
    """

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
