"""The patient lists' filters (django-filter): one ``PatientFilterSet``.

The patient changelist and its work queues (``clinic.admin``) draw and apply it
through ``admin_ext.filters.FilterSetListFilter``, so the list, its counts and
its export (built through the same ChangeList) hold the same rows.

Query parameters:

- ``age_min``, ``age_max``: whole years, 0 to 150, both included; age is counted
  today (``timezone.localdate()``) from the birth date, for deceased patients too;
- ``birth_date_after``, ``birth_date_before``: ``YYYY-MM-DD``, both days included;
- ``created_after``, ``created_before``: the day the record was created, both
  included, in ``TIME_ZONE``;
- ``doctor``: a primary doctor's id (chosen by the admin's autocomplete);
- ``has_doctor``: ``true`` or ``false``;
- ``specialty``: the primary doctor's specialty;
- ``organization``: the id of the primary doctor's site (autocomplete too);
- ``status``: a ``Patient.Status`` value; a viewer who sees patients only through
  grants (a doctor) sees active patients unless they ask for ``all`` or another
  status (issue 5, item 9);
- ``gender``: a ``Gender`` value; ``marital_status``: a ``Patient.MaritalStatus`` value;
- ``state``: the patient's state, any case.

Doctors and sites offered (and accepted) are those the viewer may view
(``clinic.view_doctor``, ``clinic.view_organization``); a filter never widens the
rows the visibility rule (``Patient.objects.visible_to``) gives the list, which
the admin applies before it. Invalid values are form errors
(``admin_ext.filters``).
"""

import datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from admin_ext.filters import AutocompleteFilterSelect, FilterSetListFilter
from clinic.models import Doctor, Gender, Organization, Patient

#: The oldest age the age filter takes (and so the earliest birth date it computes).
MAX_AGE = 150

INPUT = {"class": "form-control form-control-sm"}
SELECT = {"class": "form-select form-select-sm"}
AUTOCOMPLETE = {"style": "width: 14rem"}


def years_before(day: datetime.date, years: int) -> datetime.date:
    """``day`` moved back ``years`` calendar years (29 February to the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


class DateRangeInputs(django_filters.widgets.DateRangeWidget):
    """django-filter's date range (``<name>_after``, ``<name>_before``) as two date pickers."""

    def __init__(self, attrs=None):
        inputs = [
            forms.DateInput(attrs={**INPUT, "type": "date", "aria-label": label})
            for label in ("from", "to")
        ]
        forms.MultiWidget.__init__(self, inputs, attrs)


class AgeRangeInputs(django_filters.widgets.RangeWidget):
    """django-filter's range (``<name>_min``, ``<name>_max``) as two number inputs."""

    def __init__(self, attrs=None):
        inputs = [
            forms.NumberInput(
                attrs={
                    **INPUT,
                    "min": 0,
                    "max": MAX_AGE,
                    "placeholder": label,
                    "style": "width: 5rem",
                }
            )
            for label in ("min", "max")
        ]
        forms.MultiWidget.__init__(self, inputs, attrs)


class AgeRangeField(django_filters.fields.RangeField):
    """Two whole numbers of years, 0 to :data:`MAX_AGE`; cleans to ``slice(min, max)``."""

    widget = AgeRangeInputs

    def __init__(self, *args, **kwargs):
        fields = [forms.IntegerField(min_value=0, max_value=MAX_AGE) for _ in range(2)]
        super().__init__(fields, *args, **kwargs)


class AgeRangeFilter(django_filters.RangeFilter):
    """A range of ages in whole years (:class:`AgeRangeField`)."""

    field_class = AgeRangeField


class PatientFilterForm(forms.Form):
    """The filter form's cross-field rule: no range ends before it starts."""

    error_messages = {"reversed": "The start of the range is after its end."}

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if isinstance(value, slice) and None not in (value.start, value.stop):
                if value.start > value.stop:
                    self.add_error(
                        name, ValidationError(self.error_messages["reversed"], code="reversed")
                    )
        return cleaned


def visible_doctors(request):
    """The doctors ``request.user`` may view: all with ``clinic.view_doctor``, else none."""
    doctors = Doctor.objects.select_related("organization")
    return doctors if request and request.user.has_perm("clinic.view_doctor") else doctors.none()


def visible_organizations(request):
    """The sites ``request.user`` may view: all with ``clinic.view_organization``, else none."""
    sites = Organization.objects.all()
    return sites if request and request.user.has_perm("clinic.view_organization") else sites.none()


