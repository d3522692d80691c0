"""The audit trail: one newest-first stream over every history row and access-log row.

DESIGN.md, "Audit": auditors answer who changed a record, what exactly and why, who
looked at a patient, and what a user did, from one admin page. HIPAA's audit-control
standard (45 CFR 164.312(b)) asks for activity on PHI, reads included, to be
recorded *and examined*; this module is the examining side.

Sources (:func:`trail_sources`): every simple-history model (found generically, as
``admin_ext.audit.chain.sealed_models`` finds them; a many-to-many history, such as
a user's groups, shows as the change of its parent row, through simple-history's
``diff_against``) and the access log. Each row becomes an :class:`Event`.

Who sees what (:func:`may_view_trail`, :func:`visible`):

- ``audit.view_all_accesslog`` (Administrator, Auditor, superusers): every event;
- ``audit.view_accesslog`` alone (Doctor): events about records the viewer may see:
  the model manager's ``visible_to(user)`` where the model has one (patients: the
  doctor's own), else every record of a model whose view (or change) permission
  the viewer holds; rows without a record (a sign-in) and rows about the audit
  models themselves, never. Fails closed: a row about a patient the doctor may not
  see is never read;
- anyone else: nothing, and the page answers 403.

SSNs: a field that a ModelAdmin declares in ``sensitive_fields``
(``admin_ext.sensitive``) shows masked (``***-**-6789``) in a change unless the
viewer holds the permission that unlocks it.

Paging without counting (:func:`trail_page`): keyset on ``(time, source, pk)``,
newest first. Per source one query, ``ORDER BY <time> DESC, <pk> DESC LIMIT
size + 1`` with the viewer's rule and the filters, down the time index (or the
actor's, object's or action's); the sources' rows are merged in Python. A page's
cost does not grow with the table nor with how deep the page is.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import json
import operator
from dataclasses import dataclass, field

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import CharField, OuterRef, Q, Subquery, prefetch_related_objects
from django.db.models.functions import Cast
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.text import capfirst
from simple_history.models import HistoricalChanges
from simple_history.utils import get_m2m_reverse_field_name

from admin_ext.audit.models import AccessLog
from admin_ext.imports.admin import mask_value
from admin_ext.sensitive import required_permissions

#: Events per page of the trail.
PAGE_SIZE = 50

#: The permissions of the trail (``audit`` app, ``admin_ext.audit.models``).
VIEW_PERMISSION = "audit.view_accesslog"
VIEW_ALL_PERMISSION = "audit.view_all_accesslog"
EXPORT_PERMISSION = "audit.export_audit"

#: History rows' ``history_type`` and the trail's name for each.
HISTORY_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
HISTORY_ACTION_LABELS = {"created": "Created", "changed": "Changed", "deleted": "Deleted"}

#: Every action the trail knows: history's, then the access log's.
ACTION_CHOICES = [
    *HISTORY_ACTION_LABELS.items(),
    *AccessLog.Action.choices,
]


# -- who sees what --------------------------------------------------------------------


def may_view_trail(user) -> bool:
    """Whether ``user`` may open the trail at all (``audit.view_accesslog``, active staff)."""
    return bool(user and user.is_active and user.is_staff and user.has_perm(VIEW_PERMISSION))


def sees_all(user) -> bool:
    """Whether ``user`` reads every event (``audit.view_all_accesslog``)."""
    return bool(user and user.is_active and user.has_perm(VIEW_ALL_PERMISSION))


#: :func:`record_scope` answers: every record of the model, or none of them.
ALL, NONE = "all", "none"


def record_scope(model, user):
    """Which records of ``model`` ``user`` may see events about (narrowed viewers).

    Returns :data:`ALL`, :data:`NONE`, or a queryset of the visible primary keys
    (``values("pk")``) from the model manager's ``visible_to(user, "view")``. The
    audit app's own models answer :data:`NONE`: rows about the audit trail itself
    (its exports) are for ``audit.view_all_accesslog`` holders only.
    """
    concrete = model._meta.concrete_model
    opts = concrete._meta
    if opts.app_label == AccessLog._meta.app_label:
        return NONE
    manager = concrete._default_manager
    if hasattr(manager, "visible_to"):
        rows = manager.visible_to(user, "view")
        if not rows.query.where:  # the model permission: every row, no subquery
            return ALL
        return rows.values("pk")
    if any(user.has_perm(f"{opts.app_label}.{a}_{opts.model_name}") for a in ("view", "change")):
        return ALL
    return NONE


# -- the models the trail speaks about --------------------------------------------------


def history_models() -> list[type]:
    """The simple-history models with rows of their own (a many-to-many history hangs
    off its parent row instead), by label."""
    found = [
        m
        for m in apps.get_models()
        if issubclass(m, HistoricalChanges)
        and any(f.name == "history_date" for f in m._meta.concrete_fields)
    ]
    return sorted(found, key=lambda m: m._meta.label)


def trail_models() -> list[type]:
    """The models events are about: every tracked model and every model the admin
    registers (an access-log row may name any), concrete, by label."""
    found = {m.instance_type._meta.concrete_model for m in history_models()}
    found |= {m._meta.concrete_model for m in admin.site._registry}
    return sorted(found, key=lambda m: m._meta.label_lower)


def model_choices(user) -> list[tuple[str, str]]:
    """``(app_label.modelname, "Patient (clinic)")`` for the models ``user`` may see events
    about: the trail's model filter offers these and nothing else."""
    everything = sees_all(user)
    return [
        (m._meta.label_lower, f"{capfirst(m._meta.verbose_name)} ({m._meta.app_label})")
        for m in trail_models()
        if everything or record_scope(m, user) != NONE
    ]


