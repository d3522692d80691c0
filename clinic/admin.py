"""Admin for organizations, doctors and patients, plus the patient work queues."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils.text import capfirst
from django.utils.translation import ngettext
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper

from admin_ext.admin import REASON_FIELD, ClinicModelAdmin, ReasonForm
from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access, log_access_many
from admin_ext.imports.mixins import JobConfirmImportForm, JobImportForm
from clinic import resources, services
from clinic.admin_sharing import PatientSharingMixin
from clinic.admin_synthea import SyntheaFolderImportMixin
from clinic.filters import ArchivedListFilter, PatientListFilter, UnassignedListFilter
from clinic.models import (
    ArchivedPatient,
    Doctor,
    Organization,
    Patient,
    UnassignedPatient,
    mask_ssn,
)


@admin.register(Organization)
class OrganizationAdmin(ClinicModelAdmin):
    resource_classes = [resources.OrganizationResource, resources.SyntheaOrganizationResource]
    list_display = ["name", "city", "state", "zip", "phone", "doctor_count"]
    list_filter = ["state"]
    # Declared, not left to Meta.ordering: the doctor count makes the query grouped,
    # and Django drops a model's default ordering from grouped queries, so the
    # autocomplete view would page an unordered list (UnorderedObjectListWarning).
    ordering = ["name", "id"]
    search_fields = ["name", "city", "=external_id"]
    fieldsets = [
        (None, {"fields": ["name", "external_id"]}),
        ("Contact", {"fields": ["address", "city", "state", "zip", "phone"]}),
    ]

    def get_queryset(self, request):
        # Annotated here so the changelist shows counts without a query per row.
        return super().get_queryset(request).annotate(_doctor_count=Count("doctors"))

    @admin.display(description="Doctors", ordering="_doctor_count")
    def doctor_count(self, obj):
        return obj._doctor_count

    def write(self, request, obj, reason):
        return services.organization_save(organization=obj, actor=request.user, reason=reason)


class DoctorPatientInline(admin.TabularInline):
    """The doctor's patients, read-only, limited to patients the viewer may see."""

    model = Patient
    fk_name = "primary_doctor"
    fields = ["mrn", "first_name", "last_name", "birth_date", "status"]
    readonly_fields = fields
    show_change_link = True
    extra = 0
    max_num = 0
    can_delete = False
    classes = ["collapse"]
    verbose_name_plural = "Patients (primary doctor)"

    def get_queryset(self, request):
        return Patient.objects.visible_to(request.user).order_by("last_name", "first_name")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True


def doctor_label(doctor: Doctor) -> str:
    """How a doctor reads in a picker: ``"Dr. Ann Lee (Cardiology, Boston Clinic)"``.

    The specialty and the site's name, whichever are known (``"Dr. Ann Lee"`` with
    neither). Reads ``doctor.organization``: select it with the doctors (no query
    per option).
    """
    details = [doctor.specialty, doctor.organization.name if doctor.organization else ""]
    details = [d for d in details if d]
    return f"{doctor} ({', '.join(details)})" if details else str(doctor)


class DoctorChoiceField(forms.ModelChoiceField):
    """A doctor picker whose options read as :func:`doctor_label`."""

    def label_from_instance(self, obj):
        return doctor_label(obj)


