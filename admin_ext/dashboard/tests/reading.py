"""Reading the admin dashboard's panels out of its HTML, for the dashboard tests."""

import re

from django.urls import reverse


def text(html: str) -> str:
    """``html`` without tags, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def panels(html: str) -> str:
    """The dashboard panels' HTML (the numbers, queues, charts, imports and visits)."""
    start = html.index('id="dashboard-panels"')
    return html[start : html.index('id="dashboard-sections"', start)]


def element(html: str, element_id: str) -> str | None:
    """The HTML from ``id="<element_id>"`` to the next panel element, or None."""
    start = html.find(f'id="{element_id}"')
    if start < 0:
        return None
    ends = [
        i
        for marker in ('id="stat-', 'id="queue-', 'id="chart-', 'id="dashboard-')
        if (i := html.find(marker, start + 1)) > 0
    ]
    return html[start : min(ends, default=len(html))]


def number(fragment: str) -> int:
    """The first ``dashboard-value`` number in ``fragment`` (thousands separators dropped)."""
    match = re.search(r"dashboard-value[^>]*>\s*([\d,]+)\s*<", fragment)
    return int(match.group(1).replace(",", ""))


def stats(html: str) -> dict[str, int]:
    """``{stat key: number}`` of the numbers the dashboard shows."""
    section = panels(html)
    keys = re.findall(r'id="stat-(\w+)"', section)
    return {key: number(element(section, f"stat-{key}")) for key in keys}


def stat_url(html: str, key: str) -> str | None:
    """Where the number ``key`` links to, or None."""
    match = re.search(r'href="([^"]+)"', element(panels(html), f"stat-{key}"))
    return match.group(1).replace("&amp;", "&") if match else None


def queues(html: str) -> dict[str, tuple[int, str]]:
    """``{queue key: (size, url)}`` of the work queues shown."""
    section = panels(html)
    shown = {}
    for key in re.findall(r'id="queue-(\w+)"', section):
        fragment = element(section, f"queue-{key}")
        shown[key] = (number(fragment), re.search(r'href="([^"]+)"', fragment).group(1))
    return shown


def chart(html: str, key: str) -> list[tuple[str, int, str | None]] | None:
    """The bars of chart ``key`` as ``(label, number, url)``, [] when it says it is
    empty, None when the dashboard has no such chart."""
    fragment = element(panels(html), f"chart-{key}")
    if fragment is None:
        return None
    bars = []
    for row in re.findall(r"<tr>(.*?)</tr>", fragment, re.S):
        label = text(re.search(r"<th[^>]*>(.*?)</th>", row, re.S).group(1))
        link = re.search(r'href="([^"]+)"', row)
        bars.append((label, number(row), link.group(1).replace("&amp;", "&") if link else None))
    return bars


def index_url() -> str:
    return reverse("admin:index")