def model_for_label(label: str):
    """The model named ``app_label.modelname``, or None."""
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


# -- one event ------------------------------------------------------------------------


@dataclass
class FieldChange:
    """One field of a history row: its label and the old and new value as text."""

    name: str
    label: str
    old: str
    new: str


@dataclass
class Event:
    """One row of the trail, as the page and the CSV export show it.

    ``source`` is the source's key (``clinic.historicalpatient``, ``audit.accesslog``),
    ``pk`` the row's key in it; ``model`` the ``app_label.modelname`` of the record the
    event is about ("" for none); ``action`` "created", "changed", "deleted" or an
    ``AccessLog.Action`` value. ``changes`` (history rows) lists the fields changed,
    or for a created record its values; ``detail`` (access rows) what the action
    adds (rows exported, the filter). ``url`` is the record's history page and
    ``version_url`` the history row's version page, when the admin has them.
    """

    time: datetime.datetime
    source: str
    pk: int
    actor_id: int | None
    actor_label: str
    model: str
    model_label: str
    object_id: str
    object_label: str
    action: str
    action_label: str
    reason: str = ""
    changes: list[FieldChange] = field(default_factory=list)
    detail: str = ""
    ip_address: str = ""
    user_agent: str = ""
    request_id: str = ""
    url: str = ""
    version_url: str = ""

    @property
    def key(self) -> tuple:
        """The event's place in the trail: ``(time, source, pk)``."""
        return (self.time, self.source, self.pk)

    @property
    def is_history(self) -> bool:
        return self.action in HISTORY_ACTION_LABELS

    def changes_text(self) -> str:
        """The changes on one line: ``"City: Boston -> Salem; ZIP: 02115 -> 01970"``."""
        return "; ".join(f"{c.label}: {c.old or '—'} -> {c.new or '—'}" for c in self.changes)


def _admin_url(model, name: str, *args) -> str:
    opts = model._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=args)
    except NoReverseMatch:
        return ""


def _history_url(model, object_id) -> str:
    if model is None or not object_id or model not in admin.site._registry:
        return ""
    return _admin_url(model, "history", quote(object_id))


# -- sources --------------------------------------------------------------------------


