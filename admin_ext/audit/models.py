"""Access-log rows and the seals that make the audit trail tamper-evident.

DESIGN.md, "Audit". HIPAA's audit-control standard (45 CFR 164.312(b)) asks that
activity on PHI be recorded and examinable, reads included: :class:`AccessLog` holds
one row per look (a patient's page, a search result, an export), per import, per
unmasked SSN, per sign-in and per permission grant or revoke. Writes go through
``admin_ext.audit.services``; nothing updates or deletes a row.

:class:`AuditSeal` rows chain SHA-256 digests over the access log and every
simple-history table (ONC 170.315(d)(2), tamper detection); ``admin_ext.audit.chain``
writes and verifies them.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class AccessLog(models.Model):
    """One access to PHI or to the system: who (actor), did what (action), to what, from where.

    ``object_id``/``content_type`` name the record looked at, when there is one;
    ``object_repr`` keeps its label as it was. ``detail`` holds what the action adds
    (an export's ``rows`` and ``filter``, an import's ``job``, a grant's
    ``permissions``), JSON. ``actor`` is null for the system and for a failed sign-in
    on an unknown email; ``actor_label`` keeps the email either way. Foreign keys
    protect their target: deleting a user or content type would rewrite sealed rows.
    """

    class Action(models.TextChoices):
        VIEW = "view", "Viewed record"
        VIEW_HISTORY = "view_history", "Viewed history"
        SEARCH = "search", "Listed in search result"
        EXPORT = "export", "Exported"
        IMPORT = "import", "Imported"
        SSN_REVEAL = "ssn_reveal", "Revealed SSN"
        LOGIN = "login", "Signed in"
        LOGIN_FAILED = "login_failed", "Sign-in failed"
        LOGOUT = "logout", "Signed out"
        GRANT = "grant", "Granted access"
        REVOKE = "revoke", "Revoked access"
        # Two-factor sign-in (people.two_factor): the object is the user concerned.
        OTP_ENROLL = "otp_enroll", "Enrolled two-factor"
        OTP_FAILED = "otp_failed", "Two-factor code refused"
        OTP_RECOVERY_USED = "otp_recovery_used", "Used a recovery code"
        OTP_CODES_RENEWED = "otp_codes_renewed", "New recovery codes"
        OTP_DISABLE = "otp_disable", "Turned two-factor off"
        OTP_RESET = "otp_reset", "Reset two-factor"
        # Sign-in lockout (django-axes) cleared: people.services.lockout_clear.
        UNLOCK = "unlock", "Unlocked sign-in"
        # "Forgotten your password?" (people.services.password_reset_request).
        RESET_REQUESTED = "reset_requested", "Password reset requested"

    created_at = models.DateTimeField("time", default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="access_log",
        verbose_name="actor",
    )
    actor_label = models.CharField("actor email", max_length=254, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    content_type = models.ForeignKey(
        ContentType,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="model",
    )
    object_id = models.CharField("object ID", max_length=64, blank=True)
    object_repr = models.CharField("object", max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    request_id = models.CharField("request ID", max_length=64, blank=True)

    class Meta:
        verbose_name = "access log entry"
        verbose_name_plural = "access log"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at", "id"], name="audit_access_time"),
            models.Index(fields=["actor", "created_at"], name="audit_access_actor_time"),
            models.Index(
                fields=["content_type", "object_id", "created_at"], name="audit_access_object_time"
            ),
            models.Index(fields=["action", "created_at"], name="audit_access_action_time"),
        ]
        permissions = [
            ("view_all_accesslog", "Can view every access log entry and history row"),
            ("export_audit", "Can export the audit trail"),
        ]

    def __str__(self):
        what = f" {self.object_repr}" if self.object_repr else ""
        return f"{self.actor_label or 'system'}: {self.get_action_display()}{what}"


class AuditSeal(models.Model):
    """One link of the hash chain: the audit rows written since the previous seal.

    ``digest`` is SHA-256 (hex) over ``previous`` (the previous seal's digest, or 64
    zeros for the first) and, per source table in ``sources`` order, each sealed row's
    primary key and SHA-256. ``sources`` maps a source label (``app_label.Model``) to
    ``{"fields": [column names hashed], "after": last pk of the previous seal,
    "upto": last pk sealed, "count": rows}``. ``rows`` packs every sealed row's
    ``(pk, sha256)`` (:mod:`admin_ext.audit.chain`) so ``verify_audit`` can name the
    first row that no longer matches. ``trigger`` says what sealed it.
    """

    created_at = models.DateTimeField("sealed at", default=timezone.now)
    trigger = models.CharField(max_length=200, blank=True)
    previous = models.CharField("previous digest", max_length=64)
    digest = models.CharField(max_length=64, unique=True)
    sources = models.JSONField(default=dict)
    row_count = models.PositiveBigIntegerField("rows sealed", default=0)
    rows = models.BinaryField(editable=False)

    class Meta:
        verbose_name = "audit seal"
        verbose_name_plural = "audit seals"
        ordering = ["-id"]

    def __str__(self):
        return f"Seal #{self.pk} ({self.row_count} rows) {self.digest[:16]}…"
