"""Health endpoints for load balancers and orchestrators (docs/operations.md).

- ``/health/live/`` (liveness): the process answers; touches neither the database nor
  the cache, so a database outage does not get every worker restarted.
- ``/health/ready/`` (readiness): the database answers ``SELECT 1``, the cache stores
  and returns a value, and no migration is left unapplied (django-health-check's
  ``Database`` and ``Cache`` checks, and :class:`Migrations` here).

Both are anonymous, never cached, outside ``/admin/`` (no sign-in, no two-factor step)
and exempt from the HTTPS redirect (``SECURE_REDIRECT_EXEMPT``), since load balancers
probe over plain HTTP. They answer JSON: ``{"status": "ok"}`` with 200, or for
readiness ``{"status": "unavailable", "checks": {"database": "ok", "cache": "ok",
"migrations": "unavailable"}}`` with 503. Only check names and ok/unavailable leave
the process: no error text (it can name hosts), no versions, no data; the library logs
the failure itself (logger ``health_check``, a warning with the traceback).
"""

from __future__ import annotations

import asyncio
import dataclasses

from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

OK = "ok"
UNAVAILABLE = "unavailable"


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration of every installed app is applied on database ``alias``.

    A new release started against a database its ``migrate`` has not reached yet would
    fail on the first query of a new column: such an instance is not ready. Reads the
    migration files and the ``django_migrations`` table (about 3 ms).

    Raises ``ServiceUnavailable`` when a migration is unapplied or the database cannot
    be read (django-health-check turns it into an unhealthy result).
    """

    alias: str = "default"

    def run(self) -> None:
        connection = connections[self.alias]
        try:
            # Runs in a worker thread of its own: close what it opened.
            with connection.temporary_connection():
                executor = MigrationExecutor(connection)
                plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as error:
            raise ServiceUnavailable("Cannot read the applied migrations") from error
        if plan:
            raise ServiceUnavailable(f"{len(plan)} unapplied migrations")


@require_safe
def live(request):
    """Liveness: 200 ``{"status": "ok"}`` while the process serves requests (GET, HEAD)."""
    response = JsonResponse({"status": OK})
    add_never_cache_headers(response)
    return response


class ReadyView(HealthCheckView):
    """Readiness: 200 when every check passes, else 503; JSON whatever the Accept header
    (django-health-check's HTML, feed and metrics renderings are not served: they show
    the error texts).

    ``checks`` names the checks as django-health-check takes them; the answer's keys
    are their class names in lower case.
    """

    http_method_names = ["get", "head"]
    checks = (
        "health_check.checks.Database",
        "health_check.checks.Cache",
        "backoffice.health.Migrations",
    )

    async def get(self, request, *args, **kwargs):
        with self.get_executor() as executor:
            results = await asyncio.gather(
                *(check.get_result(executor) for check in self.get_checks())
            )
        checks = {
            type(result.check).__name__.lower(): OK if result.error is None else UNAVAILABLE
            for result in results
        }
        healthy = all(state == OK for state in checks.values())
        response = JsonResponse(
            {"status": OK if healthy else UNAVAILABLE, "checks": checks},
            status=200 if healthy else 503,
        )
        # Django would log each 503 on "django.request" at ERROR, which emails ADMINS:
        # one email per probe, every few seconds, during an outage. The failed check
        # is already logged (a warning on "health_check"), and the access line too.
        response._has_been_logged = True
        return response


ready = ReadyView.as_view()
