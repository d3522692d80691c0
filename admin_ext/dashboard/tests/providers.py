"""A dashboard provider for the cache tests: it counts how often it computes."""

from admin_ext.dashboard.panels import DashboardProvider, Panels, Stat


class CountingProvider(DashboardProvider):
    """Viewers are keyed by their string; ``computed`` counts the misses, and
    ``valid_until`` is what every Panels it makes carries."""

    computed = 0
    valid_until = None

    def viewer_key(self, user) -> str:
        return str(user)

    def panels(self, user) -> Panels:
        CountingProvider.computed += 1
        return Panels(
            title=f"For {user}",
            stats=(Stat("n", "Computed", CountingProvider.computed),),
            valid_until=CountingProvider.valid_until,
        )