class Source:
    """One table of the trail. Subclasses say where its time, key, actor and record are."""

    model: type
    key: str
    time_field: str
    pk_field: str

    def rows(self):
        return self.model._default_manager.all()

    def visible(self, queryset, user):
        """``queryset`` narrowed to the rows ``user`` may see (module docstring)."""
        raise NotImplementedError

    def beyond(self, cursor, *, ascending: bool) -> Q:
        """The rows after ``cursor`` (a ``(time, source key, pk)``) in the trail's order.

        Newest first, ties on time broken by source key, then pk, both descending;
        ``ascending`` reads the other way (the "Newer" page). Spelled so the leading
        ``time <= t`` (or ``>=``) lets the database start its index scan at ``t``.
        """
        when, key, pk = cursor
        t, p = self.time_field, self.pk_field
        if ascending:
            if self.key > key:
                return Q(**{f"{t}__gte": when})
            if self.key < key:
                return Q(**{f"{t}__gt": when})
            return Q(**{f"{t}__gte": when}) & (Q(**{f"{t}__gt": when}) | Q(**{f"{p}__gt": pk}))
        if self.key < key:
            return Q(**{f"{t}__lte": when})
        if self.key > key:
            return Q(**{f"{t}__lt": when})
        return Q(**{f"{t}__lte": when}) & (Q(**{f"{t}__lt": when}) | Q(**{f"{p}__lt": pk}))

    def prepare(self, queryset):
        """The queryset as a page reads it (related rows joined)."""
        return queryset

    def events(self, rows, user) -> list[Event]:
        raise NotImplementedError

    # Filters (``admin_ext.audit.filters.TrailFilterSet`` calls them).

    def filter_actor(self, queryset, user_id: int):
        raise NotImplementedError

    def filter_model(self, queryset, model):
        raise NotImplementedError

    def filter_object(self, queryset, model, object_id: str):
        raise NotImplementedError

    def filter_action(self, queryset, action: str):
        raise NotImplementedError

    def filter_time(self, queryset, *, since=None, before=None):
        """Rows at or after ``since`` and before ``before`` (aware datetimes or None)."""
        if since is not None:
            queryset = queryset.filter(**{f"{self.time_field}__gte": since})
        if before is not None:
            queryset = queryset.filter(**{f"{self.time_field}__lt": before})
        return queryset


