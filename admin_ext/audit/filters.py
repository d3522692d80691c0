"""The audit trail's filters (django-filter): actor, model, object, action, date range.

The trail reads several tables (``admin_ext.audit.trail``), so one
:class:`TrailFilterSet` is validated once per request and then applied to each
source's queryset (:meth:`TrailFilterSet.filter_source`); each filter's method asks
the source which of its columns the filter means.

Query parameters (other pages link with them, DESIGN.md "Audit"):

- ``actor``: a user's email address (as the trail shows actors) or id;
- ``model``: ``app_label.modelname`` in lower case, one of the models the viewer
  may see events about (``trail.model_choices``);
- ``object``: a primary key of that model (needs ``model``);
- ``action``: "created", "changed", "deleted" or an ``AccessLog.Action`` value;
- ``date_from``, ``date_to``: ``YYYY-MM-DD``, both days included, in ``TIME_ZONE``.

A value that cannot be one of those (an email no user has, a word for ``actor``, a model the viewer may
not see, a day past year 9999, an object id of the wrong shape) is a form error
shown on the page, never a server error; the page then shows no events rather than
a wider list.
"""

from __future__ import annotations

import datetime

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from admin_ext.audit import trail
from admin_ext.audit.models import AccessLog

#: The largest user id the database stores (bigint); a larger one is a form error,
#: not a database overflow.
MAX_ID = 2**63 - 1


def day_start(day: datetime.date) -> datetime.datetime | None:
    """Midnight at the start of ``day`` in the current time zone; None past the calendar's
    end (9999-12-31 has no next day), meaning "no bound"."""
    try:
        start = timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))
        start.astimezone(datetime.UTC)  # the database stores UTC: year 1 may not fit
    except (OverflowError, ValueError):
        return None
    return start


def next_day_start(day: datetime.date) -> datetime.datetime | None:
    """Midnight after ``day``: the exclusive end of a ``date_to`` (None: no bound)."""
    try:
        return day_start(day + datetime.timedelta(days=1))
    except OverflowError:
        return None


class TrailFilterForm(forms.Form):
    """The filter form's cross-field rules (the fields come from :class:`TrailFilterSet`)."""

    error_messages = {
        "object_needs_model": "Choose a model to filter by object.",
        "not_an_id": "%(value)s is not an ID of a %(model)s.",
        "dates_reversed": "The start date is after the end date.",
    }

    def clean(self):
        cleaned = super().clean()
        object_id, label = cleaned.get("object"), cleaned.get("model")
        if object_id and "model" not in self.errors:
            model = trail.model_for_label(label) if label else None
            if model is None:
                self.add_error(
                    "object",
                    ValidationError(
                        self.error_messages["object_needs_model"], code="object_needs_model"
                    ),
                )
            else:
                try:
                    cleaned["object"] = trail.validate_object_id(model, object_id)
                except ValidationError:
                    self.add_error(
                        "object",
                        ValidationError(
                            self.error_messages["not_an_id"],
                            code="not_an_id",
                            params={"value": object_id, "model": model._meta.verbose_name},
                        ),
                    )
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error(
                "date_to",
                ValidationError(self.error_messages["dates_reversed"], code="dates_reversed"),
            )
        return cleaned


class ActorField(forms.CharField):
    """A user given by email address (any case) or by id; cleans to the user's id (int).

    Raises ``ValidationError`` for an email no user has, or an id outside 1 to
    :data:`MAX_ID`.
    """

    def clean(self, value):
        text = super().clean(value)
        if not text:
            return None
        if "@" not in text:
            number = forms.IntegerField(min_value=1, max_value=MAX_ID).clean(text)
            return number
        user_id = (
            get_user_model()
            ._default_manager.filter(email__iexact=text)
            .values_list("pk", flat=True)
            .first()
        )
        if user_id is None:
            raise ValidationError("No user has the email %(value)s.", params={"value": text})
        return user_id


class ActorFilter(django_filters.Filter):
    """The ``actor`` filter: :class:`ActorField`."""

    field_class = ActorField


class TrailFilterSet(django_filters.FilterSet):
    """The trail's filters for one viewer (``request.user``).

    Use: ``fs = TrailFilterSet(request.GET, request=request)``; ``fs.is_valid()``; then
    ``fs.filter_source(source, queryset)`` per source (``trail.source_rows`` does).
    The model choices are the viewer's (``trail.model_choices``).
    """

    actor = ActorFilter(
        label="Actor (email or user ID)",
        method="filter_actor",
        max_length=254,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )
    model = django_filters.ChoiceFilter(
        label="Model",
        method="filter_model",
        empty_label="All models",
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    object = django_filters.CharFilter(
        label="Object ID",
        method="filter_object",
        max_length=64,
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )
    action = django_filters.ChoiceFilter(
        label="Action",
        choices=trail.ACTION_CHOICES,
        method="filter_action",
        empty_label="All actions",
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    date_from = django_filters.DateFilter(
        label="From",
        method="filter_date_from",
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"}),
    )
    date_to = django_filters.DateFilter(
        label="To",
        method="filter_date_to",
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control form-control-sm"}),
    )

    class Meta:
        form = TrailFilterForm

    def __init__(self, data=None, *, request, **kwargs):
        super().__init__(data, queryset=AccessLog.objects.none(), request=request, **kwargs)
        self.filters["model"].extra["choices"] = trail.model_choices(request.user)
        self._source = None

    def filter_source(self, source, queryset):
        """``queryset`` (rows of ``source``) narrowed by the valid filters.

        Call ``is_valid()`` first; with errors nothing is applied and the caller
        shows none (``trail.source_rows`` is only called on a valid form).
        """
        self._source = source
        try:
            return self.filter_queryset(queryset)
        finally:
            self._source = None

    def applied(self) -> dict[str, str]:
        """The filters in force, as the query string gives them (for the export's log)."""
        return {
            name: str(self.data.get(name))
            for name in self.filters
            if self.form.cleaned_data.get(name) not in (None, "")
        }

    # Each method asks the source being filtered which of its columns it means.

    def filter_actor(self, queryset, name, value):
        return self._source.filter_actor(queryset, value)

    def filter_model(self, queryset, name, value):
        # With an object the object filter narrows by model and key together.
        if self.form.cleaned_data.get("object"):
            return queryset
        return self._source.filter_model(queryset, trail.model_for_label(value))

    def filter_object(self, queryset, name, value):
        model = trail.model_for_label(self.form.cleaned_data["model"])
        return self._source.filter_object(queryset, model, value)

    def filter_action(self, queryset, name, value):
        return self._source.filter_action(queryset, value)

    def filter_date_from(self, queryset, name, value):
        return self._source.filter_time(queryset, since=day_start(value))

    def filter_date_to(self, queryset, name, value):
        return self._source.filter_time(queryset, before=next_day_start(value))
