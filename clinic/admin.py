"""Admin for organizations, doctors and patients, plus the patient work queues."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils.translation import ngettext
from simple_history.models import DeletedObject
from simple_history.template_utils import HistoricalRecordContextHelper

from admin_ext.admin import ClinicModelAdmin, ReasonForm
from clinic import resources, services
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


class PatientForm(ReasonForm):
    """The patient change form: the service's primary-doctor rule shows on the form."""

    class Meta:
        model = Patient
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
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


class AssignDoctorForm(forms.Form):
    """Intermediate page of the "Assign primary doctor…" action."""

    doctor = forms.ModelChoiceField(
        queryset=Doctor.objects.active().select_related("organization"),
        label="Primary doctor",
    )
    reason = forms.CharField(
        max_length=500,
        initial="Primary doctor assigned",
        help_text="Kept in each patient's history.",
    )


@admin.register(Patient)
class PatientAdmin(ClinicModelAdmin):
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
    list_filter = [
        "status",
        "gender",
        "marital_status",
        ("primary_doctor", admin.EmptyFieldListFilter),
    ]
    # One query for the page: the doctor comes with the patient.
    list_select_related = ["primary_doctor"]
    search_fields = ["=mrn", "last_name", "first_name", "=external_id"]
    search_help_text = "Search by MRN, last or first name, or external ID."
    autocomplete_fields = ["primary_doctor"]
    date_hierarchy = None
    readonly_fields = ["mrn", "masked_ssn", "created_at", "created_by", "updated_at", "updated_by"]
    actions = ["archive_patients", "assign_primary_doctor"]

    fieldsets = [
        (
            None,
            {
                "fields": [
                    "mrn",
                    ("prefix", "first_name", "middle_name", "last_name", "suffix"),
                    "maiden_name",
                    "external_id",
                ]
            },
        ),
        (
            "Demographics",
            {
                "fields": [
                    ("birth_date", "death_date"),
                    ("gender", "marital_status"),
                    ("race", "ethnicity"),
                    "ssn",
                ]
            },
        ),
        ("Address", {"fields": ["address", "city", "county", "state", "zip"]}),
        ("Care", {"fields": ["primary_doctor", "status"]}),
        ("Record", {"fields": [("created_at", "created_by"), ("updated_at", "updated_by")]}),
    ]

    @staticmethod
    def may_see_ssn(request) -> bool:
        """Whether ``request.user`` may see unmasked SSNs (``clinic.view_ssn``)."""
        return request.user.has_perm("clinic.view_ssn")

    def get_fieldsets(self, request, obj=None):
        """The declared fieldsets, with the masked SSN for users without view_ssn."""
        fieldsets = super().get_fieldsets(request, obj)
        if self.may_see_ssn(request):
            return fieldsets
        # A fresh structure: the class attribute is shared by every request.
        return [
            (
                name,
                {
                    **opts,
                    "fields": [
                        "masked_ssn" if field == "ssn" else field
                        for field in opts.get("fields", ())
                    ],
                },
            )
            for name, opts in fieldsets
        ]

    def get_exclude(self, request, obj=None):
        """Leave the SSN out of the form for users without ``clinic.view_ssn``."""
        exclude = list(super().get_exclude(request, obj) or [])
        if not self.may_see_ssn(request):
            # Without view_ssn the SSN never reaches the page, not even as a hidden
            # input. (Passing exclude= to get_form would replace the readonly fields
            # Django excludes there, so it goes through this hook instead.)
            exclude.append("ssn")
        return exclude

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

    def write(self, request, obj, reason):
        return services.patient_save(patient=obj, actor=request.user, reason=reason)

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

    @admin.action(description="Archive selected patients", permissions=["change"])
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

    @admin.action(description="Assign primary doctor…", permissions=["change"])
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
    list_filter = ["gender", "state"]

    def get_queryset(self, request):
        return super().get_queryset(request).unassigned()

    def has_add_permission(self, request):
        return False

    def has_import_permission(self, request):
        return False

    def has_export_permission(self, request):
        return False


@admin.register(ArchivedPatient)
class ArchivedPatientAdmin(PatientAdmin):
    """Archived patients; "Restore" returns them to the active list."""

    actions = ["restore_patients"]
    list_filter = ["gender"]

    def get_queryset(self, request):
        return super().get_queryset(request).archived()

    def has_add_permission(self, request):
        return False

    def has_import_permission(self, request):
        return False

    def has_export_permission(self, request):
        return False

    @admin.action(description="Restore selected patients", permissions=["change"])
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