class HistorySource(Source):
    """A simple-history table: one row per created, changed or deleted record."""

    time_field = "history_date"
    pk_field = "history_id"

    def __init__(self, model):
        self.model = model
        self.key = model._meta.label_lower
        self.record_model = model.instance_type._meta.concrete_model
        # The tracked model's primary key, copied into each history row.
        self.object_field = model._meta.get_field(self.record_model._meta.pk.name).attname

    def visible(self, queryset, user):
        if sees_all(user):
            return queryset
        scope = record_scope(self.record_model, user)
        if scope == ALL:
            return queryset
        if scope == NONE:
            return queryset.none()
        return queryset.filter(**{f"{self.object_field}__in": scope})

    def prepare(self, queryset):
        # The previous version of the same record, for the field-level change; one
        # subquery per row of the page (LIMIT applies first), down the record's index.
        t, p, o = self.time_field, self.pk_field, self.object_field
        previous = (
            self.model._default_manager.filter(**{o: OuterRef(o)})
            .filter(Q(**{f"{t}__lt": OuterRef(t)}) | Q(**{t: OuterRef(t), f"{p}__lt": OuterRef(p)}))
            .order_by(f"-{t}", f"-{p}")
            .values(p)[:1]
        )
        return queryset.select_related("history_user").annotate(trail_previous=Subquery(previous))

    def filter_actor(self, queryset, user_id):
        return queryset.filter(history_user_id=user_id)

    def filter_model(self, queryset, model):
        return queryset if model._meta.concrete_model is self.record_model else queryset.none()

    def filter_object(self, queryset, model, object_id):
        if model._meta.concrete_model is not self.record_model:
            return queryset.none()
        return queryset.filter(**{self.object_field: object_id})

    def filter_action(self, queryset, action):
        codes = [code for code, name in HISTORY_ACTIONS.items() if name == action]
        return queryset.filter(history_type=codes[0]) if codes else queryset.none()

    def events(self, rows, user) -> list[Event]:
        previous_ids = [r.trail_previous for r in rows if r.trail_previous is not None]
        previous = self.model._default_manager.in_bulk(previous_ids) if previous_ids else {}
        held = self._m2m_rows([*rows, *previous.values()])
        renderer = ValueRenderer(self.record_model, user)
        diffs = [
            self._changes(row, previous.get(row.trail_previous), held, renderer) for row in rows
        ]
        renderer.resolve()
        opts = self.record_model._meta
        versions = self._versions(rows)
        events = []
        for row, version, changes in zip(rows, versions, diffs, strict=True):
            object_id = str(getattr(row, self.object_field))
            action = HISTORY_ACTIONS.get(row.history_type, row.history_type)
            user_row = row.history_user
            events.append(
                Event(
                    time=row.history_date,
                    source=self.key,
                    pk=row.pk,
                    actor_id=row.history_user_id,
                    actor_label=user_row.get_username() if user_row else "",
                    model=opts.label_lower,
                    model_label=capfirst(opts.verbose_name),
                    object_id=object_id,
                    object_label=_label(version),
                    action=action,
                    action_label=HISTORY_ACTION_LABELS.get(action, action),
                    reason=row.history_change_reason or "",
                    changes=[c() for c in changes],
                    url=_history_url(self.record_model, object_id),
                    version_url=self._version_url(object_id, row.pk),
                )
            )
        return events

    def _versions(self, rows) -> list:
        """The record as each row saw it, its foreign keys read per page, not per row
        (a label such as a share's or a grant's names its patient and user).

        ``history_object``, not simple-history's ``instance``: that one reads the
        fields the history leaves out from the live row, one query per row.
        """
        versions = [row.history_object for row in rows]
        related = [f.name for f in self.record_model._meta.concrete_fields if f.many_to_one]
        if related:
            prefetch_related_objects(versions, *related)
        return versions

    def _version_url(self, object_id, history_id) -> str:
        if self.record_model not in admin.site._registry:
            return ""
        return _admin_url(self.record_model, "simple_history", quote(object_id), history_id)

    def _m2m_rows(self, rows) -> dict:
        """``{(field name, history id): sorted related pks}`` for the tracked many-to-many
        fields of ``rows`` (a user's groups), one query per field for the whole page.

        simple-history keeps each version's many-to-many rows in a table of their own;
        its ``diff_against`` reads them two queries per history row.
        """
        held = {}
        fields = rows[0]._history_m2m_fields if rows else []
        ids = [row.pk for row in rows]
        for f in fields:
            # simple-history's descriptor for the field's history table.
            table = getattr(self.model, f.name).model
            target = get_m2m_reverse_field_name(f)
            found = table._base_manager.filter(history_id__in=ids)
            for history_id, pk in found.values_list("history_id", f"{target}_id"):
                held.setdefault((f.name, history_id), []).append(pk)
            for history_id in ids:
                held[(f.name, history_id)] = sorted(held.get((f.name, history_id), []))
        return held

    def _changes(self, row, before, held, renderer) -> list:
        """Callables giving each :class:`FieldChange` (labels resolve after the page's lookups).

        A created record (or a row whose previous version is gone) lists its values;
        any other row what changed since the previous version of the same record.
        """
        m2m = row._history_m2m_fields
        if before is None or row.history_type == "+":
            fields = [
                f
                for f in row.tracked_fields
                if f.editable and not f.many_to_many and not f.primary_key
            ]
            values = [(f, None, getattr(row, f.attname)) for f in fields]
            values = [(f, old, new) for f, old, new in values if new not in (None, "")]
            values += [(f, None, held[(f.name, row.pk)]) for f in m2m if held[(f.name, row.pk)]]
        else:
            delta = row.diff_against(before, excluded_fields=[f.name for f in m2m])
            opts = self.record_model._meta
            values = [(opts.get_field(c.field), c.old, c.new) for c in delta.changes]
            values += [
                (f, held[(f.name, before.pk)], held[(f.name, row.pk)])
                for f in m2m
                if held[(f.name, before.pk)] != held[(f.name, row.pk)]
            ]
        return [renderer.change(f, old, new) for f, old, new in values]


