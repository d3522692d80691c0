"""The dashboard's numbers in Django's cache, never stale after a save.

Keys: ``dashboard:<version>:<viewer key>``. The version (:data:`VERSION_KEY`) is a
number in the same cache; every service that changes what the dashboard counts
calls :func:`counts_changed`, which bumps it (at once and when the transaction
commits), so every
key written before is never read again (and expires on its own). A viewer's
numbers are computed once per version and then read from the cache by every
viewer with the same key (:meth:`~admin_ext.dashboard.panels.DashboardProvider.
viewer_key`).

Why this is safe:

- the version is read *before* the numbers are computed, so numbers computed from
  data older than a commit are stored under the older version, which that
  commit's bump has already left behind;
- numbers are never stored from inside an atomic block: they could count rows
  that the transaction then rolls back (a test case, a request in a transaction);
  there the dashboard computes them each time;
- ``settings.DASHBOARD_CACHE_SECONDS`` bounds how long an entry lives, and a
  provider's ``valid_until`` (a share that lapses) shortens it. With the default
  local-memory cache each process has its own version: a write in another process
  (a management command, another gunicorn worker) reaches this one's dashboard
  after at most that many seconds. Production uses a shared cache (Redis,
  ``CACHE_URL``) so that every process sees every bump at once.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from admin_ext.dashboard.panels import Panels, provider

#: The cache key holding the current version of every dashboard's numbers.
VERSION_KEY = "dashboard:version"

#: Default of ``settings.DASHBOARD_CACHE_SECONDS``: the longest an entry lives.
DEFAULT_CACHE_SECONDS = 300


def _bump() -> None:
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        # Missing (never set, evicted, cache cleared): start from the clock, so a
        # new version never repeats one that keys may still be stored under.
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)


def counts_changed() -> None:
    """Say that what the dashboard counts has changed: every viewer's numbers are
    recomputed on their next view, from now and again once the current transaction
    commits. Call it from every service that writes such rows. Returns None.

    Bumped twice: now, so that the writing transaction itself does not read numbers
    from before its write; and on commit, because numbers another viewer computed
    meanwhile (before the commit, from the old rows) were stored under the first
    bump's version. A rolled-back write leaves only the first bump, whose entries
    hold the old rows, which are still the true ones.
    """
    _bump()
    transaction.on_commit(_bump)


def counts_changed_after_migrate(**kwargs) -> None:
    """``post_migrate`` receiver: ``migrate`` and ``flush`` write without services."""
    _bump()


def current_version() -> int:
    """The current version (set from the clock when the cache has none)."""
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)
        version = cache.get(VERSION_KEY)
    return version


def _timeout(panels: Panels) -> int:
    seconds = getattr(settings, "DASHBOARD_CACHE_SECONDS", DEFAULT_CACHE_SECONDS)
    if panels.valid_until is not None:
        left = (panels.valid_until - timezone.now()).total_seconds()
        seconds = min(seconds, int(left))
    return max(seconds, 0)


def viewer_panels(user) -> Panels:
    """The provider's :class:`~admin_ext.dashboard.panels.Panels` for ``user``, from
    the cache when the current version has them, else computed (and stored, outside
    atomic blocks). Raises what the provider raises."""
    source = provider()
    version = current_version()
    key = f"dashboard:{version}:{source.viewer_key(user)}"
    panels = cache.get(key)
    if panels is None:
        panels = source.panels(user)
        timeout = _timeout(panels)
        if timeout and not connection.in_atomic_block:
            cache.set(key, panels, timeout)
    return panels
