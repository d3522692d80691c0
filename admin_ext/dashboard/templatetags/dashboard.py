"""``{% dashboard as dash %}``: the admin index's panels for the signed-in viewer.

``dash`` has ``title``; ``stats`` (each ``stat`` and its ``url`` or None);
``charts`` (each ``chart`` and its ``bars``, each ``bar`` with ``url`` and
``percent`` of the chart's largest); ``queues`` (each ``queue`` and its ``url``:
only the queues the viewer may open); ``imports`` (a list of
:class:`~admin_ext.dashboard.activity.RecentImport`, or None for viewers who may
not open import jobs); ``visits`` (:class:`~admin_ext.dashboard.activity.Visit` s).
The numbers come from :func:`admin_ext.dashboard.cache.viewer_panels`; links are
decided per request (:mod:`admin_ext.dashboard.links`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django import template

from admin_ext.dashboard import activity
from admin_ext.dashboard.cache import viewer_panels
from admin_ext.dashboard.links import changelist_url
from admin_ext.dashboard.panels import Bar, Chart, Queue, Stat

register = template.Library()


@dataclass(frozen=True)
class ShownStat:
    stat: Stat
    url: str | None


@dataclass(frozen=True)
class ShownBar:
    bar: Bar
    url: str | None
    percent: int


@dataclass(frozen=True)
class ShownChart:
    chart: Chart
    bars: list[ShownBar]
    total: int


@dataclass(frozen=True)
class ShownQueue:
    queue: Queue
    url: str


@dataclass(frozen=True)
class Dashboard:
    title: str
    stats: list[ShownStat]
    charts: list[ShownChart]
    queues: list[ShownQueue]
    imports: list[activity.RecentImport] | None
    visits: list[activity.Visit]


def _chart(request, chart: Chart) -> ShownChart:
    top = max((bar.value for bar in chart.bars), default=0)
    bars = [
        ShownBar(
            bar=bar,
            url=changelist_url(request, bar.link),
            percent=round(100 * bar.value / top) if top else 0,
        )
        for bar in chart.bars
    ]
    return ShownChart(chart=chart, bars=bars, total=sum(bar.value for bar in chart.bars))


def build(request) -> Dashboard:
    """The :class:`Dashboard` of ``request.user`` (see the module docstring)."""
    panels = viewer_panels(request.user)
    stats = []
    for stat in panels.stats:
        url = changelist_url(request, stat.link)
        if url is None and stat.needs_link:
            continue
        stats.append(ShownStat(stat=stat, url=url))
    queues = []
    for queue in panels.queues:
        url = changelist_url(request, queue.link)
        if url is not None:
            queues.append(ShownQueue(queue=queue, url=url))
    return Dashboard(
        title=panels.title,
        stats=stats,
        charts=[_chart(request, chart) for chart in panels.charts],
        queues=queues,
        imports=activity.recent_imports(request),
        visits=activity.most_visited(request),
    )


@register.simple_tag(takes_context=True)
def dashboard(context) -> Dashboard | None:
    """The signed-in viewer's :class:`Dashboard`, or None without a request."""
    request = context.get("request")
    if request is None or not getattr(request, "user", None):
        return None
    return build(request)
