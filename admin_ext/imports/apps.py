from django.apps import AppConfig


class ImportsConfig(AppConfig):
    """Import jobs and uploads (app label ``imports``)."""

    name = "admin_ext.imports"
    label = "imports"
    verbose_name = "Imports"
    default_auto_field = "django.db.models.BigAutoField"