class AccessSource(Source):
    """The access log: views, searches, exports, imports, SSN reveals, sign-ins, grants."""

    model = AccessLog
    key = AccessLog._meta.label_lower
    time_field = "created_at"
    pk_field = "id"

    def visible(self, queryset, user):
        if sees_all(user):
            return queryset
        condition = self._visible_q(user)
        return queryset.filter(condition) if condition is not None else queryset.none()

    @staticmethod
    def _visible_q(user):
        """The rows about records ``user`` may see, as a Q (None: no row)."""
        scopes = {m: record_scope(m, user) for m in trail_models()}
        scopes = {m: s for m, s in scopes.items() if s != NONE}
        if not scopes:
            return None
        types = ContentType.objects.get_for_models(*scopes)
        whole = [types[m].pk for m, s in scopes.items() if s == ALL]
        conditions = [Q(content_type_id__in=whole)] if whole else []
        for model, scope in scopes.items():
            if scope != ALL:
                # object_id is text: the visible keys are cast to text in the subquery.
                keys = scope.annotate(trail_key=Cast("pk", CharField())).values("trail_key")
                conditions.append(Q(content_type_id=types[model].pk, object_id__in=keys))
        return functools.reduce(operator.or_, conditions)

    def prepare(self, queryset):
        return queryset.select_related("actor", "content_type")

    def filter_actor(self, queryset, user_id):
        return queryset.filter(actor_id=user_id)

    def filter_model(self, queryset, model):
        return queryset.filter(content_type=_content_type(model))

    def filter_object(self, queryset, model, object_id):
        return queryset.filter(content_type=_content_type(model), object_id=object_id)

    def filter_action(self, queryset, action):
        if action in AccessLog.Action.values:
            return queryset.filter(action=action)
        return queryset.none()

    def events(self, rows, user) -> list[Event]:
        events = []
        for row in rows:
            model = row.content_type.model_class() if row.content_type_id else None
            opts = model._meta if model else None
            events.append(
                Event(
                    time=row.created_at,
                    source=self.key,
                    pk=row.pk,
                    actor_id=row.actor_id,
                    actor_label=row.actor_label or (row.actor.get_username() if row.actor else ""),
                    model=opts.label_lower if opts else "",
                    model_label=capfirst(opts.verbose_name) if opts else "",
                    object_id=row.object_id,
                    object_label=row.object_repr,
                    action=row.action,
                    action_label=row.get_action_display(),
                    detail=_detail_text(row.detail),
                    ip_address=row.ip_address or "",
                    user_agent=row.user_agent,
                    request_id=row.request_id,
                    url=_history_url(model, row.object_id),
                )
            )
        return events


def _content_type(model):
    return ContentType.objects.get_for_model(model, for_concrete_model=True)


def _label(instance) -> str:
    try:
        return str(instance)[:200]
    except ObjectDoesNotExist:  # a version whose related row is gone: its label is its key
        return f"{instance._meta.verbose_name} #{instance.pk}"


def _detail_text(detail) -> str:
    """An access row's ``detail`` on one line: ``"rows: 12; filter: status=active"``."""
    if not isinstance(detail, dict):
        return str(detail or "")
    parts = []
    for key, value in detail.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, sort_keys=True, cls=DjangoJSONEncoder)
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


