"""Sensitive fields: what a user may not see, they may not filter, sort or search by.

A ModelAdmin declares its sensitive fields with the permission that unlocks each::

    sensitive_fields = {"ssn": "clinic.view_ssn"}

For a user without that permission, ``SensitiveFieldsMixin``:

- refuses every changelist lookup that reaches a sensitive field, with any lookup or
  transform (``ssn``, ``ssn__startswith``, ``ssn__regex``, ``ssn__gt``...) and across
  relations from any admin on the same site (a doctor changelist's
  ``patients__ssn__startswith`` reaches the patient admin's declaration). Django
  answers a refused lookup with 400 (``DisallowedModelAdminLookup``) whatever the
  value, so a right guess and a wrong one read alike;
- drops orderings on them (the admin's ``ordering`` and the changelist's ``o=``) and
  leaves their columns unsortable;
- leaves them out of search fields and list filters.

The risk: Django's ``ModelAdmin.lookup_allowed`` accepts a lookup on any local field,
so ``?mrn=<mrn>&ssn__startswith=999-1``, one character at a time, reads a masked SSN
out of the row count in about 70 requests. Exports build their rows through the
same ChangeList (``get_changelist``), so the same rules hold there. Showing the
value masked stays the admin's job (``list_display``, fieldsets).
"""

from django.core.exceptions import FieldDoesNotExist
from django.db.models import F
from django.db.models.constants import LOOKUP_SEP

from admin_ext.changelists import changelist_with

#: Django's search field prefixes (``^`` startswith, ``=`` iexact, ``@`` full text).
SEARCH_PREFIXES = "^=@"


def lookup_path(model, lookup: str) -> list[tuple[type, str]]:
    """The ``(model, field name)`` pairs ``lookup`` walks, following relations.

    ``lookup_path(Doctor, "patients__ssn__startswith")`` is
    ``[(Doctor, "patients"), (Patient, "ssn")]``: the path ends at the first part
    that is not a field of the model reached so far (a lookup or transform).
    """
    path = []
    for part in lookup.split(LOOKUP_SEP):
        try:
            field = model._meta.pk if part == "pk" else model._meta.get_field(part)
        except FieldDoesNotExist:
            break
        path.append((model, field.name))
        model = field.related_model
        if model is None:
            break
    return path


def ordering_names(part) -> list[str]:
    """The field paths an ordering entry uses: ``"-ssn"``, ``F("ssn")``, ``Lower("ssn").desc()``."""
    if isinstance(part, str):
        return [part.lstrip("-")]
    if isinstance(part, F):
        return [part.name]
    names = []
    for source in part.get_source_expressions() if hasattr(part, "get_source_expressions") else ():
        names += ordering_names(source)
    return names


def required_permissions(admin_site, model, lookup: str) -> set[str]:
    """The permissions a user needs to use ``lookup`` from ``model``'s changelist.

    Each field on the path counts with what any admin on ``admin_site`` registered
    for its model (or a proxy of it) declares in ``sensitive_fields``.
    """
    perms = set()
    for step_model, name in lookup_path(model, lookup):
        concrete = step_model._meta.concrete_model
        for registered, model_admin in admin_site._registry.items():
            if registered._meta.concrete_model is concrete:
                perm = getattr(model_admin, "sensitive_fields", {}).get(name)
                if perm:
                    perms.add(perm)
    return perms


class SensitiveFieldsMixin:
    """Lookups, ordering and search on ``sensitive_fields`` for their permission holders only.

    ``sensitive_fields``: ``{field name: "app_label.codename"}``, fields of this
    admin's model. Put the mixin first in the bases: it wraps ``lookup_allowed``,
    ``get_search_fields``, ``get_list_filter``, ``get_ordering`` and the changelist.
    """

    sensitive_fields: dict[str, str] = {}

    def may_use_field_path(self, request, path: str) -> bool:
        """Whether ``request.user`` may filter, sort or search by ``path`` (fails closed)."""
        perms = required_permissions(self.admin_site, self.model, path)
        if not perms:
            return True
        return request is not None and request.user.has_perms(perms)

    def lookup_allowed(self, lookup, value, request=None):
        # The answer never depends on the value: a refused lookup is 400 for a right
        # guess and a wrong one alike.
        return self.may_use_field_path(request, lookup) and super().lookup_allowed(
            lookup, value, request
        )

    def get_search_fields(self, request):
        return [
            name
            for name in super().get_search_fields(request)
            if self.may_use_field_path(request, name.lstrip(SEARCH_PREFIXES))
        ]

    def get_list_filter(self, request):
        return [
            item for item in super().get_list_filter(request) if self._filter_allowed(request, item)
        ]

    def _filter_allowed(self, request, item) -> bool:
        field = item[0] if isinstance(item, (list, tuple)) else item
        if isinstance(field, str):
            return self.may_use_field_path(request, field)
        if hasattr(field, "model") and hasattr(field, "name"):  # a model Field instance
            return self.may_use_field_path(request, field.name)
        return True  # a SimpleListFilter class: its queries are its own

    def ordering_allowed(self, request, part) -> bool:
        """Whether ``request.user`` may sort by ``part`` (a name or an expression)."""
        return all(self.may_use_field_path(request, name) for name in ordering_names(part))

    def get_ordering(self, request):
        return [p for p in super().get_ordering(request) or () if self.ordering_allowed(request, p)]

    def get_changelist(self, request, **kwargs):
        return changelist_with(
            SensitiveFieldsChangeListMixin, super().get_changelist(request, **kwargs)
        )


class SensitiveFieldsChangeListMixin:
    """The ChangeList side: ``o=`` on a sensitive column is ignored, its header unsortable.

    Django's ChangeList orders by any ``o=`` column whose field or
    ``admin_order_field`` it can resolve (``sortable_by`` only draws the headers).
    """

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        names = self.list_display if self.sortable_by is None else self.sortable_by
        self.sortable_by = [name for name in names if self._may_sort(request, name)]

    def _may_sort(self, request, name) -> bool:
        try:
            field = self.get_ordering_field(name)
        except AttributeError:
            return True
        return not field or self.model_admin.ordering_allowed(request, field)

    def get_ordering(self, request, queryset):
        ordering = super().get_ordering(request, queryset)
        allowed = [p for p in ordering if self.model_admin.ordering_allowed(request, p)]
        if len(allowed) == len(ordering):
            return ordering
        return self._get_deterministic_ordering(allowed)
