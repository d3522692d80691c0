"""Admin list filters backed by a django-filter ``FilterSet``.

``FilterSetListFilter`` puts a whole FilterSet into a changelist's ``list_filter``::

    class PatientFilter(FilterSetListFilter):
        title = "Filters"
        filterset_class = PatientFilterSet

    class PatientAdmin(admin.ModelAdmin):
        list_filter = [PatientFilter]

The FilterSet then narrows the changelist's queryset (after the admin's own
``get_queryset``, so a visibility rule applies first), and everything built from
that ChangeList follows it: the page, its counts and import-export's export of the
list (``ClinicModelAdmin``'s comments). Its form is drawn with the list's search
box (``admin_ext/filterset_filter.html``), so "Search" submits both.

Rules:

- The filter consumes its FilterSet's parameters (a range filter's ``<name>_min``
  and ``<name>_max``, a date range's ``<name>_after`` and ``<name>_before``), so
  Django does not read them as field lookups; every other parameter is Django's
  as before, ``lookup_allowed`` included (a crafted
  ``primary_doctor__user__password__startswith`` is still refused with 400).
- Filters that reach a field the viewer may not filter by
  (``ModelAdmin.may_use_field_path``, ``admin_ext.sensitive``) are dropped from
  the form, and their parameters with them.
- A choice among many rows (a doctor of twenty thousand) is an
  ``AutocompleteFilterSelect``: the page draws only the chosen option and the
  admin's autocomplete view (the related admin's search and visibility) finds
  the others, so the page costs the same at any number of rows.
- An invalid value (a word for an age, a reversed range, a choice the viewer is
  not offered) is shown as an error on the form and the list shows no rows: never
  a wider list (nor a wider export) than the one asked for, and never a server
  error.
"""

from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.utils.datastructures import MultiValueDict


class FilterSetListFilter(admin.ListFilter):
    """A ``ListFilter`` that applies ``filterset_class`` to the changelist.

    Class attributes:

    - ``filterset_class``: a ``django_filters.FilterSet`` subclass, constructed as
      ``filterset_class(data, queryset=..., request=request)``;
    - ``exclude``: names of its filters this list leaves out (a work queue whose
      rows all share a status has no use for the status filter);
    - ``aliases``: ``{old parameter: parameter}``, older names read as the
      FilterSet's (the ``status__exact=archived`` of a list filter this one
      replaced, in bookmarks and links), so they keep meaning what they meant;
    - ``title``: shown above the form.

    After construction ``filterset`` is the bound FilterSet (its ``form`` is what
    the template draws) and ``used_parameters`` the parameters it took.
    """

    title = "Filters"
    template = "admin_ext/filterset_filter.html"
    filterset_class = None
    exclude: tuple[str, ...] = ()
    aliases: dict[str, str] = {}

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        # Unbound first, to learn the filters this viewer gets and their parameters.
        filterset = self.filterset_class(
            MultiValueDict(), queryset=model._default_manager.none(), request=request
        )
        for name in list(filterset.filters):
            field_name = filterset.filters[name].field_name
            may_use = getattr(model_admin, "may_use_field_path", None)
            if name in self.exclude or (may_use and not may_use(request, field_name)):
                del filterset.filters[name]
        self._parameters = {
            name: self._parameter_names(filterset, name) for name in filterset.filters
        }
        data = MultiValueDict()
        expected = set(self.expected_parameters())
        for parameter in list(params):
            target = self.aliases.get(parameter, parameter)
            if target in expected:
                values = params.pop(parameter)
                data.setlist(target, values)
                # Every one, empty ones too: jazzmin repeats the parameters that no
                # filter used as hidden inputs, which would then override the form's.
                self.used_parameters[parameter] = values[-1]
        self.filterset = self.filterset_class(
            data, queryset=model._default_manager.none(), request=request
        )
        for name in set(self.filterset.filters) - set(filterset.filters):
            del self.filterset.filters[name]

    @staticmethod
    def _parameter_names(filterset, name) -> list[str]:
        """The query-string parameters of filter ``name`` (one per input of its widget)."""
        widget = filterset.filters[name].field.widget
        suffixes = getattr(widget, "suffixes", None)
        return [widget.suffixed(name, suffix) for suffix in suffixes] if suffixes else [name]

    @property
    def form(self):
        """The FilterSet's form, bound to this request's parameters."""
        return self.filterset.form

    def has_output(self):
        return bool(self.filterset.filters)

    def expected_parameters(self):
        return [p for names in self._parameters.values() for p in names]

    def choices(self, changelist):
        # The form is the choice: the template draws it, not a list of links.
        return []

    def queryset(self, request, queryset):
        """``queryset`` narrowed by the valid form; no rows when the form has errors."""
        if not self.filterset.is_valid():
            return queryset.none()
        return self.filterset.filter_queryset(queryset)


class AutocompleteFilterSelect(AutocompleteSelect):
    """Django's admin autocomplete select, for a filter form in a changelist.

    ``field`` is a foreign key whose related model's admin has ``search_fields``
    (the autocomplete view searches there, with that admin's ``get_queryset`` and
    view permission); ``placeholder`` is what the empty select says. The select2
    is started by ``admin_ext/filterset_filter.html`` with jazzmin's select2 and
    theme. A value that is not a key of the related model (a word, ``null``) draws
    no option instead of failing the page; the form field reports it.
    """

    def __init__(self, field, admin_site=None, attrs=None, *, placeholder=""):
        super().__init__(field, admin_site or admin.site, attrs)
        self.placeholder = placeholder

    def build_attrs(self, base_attrs, extra_attrs=None):
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs.update({"data-placeholder": self.placeholder, "data-theme": "default"})
        return attrs

    def optgroups(self, name, value, attr=None):
        target = self.field.target_field
        keys = []
        for item in value:
            try:
                # Its type and range (a key past the column's range is refused by
                # some databases with an overflow instead of finding nothing).
                target.run_validators(target.to_python(item))
            except ValidationError:
                continue
            keys.append(item)
        return super().optgroups(name, keys, attr)