@admin.register(Doctor)
class DoctorAdmin(ClinicModelAdmin):
    resource_classes = [resources.DoctorResource, resources.SyntheaProviderResource]
    list_display = [
        "last_name",
        "first_name",
        "specialty",
        "organization",
        "active",
        "user",
        "patient_count",
    ]
    list_filter = ["active", "specialty", "gender"]
    # Declared for the same reason as OrganizationAdmin.ordering (the patient count).
    ordering = ["last_name", "first_name", "id"]
    list_select_related = ["organization", "user"]
    search_fields = ["last_name", "first_name", "=external_id", "email", "organization__name"]
    autocomplete_fields = ["organization", "user"]
    inlines = [DoctorPatientInline]
    fieldsets = [
        (None, {"fields": ["first_name", "last_name", "gender", "specialty", "external_id"]}),
        ("Practice", {"fields": ["organization", "active", "user"]}),
        ("Contact", {"fields": ["email", "phone", "address", "city", "state", "zip"]}),
    ]

    def get_queryset(self, request):
        # Count only the patients the viewer may see, in the same query.
        visible = Patient.objects.visible_to(request.user).values("pk")
        return (
            super()
            .get_queryset(request)
            .select_related("organization", "user")
            .annotate(_patient_count=Count("patients", filter=Q(patients__in=visible)))
        )

    @admin.display(description="Patients", ordering="_patient_count")
    def patient_count(self, obj):
        return obj._patient_count

    # Results of the doctor autocomplete (admin_ext.site.LabelledAutocompleteJsonView),
    # from get_queryset, which selects the organization.
    autocomplete_label = staticmethod(doctor_label)

    def get_historical_record_context_helper(self, request, historical_record):
        """Diffs with an empty organization or login shown as "—"."""
        return HistoryHelper(self.model, historical_record)

    def write(self, request, obj, reason):
        return services.doctor_save(doctor=obj, actor=request.user, reason=reason)


class HistoryHelper(HistoricalRecordContextHelper):
    """simple-history's diff formatter for our history pages.

    - An empty foreign key shows as "—": simple-history shows a null foreign key
      as "Deleted <model> (pk=None)", which reads as if a doctor had been deleted.
    - ``mask_ssn=True`` masks the old and new SSN (users without ``clinic.view_ssn``).
    """

    def __init__(self, model, historical_record, *, mask_ssn: bool = False, **kwargs):
        super().__init__(model, historical_record, **kwargs)
        self.mask_ssn = mask_ssn

    def prepare_delta_change_value(self, change, value):
        """Mask SSNs when asked, blank out empty foreign keys, else simple-history's value."""
        if change.field == "ssn" and self.mask_ssn:
            return mask_ssn(value or "")
        if isinstance(value, DeletedObject) and value.pk is None:
            return "—"
        return super().prepare_delta_change_value(change, value)


MSG_STALE_MERGED = (
    "The form now shows their values where you had made no change and yours where you had: "
    "check it and save again."
)


