from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The access log, the audit trail and its seals (app label ``audit``; DESIGN.md, "Audit")."""

    name = "admin_ext.audit"
    label = "audit"
    verbose_name = "Audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from simple_history.signals import pre_create_historical_record

        from admin_ext.audit.services import fill_default_change_reason

        pre_create_historical_record.connect(
            fill_default_change_reason, dispatch_uid="audit_default_change_reason"
        )
