from django.apps import AppConfig


class AdminExtConfig(AppConfig):
    """Shared admin machinery: the base ModelAdmin, actions, import plumbing, theme."""

    name = "admin_ext"
    verbose_name = "Admin extensions"

    def ready(self):
        # The side menu's sections and the labelled autocomplete (admin_ext.site).
        from django.contrib import admin

        from admin_ext import site

        site.install(admin.site)
