"""What a dashboard provider computes: plain, picklable values, cached as they are.

A provider (``settings.DASHBOARD_PROVIDER``) answers two questions about a viewer:
which viewers see the same numbers (:meth:`DashboardProvider.viewer_key`, part of
the cache key) and what those numbers are (:meth:`DashboardProvider.panels`, run
on a cache miss). Links name a model by its label and an optional query string,
never a URL: whether the viewer may follow one is decided per request by the
model's ``ModelAdmin`` (:mod:`admin_ext.dashboard.links`), outside the cache.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Link:
    """The changelist of ``model`` (``"app_label.model_name"``), filtered by ``query``
    (a query string without ``?``, e.g. ``"status__exact=active"``)."""

    model: str
    query: str = ""


@dataclass(frozen=True)
class Stat:
    """One number on the dashboard ("Active patients: 42").

    ``link`` opens the records counted; ``needs_link``: show the number only to
    viewers who may open that list (the number of doctors to those who may list
    doctors), instead of showing it unlinked. ``tone``: its Bootstrap colour
    (``primary``, ``success``, ``warning``, ``secondary``, ...).
    """

    key: str
    label: str
    value: int
    link: Link | None = None
    needs_link: bool = False
    tone: str = "secondary"


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its label, its number and where it leads (or None)."""

    label: str
    value: int
    link: Link | None = None


@dataclass(frozen=True)
class Chart:
    """A bar chart: ``bars`` in display order; ``empty`` is said when all are zero."""

    key: str
    title: str
    bars: tuple[Bar, ...]
    empty: str = "Nothing to show yet."


@dataclass(frozen=True)
class Queue:
    """A work queue (a changelist of records waiting for someone) and its size.

    Shown only to viewers who may open ``link`` (the queue's ``ModelAdmin``).
    """

    key: str
    label: str
    value: int
    link: Link
    icon: str = "fas fa-inbox"


@dataclass(frozen=True)
class Panels:
    """Everything a provider computes for one viewer key.

    ``title`` heads the numbers ("Patients", "Your patients"); ``valid_until`` (an
    aware datetime or None) is when the numbers stop being true without any write
    (a share that lapses): the cache keeps them no longer.
    """

    title: str
    stats: tuple[Stat, ...] = ()
    charts: tuple[Chart, ...] = ()
    queues: tuple[Queue, ...] = ()
    valid_until: datetime.datetime | None = field(default=None, compare=False)


class DashboardProvider:
    """What an app supplies to the dashboard; subclass it and name the subclass in
    ``settings.DASHBOARD_PROVIDER``.

    The default shows nothing (an empty :class:`Panels`), so the admin works
    without a provider.
    """

    def viewer_key(self, user) -> str:
        """A string naming the set of viewers who see the same numbers as ``user``
        (e.g. ``"all"`` for everyone who sees every record, ``"user:7"`` for a
        doctor). Called on every dashboard view: keep it cheap. Part of the cache
        key, so two viewers with the same key must be shown the same numbers."""
        return "all"

    def panels(self, user) -> Panels:
        """The numbers for ``user`` (and so for every viewer with the same key).
        Called on a cache miss only."""
        return Panels(title="")


def provider() -> DashboardProvider:
    """An instance of ``settings.DASHBOARD_PROVIDER`` (a dotted path to a
    :class:`DashboardProvider` subclass), or of the empty default when unset.
    Raises ``ImportError`` for a path that does not import."""
    path = getattr(settings, "DASHBOARD_PROVIDER", "")
    return import_string(path)() if path else DashboardProvider()