class PatientFilterSet(django_filters.FilterSet):
    """The patient lists' filters for one viewer.

    Use: ``PatientFilterSet(request.GET, queryset=..., request=request)``; the
    request's user decides which doctors and sites are offered and the default
    status. ``.qs`` (or ``filter_queryset`` after ``is_valid()``) narrows the
    given queryset, which should already be the viewer's visible patients.
    """

    age = AgeRangeFilter(label="Age", method="filter_age")
    birth_date = django_filters.DateFromToRangeFilter(label="Birth date", widget=DateRangeInputs)
    created = django_filters.DateFromToRangeFilter(
        label="Created", field_name="created_at", widget=DateRangeInputs
    )
    doctor = django_filters.ModelChoiceFilter(
        label="Doctor",
        field_name="primary_doctor",
        queryset=visible_doctors,
        widget=AutocompleteFilterSelect(
            Patient._meta.get_field("primary_doctor"), attrs=AUTOCOMPLETE, placeholder="Any doctor"
        ),
    )
    has_doctor = django_filters.BooleanFilter(
        label="Has a primary doctor",
        field_name="primary_doctor",
        lookup_expr="isnull",
        exclude=True,
        widget=forms.Select(attrs=SELECT, choices=[("", "Any"), ("true", "Yes"), ("false", "No")]),
    )
    specialty = django_filters.ChoiceFilter(
        label="Specialty",
        field_name="primary_doctor__specialty",
        empty_label="Any specialty",
        widget=forms.Select(attrs=SELECT),
    )
    organization = django_filters.ModelChoiceFilter(
        label="Organization",
        field_name="primary_doctor__organization",
        queryset=visible_organizations,
        widget=AutocompleteFilterSelect(
            Doctor._meta.get_field("organization"),
            attrs=AUTOCOMPLETE,
            placeholder="Any organization",
        ),
    )
    status = django_filters.ChoiceFilter(
        label="Status", method="filter_status", widget=forms.Select(attrs=SELECT)
    )
    gender = django_filters.ChoiceFilter(
        label="Gender",
        choices=Gender.choices,
        empty_label="Any gender",
        widget=forms.Select(attrs=SELECT),
    )
    marital_status = django_filters.ChoiceFilter(
        label="Marital status",
        choices=Patient.MaritalStatus.choices,
        empty_label="Any",
        widget=forms.Select(attrs=SELECT),
    )
    state = django_filters.CharFilter(
        label="State",
        lookup_expr="iexact",
        max_length=50,
        widget=forms.TextInput(attrs={**INPUT, "style": "width: 5rem"}),
    )

    #: ``status=all``: every status, for viewers whose default is active patients.
    ALL = "all"

    class Meta:
        model = Patient
        fields = []
        form = PatientFilterForm

    def __init__(self, data=None, queryset=None, *, request=None, **kwargs):
        # A viewer who sees patients only through grants (a doctor) sees current
        # patients by default; deceased and archived ones stay one choice away.
        self.default_active = bool(request) and not request.user.has_perm("clinic.view_patient")
        if self.default_active and data is not None and not data.get("status"):
            data = data.copy()
            data["status"] = Patient.Status.ACTIVE
        super().__init__(data, queryset, request=request, **kwargs)
        status = self.filters["status"].extra
        if self.default_active:
            status.update(choices=[(self.ALL, "Any status"), *Patient.Status.choices])
            status["empty_label"] = None
        else:
            status.update(choices=Patient.Status.choices, empty_label="Any status")
        # Evaluated when the form is drawn or a value checked, not before.
        self.filters["specialty"].extra["choices"] = lambda: [
            (name, name)
            for name in visible_doctors(request)
            .exclude(specialty="")
            .order_by("specialty")
            .values_list("specialty", flat=True)
            .distinct()
        ]

    def filter_age(self, queryset, name, value):
        """Patients aged ``value.start`` to ``value.stop`` years today (either may be None)."""
        today = timezone.localdate()
        if value.start is not None:
            queryset = queryset.filter(birth_date__lte=years_before(today, value.start))
        if value.stop is not None:
            queryset = queryset.filter(birth_date__gt=years_before(today, value.stop + 1))
        return queryset

    def filter_status(self, queryset, name, value):
        """Patients with status ``value``; ``all`` keeps every status."""
        return queryset if value == self.ALL else queryset.filter(status=value)


class PatientListFilter(FilterSetListFilter):
    """The patient changelist's filters: all of :class:`PatientFilterSet`."""

    title = "Filters"
    filterset_class = PatientFilterSet
    # The parameters of the list filters this replaced, still in links and bookmarks.
    aliases = {
        "status__exact": "status",
        "gender__exact": "gender",
        "marital_status__exact": "marital_status",
        "primary_doctor__id__exact": "doctor",
    }


class UnassignedListFilter(PatientListFilter):
    """The unassigned queue's: its rows are active and have no doctor."""

    exclude = ("status", "doctor", "has_doctor", "specialty", "organization")


class ArchivedListFilter(PatientListFilter):
    """The archived queue's: its rows are all archived."""

    exclude = ("status",)