class PatientForm(ReasonForm):
    """The patient form; the service's rules show on it.

    - ``version`` carries the record's version as the page showed it. A save from
      a page opened before someone else's save is refused with a message naming
      what they changed and who (``services.stale_record_error``); the form then shows their
      values in the fields this user had not touched and keeps this user's input
      in the others (a three-way merge against the version the page showed), and
      carries the current version, so a second save keeps both changes.
    - ``confirm_not_duplicate`` is the explicit confirmation the service asks for
      when a new patient matches a registered one (``LikelyDuplicateError``).
    - A newly chosen inactive primary doctor is refused on the field.
    """

    # Not named "version": Django refuses a non-editable model field in a ModelForm.
    seen_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    confirm_not_duplicate = forms.BooleanField(
        label="Not a duplicate: register anyway",
        required=False,
        help_text="Tick only after checking the patients named above; "
        "the confirmation is kept in the history.",
    )

    class Meta:
        model = Patient
        fields = "__all__"
        widgets = {"ssn": forms.TextInput(attrs={"autocomplete": "off", "class": "vTextField"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        doctor = self.fields.get("primary_doctor")
        if doctor is not None:
            # The chosen doctor reads as the autocomplete's results do.
            doctor.label_from_instance = doctor_label
            doctor.queryset = doctor.queryset.select_related("organization")
        if self.instance.pk and "seen_version" in self.fields:
            self.fields["seen_version"].required = True
            self.initial["seen_version"] = self.instance.version

    def clean(self):
        cleaned = super().clean()
        self._check_version(cleaned.get("seen_version"))
        if "primary_doctor" in cleaned:
            try:
                services.primary_doctor_check(
                    doctor=cleaned["primary_doctor"],
                    previous_doctor_id=self.instance.primary_doctor_id
                    if self.instance.pk
                    else None,
                )
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        # The instance carries the version the user saw; patient_save compares it
        # with the stored one under a row lock.
        if self.instance.pk and self.cleaned_data.get("seen_version"):
            self.instance.version = self.cleaned_data["seen_version"]

    def _check_version(self, seen: int | None) -> None:
        current = self.instance
        if not current.pk or seen is None or seen == current.version:
            return
        stale = services.stale_record_error(patient_id=current.pk, version=seen)
        self.add_error(None, ValidationError(f"{stale.message} {MSG_STALE_MERGED}", code="stale"))
        base = current.history.filter(version=seen).order_by("-history_date").first()
        data = self.data.copy()
        for name, field in self.fields.items():
            if name in ("seen_version", REASON_FIELD, "confirm_not_duplicate") or name not in data:
                continue
            model_field = Patient._meta.get_field(name)
            theirs = getattr(current, model_field.attname)
            seen_value = getattr(base, model_field.attname) if base else theirs
            mine = self.cleaned_data.get(name, field.initial)
            mine = getattr(mine, "pk", mine)
            if mine == seen_value and theirs != seen_value:
                data[name] = "" if theirs is None else field.prepare_value(theirs)
        data["seen_version"] = str(current.version)
        self.data = data


class PatientImportForm(JobImportForm):
    """import-export's upload form plus the explicit duplicate confirmation."""

    confirm_not_duplicate = forms.BooleanField(
        label="Create likely duplicates as new patients",
        required=False,
        help_text="Tick only after checking the MRNs a preview named as likely duplicates.",
    )


class PatientConfirmImportForm(JobConfirmImportForm):
    """import-export's confirm form, carrying the confirmation from the preview."""

    confirm_not_duplicate = forms.BooleanField(required=False, widget=forms.HiddenInput)


class AssignDoctorForm(forms.Form):
    """Intermediate page of the "Assign primary doctor…" action."""

    doctor = DoctorChoiceField(
        queryset=Doctor.objects.active().select_related("organization"),
        label="Primary doctor",
    )
    reason = forms.CharField(
        max_length=500,
        initial="Primary doctor assigned",
        help_text="Kept in each patient's history.",
    )


@admin.register(Patient)
class PatientAdmin(SyntheaFolderImportMixin, PatientSharingMixin, ClinicModelAdmin):
    form = PatientForm
    resource_classes = [resources.PatientResource, resources.SyntheaPatientResource]
    list_display = [
        "mrn",
        "last_name",
        "first_name",
        "birth_date",
        "gender",
        "ssn",
        "primary_doctor",
        "city",
        "state",
        "status",
    ]
    list_display_links = ["mrn", "last_name"]
    # One FilterSet (clinic.filters) draws and applies the filters, after the
    # visibility rule; the export follows the list, so it follows them too.
    list_filter = [PatientListFilter]
    # One query for the page: the doctor comes with the patient.
    list_select_related = ["primary_doctor"]
    search_fields = ["=mrn", "last_name", "first_name", "=external_id"]
    search_help_text = "Search by MRN, last or first name, or external ID."
    # Nobody without view_ssn filters, sorts or searches by SSN (admin_ext.sensitive).
    sensitive_fields = {"ssn": "clinic.view_ssn"}
    autocomplete_fields = ["primary_doctor"]
    # No date hierarchy on the whole list: its year links cost a pass over every
    # row the list holds (MIN/MAX, then DISTINCT years) on each page view.
    date_hierarchy = None
    readonly_fields = ["mrn", "masked_ssn", "created_at", "created_by", "updated_at", "updated_by"]
    actions = ["archive_patients", "assign_primary_doctor", "share_access"]
    # Only staff who manage all patients change these; a doctor sees them read-only
    # (and patient_save refuses them from anyone else).
    managed_fields = services.MANAGED_PATIENT_FIELDS

    # One page in sections (admin_ext/jazzmin.py: changeform_format "single"), each
    # line a grid row with its labels above the boxes (admin_ext/backoffice.css), at
    # most four fields a line so that a tablet keeps them on one.
    fieldsets = [
        (
            "Name",
            {
                "fields": [
                    ("first_name", "middle_name", "last_name"),
                    ("prefix", "suffix", "maiden_name"),
                ]
            },
        ),
        ("Identifiers", {"fields": [("mrn", "external_id", "ssn")]}),
        (
            "Demographics",
            {
                "fields": [
                    ("birth_date", "death_date", "gender"),
                    ("marital_status", "race", "ethnicity"),
                ]
            },
        ),
        ("Address", {"fields": ["address", ("city", "county", "state", "zip")]}),
        ("Care", {"fields": [("primary_doctor", "status")]}),
        ("Record", {"fields": [("created_at", "created_by"), ("updated_at", "updated_by")]}),
    ]

    @staticmethod
    def may_see_ssn(request) -> bool:
        """Whether ``request.user`` may see unmasked SSNs (``clinic.view_ssn``)."""
        return request.user.has_perm("clinic.view_ssn")

    @staticmethod
    def may_enter_ssn(request, obj) -> bool:
        """Whether the form takes an SSN from ``request.user``: with ``clinic.view_ssn``,
        or on the add page with ``clinic.enter_ssn`` (write-only: masked after save)."""
        return PatientAdmin.may_see_ssn(request) or (
            obj is None and request.user.has_perm("clinic.enter_ssn")
        )

    def get_fieldsets(self, request, obj=None):
        """The declared fieldsets, adjusted to the viewer and the step.

        - the masked SSN instead of the input for users who may not enter one;
        - the hidden ``seen_version`` beside the reason, for users who may save;
        - when the service refused the save as a likely duplicate, the
          confirmation box in the first section, right under the warning.
        """
        ssn_input = self.may_enter_ssn(request, obj)
        refused_as_duplicate = isinstance(
            self.service_error(request), services.LikelyDuplicateError
        )

        def shown(name):
            return name if name != "ssn" or ssn_input else "masked_ssn"

        adjusted = []
        # A fresh structure: the class attribute is shared by every request.
        for index, (name, opts) in enumerate(super().get_fieldsets(request, obj)):
            fields = [
                tuple(shown(f) for f in line) if isinstance(line, tuple) else shown(line)
                for line in opts["fields"]
            ]
            if index == 0 and refused_as_duplicate:
                fields.insert(0, "confirm_not_duplicate")
            if REASON_FIELD in fields and obj is not None:
                fields.append("seen_version")
            adjusted.append((name, {**opts, "fields": fields}))
        return adjusted

    def get_exclude(self, request, obj=None):
        """Leave the SSN out of the form for users who may not enter it."""
        exclude = list(super().get_exclude(request, obj) or [])
        if not self.may_enter_ssn(request, obj):
            # Without view_ssn the SSN never reaches the page, not even as a hidden
            # input. (Passing exclude= to get_form would replace the readonly fields
            # Django excludes there, so it goes through this hook instead.)
            exclude.append("ssn")
        return exclude

    def get_readonly_fields(self, request, obj=None):
        """The managed fields read-only for users who change patients only per object."""
        readonly = list(super().get_readonly_fields(request, obj))
        if not self.has_manage_permission(request):
            readonly += [name for name in self.managed_fields if name not in readonly]
        return readonly

    def get_list_display(self, request):
        """The columns, with the SSN masked for users without ``clinic.view_ssn``."""
        ssn = "ssn" if self.may_see_ssn(request) else "masked_ssn"
        return [ssn if name == "ssn" else name for name in super().get_list_display(request)]

    @admin.display(description="SSN")
    def masked_ssn(self, obj):
        return mask_ssn(obj.ssn) if obj else ""

    def get_historical_record_context_helper(self, request, historical_record):
        """simple-history's diff formatter, masking SSN values without view_ssn."""
        return HistoryHelper(self.model, historical_record, mask_ssn=not self.may_see_ssn(request))

    # -- access log (admin_ext.audit; HIPAA 45 CFR 164.312(b): reads of PHI are logged) --
    # Each row is written after the admin's view has returned (outside the change
    # view's transaction) and before the page is rendered, so a page that fails
    # while rendering or sending still leaves its row. The work queues (unassigned,
    # archived) inherit these: their rows name the concrete Patient.

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """The change page; a GET that shows a patient writes a ``view`` row, and an
        ``ssn_reveal`` row (``detail={"page": "change"}``) when the patient has an SSN
        and the page shows it unmasked (``clinic.view_ssn``: the SSN field instead of
        the masked one).

        None for the add page or a hidden or missing patient (the "doesn't exist"
        redirect), and none for a POST: a save is in the record's history, and a
        refused one shows the patient the GET before it logged.
        """
        response = super().changeform_view(request, object_id, form_url, extra_context)
        context = getattr(response, "context_data", None) or {}
        patient = context.get("original")
        if request.method == "GET" and object_id is not None and patient is not None:
            log_access(action=AccessLog.Action.VIEW, request=request, obj=patient)
            if patient.ssn and "ssn" in flatten_fieldsets(context["adminform"].fieldsets):
                self._log_ssn_reveal(request, patient, {"page": "change"})
        return response

    def changelist_view(self, request, extra_context=None):
        """The list; a search writes one ``search`` row per patient on the page shown.

        The rule: a GET whose list is narrowed by a search term (``q``) or any
        filter (a list filter or a lookup in the query string) is a search, and
        each patient on the page it shows gets a row (one ``INSERT``), with
        ``detail={"filter": the query string}``. The plain list, on any page and
        in any order, writes none: it is the viewer's own worklist, every row of
        which the visibility rule already grants them, while a search looks for
        particular people. POSTs (actions) write none here; an export is logged
        by the export itself (``ClinicModelAdmin.log_export``).
        """
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if request.method == "GET" and changelist is not None:
            if changelist.is_narrowed:
                log_access_many(
                    action=AccessLog.Action.SEARCH,
                    request=request,
                    objects=list(changelist.result_list),
                    detail={"filter": request.GET.urlencode()},
                )
        return response

    def render_history_view(self, request, template, context, **kwargs):
        """The history list and version pages: a ``view_history`` row for the patient
        (a version page's with ``detail={"version": history id}``), and an
        ``ssn_reveal`` row when the page shows an SSN unmasked, written just before
        the page renders (simple-history renders inside its view).

        Both pages reach here only for a patient the user may read, on GET or
        HEAD (``admin_ext.history``); HEAD, which shows nothing, writes none.
        """
        if request.method == "GET":
            patient, record = context["object"], context.get("record")
            detail = {"version": record.pk} if record is not None else {}
            log_access(
                action=AccessLog.Action.VIEW_HISTORY, request=request, obj=patient, detail=detail
            )
            if self._history_shows_ssn(request, context):
                page = {"page": "version", **detail} if record is not None else {"page": "history"}
                self._log_ssn_reveal(request, patient, page)
        return super().render_history_view(request, template, context, **kwargs)

    def _history_shows_ssn(self, request, context) -> bool:
        """Whether a history page shows an SSN unmasked: a version page whose version
        has one among its fields, or a history list whose page of diffs changes one
        (unmasked for ``clinic.view_ssn`` holders, ``HistoryHelper``)."""
        if "adminform" in context:
            shown = flatten_fieldsets(context["adminform"].fieldsets)
            return "ssn" in shown and bool(context["original"].ssn)
        if not self.may_see_ssn(request):
            return False
        label = capfirst(Patient._meta.get_field("ssn").verbose_name)  # as the diff names it
        records = context["page_obj"].object_list
        return any(
            change["field"] == label
            for record in records
            for change in getattr(record, "history_delta_changes", ())
        )

    @staticmethod
    def _log_ssn_reveal(request, patient, detail: dict) -> None:
        log_access(action=AccessLog.Action.SSN_REVEAL, request=request, obj=patient, detail=detail)

    import_form_class = PatientImportForm
    confirm_form_class = PatientConfirmImportForm

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["confirm_not_duplicate"] = import_form.cleaned_data["confirm_not_duplicate"]
        return initial

    def get_import_data_kwargs(self, **kwargs):
        """The upload's (or the confirm step's) duplicate confirmation goes to the Resource."""
        form = kwargs.get("form")
        confirmed = bool(form and form.cleaned_data.get("confirm_not_duplicate"))
        return {**super().get_import_data_kwargs(**kwargs), "confirmed_not_duplicate": confirmed}

    def save_model(self, request, obj, form, change):
        """Save through ``patient_save`` with the form's duplicate confirmation."""
        services.patient_save(
            patient=obj,
            actor=request.user,
            reason=self.change_reason(request, form, change),
            confirmed_not_duplicate=form.cleaned_data.get("confirm_not_duplicate", False),
        )

    # -- actions ----------------------------------------------------------------

    def _apply(self, request, queryset, write) -> int:
        """Call ``write(patient)`` for each patient the user may change; return the count.

        A ``ValidationError`` from the service becomes an error message naming the
        patient (never a 500); the other patients are still written, each in its
        own transaction, as the service runs one per call.
        """
        done = 0
        for patient in queryset:
            if not self.has_change_permission(request, patient):
                continue
            try:
                write(patient)
            except ValidationError as exc:
                self.message_user(request, f"{patient}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                done += 1
        return done

    @admin.action(description="Archive selected patients", permissions=["manage"])
    def archive_patients(self, request, queryset):
        """Archive the selected active patients through ``services.patient_archive``."""
        archived = self._apply(
            request,
            queryset.filter(status=Patient.Status.ACTIVE),
            lambda patient: services.patient_archive(
                patient=patient, actor=request.user, reason="Archived in admin"
            ),
        )
        self.message_user(
            request,
            ngettext("Archived %d patient.", "Archived %d patients.", archived) % archived,
            messages.SUCCESS,
        )

    @admin.action(description="Assign primary doctor…", permissions=["manage"])
    def assign_primary_doctor(self, request, queryset):
        """Ask for the doctor on an intermediate page, then assign through the service."""
        form = AssignDoctorForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            doctor, reason = form.cleaned_data["doctor"], form.cleaned_data["reason"]
            done = self._apply(
                request,
                queryset.select_related("primary_doctor"),
                lambda patient: services.patient_assign_primary_doctor(
                    patient=patient, doctor=doctor, actor=request.user, reason=reason
                ),
            )
            self.message_user(
                request,
                ngettext(
                    "Assigned Dr. %(name)s to %(count)d patient.",
                    "Assigned Dr. %(name)s to %(count)d patients.",
                    done,
                )
                % {"name": doctor.full_name, "count": done},
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Assign primary doctor",
            "opts": self.opts,
            "form": form,
            "patients": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/clinic/assign_primary_doctor.html", context)


@admin.register(UnassignedPatient)
class UnassignedPatientAdmin(PatientAdmin):
    """Work queue: active patients with no primary doctor."""

    actions = ["assign_primary_doctor"]
    list_filter = [UnassignedListFilter]
    # Registered when? A work queue is kept short, so its year and month links
    # (a pass over the queue's rows) stay cheap, unlike on the whole list.
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).unassigned()

    def has_add_permission(self, request):
        return False

    def has_import_permission(self, request):
        return False

    def has_export_permission(self, request):
        # The queue's rows are patients: exporting them takes export_patient.
        return request.user.has_perm("clinic.export_patient")


@admin.register(ArchivedPatient)
class ArchivedPatientAdmin(PatientAdmin):
    """Archived patients; "Restore" returns them to the active list."""

    actions = ["restore_patients"]
    list_filter = [ArchivedListFilter]

    def get_queryset(self, request):
        return super().get_queryset(request).archived()

    def has_add_permission(self, request):
        return False

    def has_import_permission(self, request):
        return False

    def has_export_permission(self, request):
        # The queue's rows are patients: exporting them takes export_patient.
        return request.user.has_perm("clinic.export_patient")

    @admin.action(description="Restore selected patients", permissions=["manage"])
    def restore_patients(self, request, queryset):
        """Return the selected archived patients to active (``services.patient_restore``)."""
        restored = self._apply(
            request,
            queryset,
            lambda patient: services.patient_restore(
                patient=patient, actor=request.user, reason="Restored in admin"
            ),
        )
        self.message_user(
            request,
            ngettext("Restored %d patient.", "Restored %d patients.", restored) % restored,
            messages.SUCCESS,
        )
