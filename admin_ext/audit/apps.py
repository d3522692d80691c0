from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The access log, the audit trail and its seals (app label ``audit``; DESIGN.md, "Audit")."""

    name = "admin_ext.audit"
    label = "audit"
    verbose_name = "Audit"
    default_auto_field = "django.db.models.BigAutoField"
