"""Querysets for clinic models; ``PatientQuerySet.visible_to`` is the one visibility rule."""

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

#: The actions a share grants: ``view_patient``, plus ``change_patient`` when ``can_change``.
SHARED_ACTIONS = ("view", "change")


def live_shares_q(now) -> Q:
    """``PatientShare`` rows in force at ``now``: not revoked, no expiry or a later one."""
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def lapsed_shares_q(now) -> Q:
    """``PatientShare`` rows past their expiry at ``now`` and not yet revoked.

    Their grants are still in guardian's tables until ``manage.py expire_shares``
    (``clinic.services.shares_expire``) removes them; ``visible_to`` ignores them.
    """
    return Q(revoked_at__isnull=True, expires_at__lte=now)


def _outlived_grants(action: str, now, *, holder_field: str, holder):
    """Lapsed shares that are the only thing behind a guardian grant row (a subquery).

    Meant for ``Exists()`` inside a query over ``Patient{User,Group}ObjectPermission``:
    it matches the outer row's patient (``content_object_id``) and the given holder
    (``holder_field`` is "user" or "group"; ``holder`` a user or ``OuterRef``). A
    grant row is outlived when a lapsed share of this holder on this patient that
    granted ``action`` exists, and no live share of the same holder, and (for a
    user) no primary-doctor assignment, grants it too: the same sources that
    ``clinic.services.patient_unshare`` keeps a grant for.
    """
    from clinic.models import PatientShare

    grants_action = Q(can_change=True) if action == "change" else Q()
    live = PatientShare.objects.filter(
        live_shares_q(now), grants_action, patient=OuterRef("patient_id"), **{holder_field: holder}
    )
    lapsed = PatientShare.objects.filter(
        lapsed_shares_q(now),
        grants_action,
        ~Exists(live),
        patient=OuterRef("content_object_id"),
        **{holder_field: holder},
    )
    if holder_field == "user":
        lapsed = lapsed.exclude(patient__primary_doctor__user=holder)
    return lapsed


class DoctorQuerySet(models.QuerySet):
    """Doctors: ``active()`` for those who take patients."""

    def active(self):
        return self.filter(active=True)


class PatientQuerySet(models.QuerySet):
    """Patients, with the work-queue filters and the visibility rule."""

    def active(self):
        """Patients whose status is active."""
        return self.filter(status="active")

    def archived(self):
        """Patients whose status is archived."""
        return self.filter(status="archived")

    def unassigned(self):
        """Active patients without a primary doctor."""
        return self.active().filter(primary_doctor__isnull=True)

    def visible_to(self, user, action: str = "view"):
        """The patients ``user`` may ``action`` ("view", "change", ...): the one rule.

        Every path that reads patients for a user starts here (changelists, change
        and history pages, exports, autocomplete, counts), so "may not see" is
        decided in one place (DESIGN.md, Permissions).

        - an inactive or anonymous user: none (fails closed);
        - a superuser, or a user holding the model permission ``clinic.<action>_patient``
          through their role: all patients;
        - anyone else: the patients on which they hold that permission as a
          django-guardian object permission, directly or through a group, except
          grants that only an expired share stands behind.

        Expiry at request time: a share's grants are guardian rows, removed by
        ``manage.py expire_shares`` some time after ``expires_at``. Until then each
        grant subquery drops the rows that a lapsed share is the only source of
        (``_outlived_grants``: a ``NOT EXISTS`` on ``clinic_patientshare`` matched by
        patient, holder and the clock). The shape stays two uncorrelated
        ``pk IN (...)`` subqueries over the user's own grant rows, and the extra
        probe runs per grant row through the share table's patient index, never
        per patient row: one query, whatever the size of the patient table.

        Returns a queryset (lazy); raises nothing.
        """
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        codename = f"{action}_patient"
        if user.is_superuser or user.has_perm(f"clinic.{codename}"):
            return self
        from clinic.models import PatientGroupObjectPermission, PatientUserObjectPermission

        direct = PatientUserObjectPermission.objects.filter(
            user=user, permission__codename=codename
        )
        via_groups = PatientGroupObjectPermission.objects.filter(
            group__user=user, permission__codename=codename
        )
        if action in SHARED_ACTIONS:
            now = timezone.now()
            direct = direct.exclude(
                Exists(_outlived_grants(action, now, holder_field="user", holder=user))
            )
            via_groups = via_groups.exclude(
                Exists(
                    _outlived_grants(action, now, holder_field="group", holder=OuterRef("group_id"))
                )
            )
        # One IN over the UNION of both grant subqueries: PostgreSQL joins the
        # user's grant rows to patients by primary key (a semi-join), where an OR
        # of two INs made it filter every patient row against both subqueries
        # (measured by `make bench`: a doctor's list at 1,000,000 patients took
        # 400 ms on page 1 and 2.7 s on the last page; 77 ms and 96 ms with this).
        grants = direct.values("content_object_id").union(
            via_groups.values("content_object_id"), all=True
        )
        return self.filter(pk__in=grants)

    def reachable_by(self, user, action: str = "view") -> bool:
        """Whether ``user`` may open a list of patients for ``action`` at all.

        True for a superuser or a holder of the model permission
        ``clinic.<action>_patient``, and for anyone holding that permission on at
        least one patient as a django-guardian object permission, directly or
        through a group. Which rows the list shows is still ``visible_to``'s
        decision: a user whose only grants come from shares that lapsed but are
        not yet swept by ``expire_shares`` opens an empty list.

        This asks the grant tables only (at most two small indexed queries), not
        the patient table, so the admin can ask it for every menu entry cheaply.
        Raises nothing.
        """
        if user is None or not user.is_authenticated or not user.is_active:
            return False
        codename = f"{action}_patient"
        if user.is_superuser or user.has_perm(f"clinic.{codename}"):
            return True
        from clinic.models import PatientGroupObjectPermission, PatientUserObjectPermission

        return (
            PatientUserObjectPermission.objects.filter(
                user=user, permission__codename=codename
            ).exists()
            or PatientGroupObjectPermission.objects.filter(
                group__user=user, permission__codename=codename
            ).exists()
        )

    def sharable_by(self, user):
        """The patients ``user`` may share with a colleague or end a share of (issue 5, item 11).

        - an inactive or anonymous user: none;
        - a superuser or a holder of ``clinic.share_patient`` (the Administrator
          role): all patients;
        - anyone else: the patients whose primary doctor is linked to ``user``,
          never a patient they reach only through a share (a covering colleague
          does not pass the patient on).

        Returns a queryset (lazy); raises nothing.
        """
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser or user.has_perm("clinic.share_patient"):
            return self
        return self.filter(primary_doctor__user=user)
