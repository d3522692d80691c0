from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DashboardConfig(AppConfig):
    """The admin index dashboard (app label ``dashboard``; no models)."""

    name = "admin_ext.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"

    def ready(self):
        from admin_ext.dashboard.cache import counts_changed_after_migrate

        # migrate and flush (a data migration, a test database reset) change rows
        # without a service: the cached counts are unknown afterwards. Any sender:
        # Django sends post_migrate only for apps with models, which this one lacks.
        post_migrate.connect(counts_changed_after_migrate, dispatch_uid="dashboard_after_migrate")