class ValueRenderer:
    """Field values of one tracked model as text, for one viewer.

    Foreign keys and many-to-many rows show their related object's label, read in
    one query per related model per page (:meth:`resolve`); choices show their
    label; a sensitive field (``admin_ext.sensitive``) the viewer may not read
    shows masked (the PHI rule in DESIGN.md).
    """

    def __init__(self, model, user):
        self.model, self.user = model, user
        self.wanted: dict[type, set] = {}
        self.labels: dict[tuple, str] = {}
        self._masked: dict[str, bool] = {}

    def masked(self, f) -> bool:
        """Whether ``f`` shows masked to the viewer (a sensitive field, permission lacking)."""
        if f.name not in self._masked:
            perms = required_permissions(admin.site, self.model, f.name)
            self._masked[f.name] = bool(perms) and not self.user.has_perms(perms)
        return self._masked[f.name]

    def change(self, f, old, new):
        """A callable returning the :class:`FieldChange`, once :meth:`resolve` has run."""
        for value in (old, new):
            for related, pk in self._references(f, value):
                self.wanted.setdefault(related, set()).add(pk)
        masked = self.masked(f)

        def make():
            old_text, new_text = self.text(f, old), self.text(f, new)
            if masked:
                old_text, new_text = mask_value(old_text), mask_value(new_text)
            return FieldChange(f.name, capfirst(f.verbose_name), old_text, new_text)

        return make

    @staticmethod
    def _references(f, value):
        """``(related model, pk)`` pairs a value names (a many-to-many value: a pk list)."""
        if value is None:
            return []
        if f.many_to_many:
            return [(f.related_model, pk) for pk in value]
        if f.is_relation:
            return [(f.related_model, value)]
        return []

    def resolve(self) -> None:
        """Read the labels of every related object the page's changes name."""
        for related, pks in self.wanted.items():
            for pk, obj in related._base_manager.in_bulk(list(pks)).items():
                self.labels[(related, str(pk))] = _label(obj)
        self.wanted = {}

    def _related(self, related, pk) -> str:
        return self.labels.get((related, str(pk)), f"#{pk}")

    def text(self, f, value) -> str:
        if value is None or value == "":
            return ""
        if f.many_to_many:
            return ", ".join(sorted(self._related(m, pk) for m, pk in self._references(f, value)))
        if f.is_relation:
            return self._related(f.related_model, value)
        if f.flatchoices:
            return str(dict(f.flatchoices).get(value, value))
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, datetime.datetime):
            return timezone.localtime(value).isoformat(sep=" ", timespec="seconds")
        if isinstance(value, datetime.date):
            return value.isoformat()
        return str(value)


@functools.cache
def _sources_for(labels: tuple[str, ...]) -> tuple[Source, ...]:
    return (AccessSource(), *(HistorySource(apps.get_model(label)) for label in labels))


def trail_sources() -> tuple[Source, ...]:
    """Every source of the trail: the access log and each history table."""
    return _sources_for(tuple(m._meta.label for m in history_models()))


# -- cursors --------------------------------------------------------------------------


