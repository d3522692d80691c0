"""Querysets for clinic models; ``PatientQuerySet.visible_to`` is the one visibility rule."""

from django.db import models


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
          django-guardian object permission, directly or through a group.

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
        ).values("content_object_id")
        via_groups = PatientGroupObjectPermission.objects.filter(
            group__user=user, permission__codename=codename
        ).values("content_object_id")
        return self.filter(models.Q(pk__in=direct) | models.Q(pk__in=via_groups))
