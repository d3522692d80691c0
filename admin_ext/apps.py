from django.apps import AppConfig


class AdminExtConfig(AppConfig):
    """Shared admin machinery: the base ModelAdmin, actions, import plumbing, theme."""

    name = "admin_ext"
    verbose_name = "Admin extensions"