def encode_cursor(key: tuple) -> str:
    """The ``cursor`` parameter for an event's key ``(time, source, pk)``: base64 JSON."""
    when, source, pk = key
    data = json.dumps([when.isoformat(), source, pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def decode_cursor(value: str | None):
    """``(time, source, pk)`` from a ``cursor`` parameter; None when it is not one.

    A malformed or hand-edited cursor reads as none: the page starts from the newest.
    """
    if not value or len(value) > 200:
        return None
    try:
        when, source, pk = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        when = datetime.datetime.fromisoformat(when)
        if timezone.is_naive(when) or not isinstance(pk, int) or isinstance(pk, bool):
            return None
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    if source not in {s.key for s in trail_sources()} or not -(2**63) <= pk < 2**63:
        return None
    return when, source, pk


# -- pages ----------------------------------------------------------------------------


@dataclass
class TrailPage:
    """One page of events, newest first, and the cursors of its neighbours.

    ``newer`` is the cursor of the "Newer" link (None on the first page), ``older``
    the "Older" link's (None on the last).
    """

    events: list[Event]
    newer: str | None
    older: str | None


def source_rows(source, user, filterset, *, until=None):
    """``source``'s rows ``user`` may see, filtered; None when the filters exclude it all.

    ``filterset`` is a valid ``admin_ext.audit.filters.TrailFilterSet`` (or None);
    ``until`` bounds the time (the CSV export's snapshot).
    """
    rows = source.visible(source.rows(), user)
    if filterset is not None:
        rows = filterset.filter_source(source, rows)
    if until is not None:
        rows = rows.filter(**{f"{source.time_field}__lte": until})
    return None if rows.query.is_empty() else rows


def _window(user, filterset, *, cursor, ascending: bool, limit: int, until=None) -> list:
    """The first ``limit`` rows after ``cursor``, across sources, in the trail's order:
    ``[(key, source, row)]``.

    Two steps, so that no source's rows are read whole only to be dropped by the
    merge: the keys first (per source, ``limit`` keys down its index), then, for the
    ``limit`` keys that win, the rows with what a page shows of them (joined users,
    the previous version), one query per source that has any.
    """
    found = []
    for source in trail_sources():
        rows = source_rows(source, user, filterset, until=until)
        if rows is None:
            continue
        if cursor is not None:
            rows = rows.filter(source.beyond(cursor, ascending=ascending))
        t, p = source.time_field, source.pk_field
        order = [t, p] if ascending else [f"-{t}", f"-{p}"]
        for when, pk in rows.order_by(*order).values_list(t, p)[:limit]:
            found.append(((when, source.key, pk), source))
    found.sort(key=lambda item: item[0], reverse=not ascending)
    found = found[:limit]
    wanted: dict[Source, list] = {}
    for (_, _, pk), source in found:
        wanted.setdefault(source, []).append(pk)
    loaded = {}
    for source, pks in wanted.items():
        for row in source.prepare(source.rows().filter(pk__in=pks)).order_by():
            loaded[(source.key, row.pk)] = row
    return [(key, source, loaded[key[1:]]) for key, source in found]


def _events(window, user) -> list[Event]:
    by_source: dict[Source, list] = {}
    for _, source, row in window:
        by_source.setdefault(source, []).append(row)
    events = {}
    for source, rows in by_source.items():
        for event in source.events(rows, user):
            events[event.key] = event
    return [events[key] for key, _, _ in window]


def trail_page(
    user, filterset=None, *, cursor=None, newer: bool = False, size: int = PAGE_SIZE, until=None
) -> TrailPage:
    """One page of the events ``user`` may see, as ``filterset`` narrows them.

    Args: ``cursor`` a decoded cursor (:func:`decode_cursor`) or None for the newest
    page; ``newer`` True to read the page before the cursor (the "Newer" link),
    else the page after it; ``size`` events per page; ``until`` an upper bound on
    the time. Returns a :class:`TrailPage`. Raises nothing for any cursor.
    """
    if newer and cursor is not None:
        window = _window(
            user, filterset, cursor=cursor, ascending=True, limit=size + 1, until=until
        )
        if len(window) <= size:
            # Back at the top: show the newest page, full, as the first page does.
            return trail_page(user, filterset, size=size, until=until)
        window = window[:size][::-1]
        return TrailPage(
            _events(window, user), encode_cursor(window[0][0]), encode_cursor(window[-1][0])
        )
    window = _window(user, filterset, cursor=cursor, ascending=False, limit=size + 1, until=until)
    more = len(window) > size
    window = window[:size]
    events = _events(window, user)
    return TrailPage(
        events,
        encode_cursor(window[0][0]) if cursor is not None and window else None,
        encode_cursor(window[-1][0]) if more else None,
    )


def iter_events(user, filterset=None, *, until, chunk: int = 500):
    """Every event ``user`` may see up to ``until``, newest first, read ``chunk`` at a
    time by key (the CSV export: flat memory at any size)."""
    cursor = None
    while True:
        window = _window(user, filterset, cursor=cursor, ascending=False, limit=chunk, until=until)
        if not window:
            return
        yield from _events(window, user)
        if len(window) < chunk:
            return
        cursor = window[-1][0]


def count_events(user, filterset=None, *, until) -> int:
    """How many events :func:`iter_events` gives (one ``COUNT`` per source)."""
    total = 0
    for source in trail_sources():
        rows = source_rows(source, user, filterset, until=until)
        if rows is not None:
            total += rows.count()
    return total


def validate_object_id(model, value: str) -> str:
    """``value`` as a primary key of ``model``, normalized to text ("007" -> "7").

    Raises ``ValidationError`` when it cannot be one (not a number for an integer
    key, out of the database's range).
    """
    pk = model._meta.pk
    python = pk.to_python(value)
    pk.run_validators(python)
    if python is None:
        raise ValidationError("empty", code="invalid")
    return str(python)
