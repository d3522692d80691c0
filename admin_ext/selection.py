"""Malformed selections (an action's ticked rows, an autocomplete's chosen row) read as
no selection, never as a server error."""

from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError


class ValidSelectionMixin:
    """ModelAdmin mixin: selected values that are not keys are dropped.

    - Actions: ``_selected_action`` values that are not keys of the model.
    - Autocomplete fields: their widgets (:class:`KeyedAutocompleteSelect`) show a
      malformed posted value as no choice, beside the form's own error.

    Django's ``ModelAdmin.response_action`` filters the queryset with
    ``pk__in=<the posted values>``; a value that is not a key of the model (``""``,
    ``"abc"``) raises ``ValueError`` there, a 500 for a crafted or damaged POST
    (found by ``admin_ext/tests/test_fuzz_admin.py``). Each value is cleaned by the
    primary key field first (OWASP ASVS 4.0 V5.1.3: input validated against the
    expected type, rejected if not); the rest go on to Django, so a selection of
    malformed values only gets Django's own "Items must be selected in order to
    perform actions on them" message and nothing is changed. Rows the user may not
    see stay out as before: the queryset is the admin's ``get_queryset``.
    """

    def response_action(self, request, queryset):
        name = helpers.ACTION_CHECKBOX_NAME
        selected = request.POST.getlist(name)
        keys = [value for value in selected if self._is_key(value)]
        if len(keys) != len(selected):
            post = request.POST.copy()
            post.setlist(name, keys)
            request.POST = post
        return super().response_action(request, queryset)

    def _is_key(self, value: str) -> bool:
        return _is_key(self.model._meta.pk, value)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Django's own choice of widget (ModelAdmin.formfield_for_foreignkey), keyed.
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KeyedAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = KeyedAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class _KeyedChoicesMixin:
    """Autocomplete widget mixin: drop values that are not keys before Django's lookup.

    Django's ``AutocompleteMixin.optgroups`` filters the related model by the raw
    values when a form is shown again (``<to_field>__in``), so a posted ``" "`` or
    ``"abc"`` for a foreign key raised ``ValueError`` (a 500) instead of showing the
    form's "Select a valid choice" error.
    """

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field
        to_field = remote.model._meta.get_field(
            getattr(remote, "field_name", None) or remote.model._meta.pk.name
        )
        return super().optgroups(name, [v for v in value if _is_key(to_field, v)], attr)


class KeyedAutocompleteSelect(_KeyedChoicesMixin, AutocompleteSelect):
    """Django's ``AutocompleteSelect``; a malformed posted value shows as no choice."""


class KeyedAutocompleteSelectMultiple(_KeyedChoicesMixin, AutocompleteSelectMultiple):
    """Django's ``AutocompleteSelectMultiple``; malformed posted values show as no choice."""


def _is_key(field, value) -> bool:
    """Whether ``value`` is a valid value of key ``field`` (type and range)."""
    try:
        field.clean(value, None)
    except ValidationError:
        return False
    return True
