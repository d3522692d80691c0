"""The "Access attempts" page: django-axes' failed sign-in counts, and unlocking.

Registered here instead of by django-axes (``AXES_ENABLE_ADMIN = False``): axes' own
admin lets anyone with the delete permission delete attempts without a trace and
offers an action that declares no permission. Here:

- Administrators and auditors read the list (``axes.view_accessattempt``, from
  ``people/roles.py``); nobody adds or edits an attempt, superusers included (the
  change page is read-only and refuses a POST).
- "Unlock" is deleting attempts through ``people.services.lockout_clear``, which
  also forgets the same account's attempts from other IPs and the same IP's for
  other accounts, and writes an access-log row naming the administrator and the
  reason. It takes ``axes.delete_accessattempt`` (Administrators). The delete page
  of one attempt is its unlock page; the bulk action replaces Django's "Delete
  selected" under the same name, so no delete path skips the service.
- Front desk, doctors and data stewards hold neither permission and do not see it.
"""

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.db.models import OuterRef, Subquery, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext

from admin_ext.history import ReadOnlyHistoryMixin
from admin_ext.selection import ValidSelectionMixin
from people import services


def _unlock(request, attempt) -> int:
    return services.lockout_clear(
        email=attempt.username,
        ip_address=attempt.ip_address,
        actor=request.user,
        reason=f"Unlocked in admin by {request.user}",
    )


class AccessAttemptAdmin(ValidSelectionMixin, ReadOnlyHistoryMixin, admin.ModelAdmin):
    """Failed sign-ins counted towards a lockout, newest first; unlock by deleting."""

    list_display = [
        "attempt_time",
        "username",
        "ip_address",
        "failures_since_start",
        "account_failures",
        "ip_failures",
        "locked",
        "user_agent",
    ]
    list_filter = [("attempt_time", admin.DateFieldListFilter)]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "attempt_time"
    # The stored GET/POST data holds nothing the list needs (axes masks the password).
    fields = [
        "username",
        "ip_address",
        "failures_since_start",
        "attempt_time",
        "user_agent",
        "path_info",
    ]
    readonly_fields = fields
    actions = ["delete_selected"]

    def get_queryset(self, request):
        # What axes counts (AXES_LOCKOUT_PARAMETERS): the failures of the row's account
        # from any IP, and of its IP for any account, within the cool-off. One row
        # holds one account from one IP, so its own count says neither; two subqueries
        # give both for the whole page in one query.
        recent = AccessAttempt.objects.filter(
            attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME
        )

        def total(field):
            rows = recent.filter(**{field: OuterRef(field)}).order_by().values(field)
            return Subquery(rows.annotate(total=Sum("failures_since_start")).values("total")[:1])

        return (
            super()
            .get_queryset(request)
            .annotate(account_total=total("username"), ip_total=total("ip_address"))
        )

    @admin.display(description="Failures (account)", ordering="account_total")
    def account_failures(self, obj):
        return obj.account_total or 0

    @admin.display(description="Failures (IP)", ordering="ip_total")
    def ip_failures(self, obj):
        return obj.ip_total or 0

    @admin.display(description="Locked out", boolean=True)
    def locked(self, obj):
        """Whether the row's account or IP is locked out now (within the cool-off)."""
        limit = settings.AXES_FAILURE_LIMIT
        return (obj.account_total or 0) >= limit or (obj.ip_total or 0) >= limit

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        """The delete page of an attempt unlocks its account and IP."""
        _unlock(request, obj)

    def delete_queryset(self, request, queryset):
        for attempt in list(queryset):
            _unlock(request, attempt)

    @admin.action(permissions=["delete"], description="Unlock selected (clear failed sign-ins)")
    def delete_selected(self, request, queryset):
        """Unlock the accounts and IPs of the selected attempts (no confirmation page:
        unlocking removes nothing anyone reads later; the access log keeps the act)."""
        attempts = list(queryset)
        for attempt in attempts:
            _unlock(request, attempt)
        self.message_user(
            request,
            ngettext("Unlocked %d sign-in lockout.", "Unlocked %d sign-in lockouts.", len(attempts))
            % len(attempts),
        )

    def response_delete(self, request, obj_display, obj_id):
        # Django sends whoever may not change attempts (nobody may) to the index; back
        # to the list of attempts instead, where the unlock shows.
        response = super().response_delete(request, obj_display, obj_id)
        response["Location"] = reverse("admin:axes_accessattempt_changelist")
        return response

    def get_deleted_objects(self, objs, request):
        # The confirmation lists the attempts as what is unlocked; Django's version
        # would ask for the delete permission of axes' expiration rows too.
        names = [format_html("{} from {}", o.username or "-", o.ip_address or "-") for o in objs]
        return names, {}, set(), []


admin.site.register(AccessAttempt, AccessAttemptAdmin)
