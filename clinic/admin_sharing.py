"""Sharing patients with a covering colleague or a team, in the patient admin (issue 5, item 11).

``PatientSharingMixin`` gives ``PatientAdmin``:

- the "Share access…" changelist action: an intermediate page asking for a
  colleague or a team, view or view and change, a reason and an optional expiry;
  offered only to users who may share some patient (``Patient.objects.sharable_by``);
- a "Shared access" section on the patient change page, for users who may share that
  patient: the live shares (who, access, reason, expiry, shared by) with a
  "Revoke…" link each, and a "Share access…" link;
- the pages behind those links: ``<id>/share/`` and ``<id>/shares/<share id>/revoke/``.

Writes go through ``clinic.services`` (``patients_share``, ``patient_unshare``),
whose errors show on the form. A patient the user may not share, or a share that
is not a live share of such a patient, answers as missing (the admin's "doesn't
exist" redirect) on GET and POST alike, so a crafted request writes nothing.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import ngettext

from admin_ext.admin import add_service_error
from clinic import services
from clinic.models import Patient, PatientShare
from clinic.querysets import live_shares_q
from people import roles
from people.models import User

ACCESS_CHOICES = [("view", "View"), ("change", "View and change")]

#: How many of the selected patients the action's page names (a selection can
#: span a million-row changelist; the page names a few and counts the rest).
LISTED_PATIENTS = 20


class ShareForm(forms.Form):
    """Who gets access, at what level, why and until when.

    ``actor`` decides the choices: holders of ``clinic.share_patient`` pick any
    active colleague or a team (a group that is not a role); anyone else picks a
    colleague with a doctor profile, and the team field is not there. The rules
    themselves are the service's (``services.patients_share``).
    """

    user = forms.ModelChoiceField(label="Colleague", queryset=User.objects.none(), required=False)
    group = forms.ModelChoiceField(
        label="Team",
        queryset=Group.objects.none(),
        required=False,
        help_text="Or share with a team instead of one colleague.",
    )
    can_change = forms.TypedChoiceField(
        label="Access",
        choices=ACCESS_CHOICES,
        coerce=lambda value: value == "change",
        initial="view",
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        max_length=500,
        help_text="Kept with the share and in its history, e.g. “Covering while on leave”.",
    )
    expires_at = forms.DateTimeField(
        label="Expires",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Optional. Access stops at this time; leave empty to share until revoked.",
    )

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        colleagues = (
            User.objects.filter(is_active=True)
            .exclude(pk=actor.pk)
            .order_by("last_name", "first_name", "email")
        )
        if actor.has_perm("clinic.share_patient"):
            self.fields["user"].queryset = colleagues
            self.fields["group"].queryset = Group.objects.exclude(name__in=roles.ROLES).order_by(
                "name"
            )
        else:
            self.fields["user"].queryset = colleagues.filter(doctor__isnull=False)
            self.fields["user"].required = True
            del self.fields["group"]


class UnshareForm(forms.Form):
    """The reason for ending a share."""

    reason = forms.CharField(
        max_length=500, help_text="Kept in the share's history, e.g. “Back from leave”."
    )


def describe_share(share: PatientShare) -> str:
    """``"Bob Brown <bob@example.com> (view and change, until 2025-07-01 18:00)"``."""
    access = "view and change" if share.can_change else "view only"
    until = (
        f", until {timezone.localtime(share.expires_at):%Y-%m-%d %H:%M}" if share.expires_at else ""
    )
    return f"{share.user or share.group} ({access}{until})"


class PatientSharingMixin:
    """The share action, section and pages for ``PatientAdmin`` (see the module docstring).

    Mix in before ``ClinicModelAdmin``; every hook calls ``super()``.
    """

    share_template = "admin/clinic/share_access.html"
    unshare_template = "admin/clinic/unshare_access.html"

    # -- who may share ------------------------------------------------------------

    def has_share_permission(self, request) -> bool:
        """Whether the user may share some patient: gates the "Share access…" action.

        Cached per request: the changelist asks for every action it filters.
        """
        cache = request.__dict__.setdefault("_clinic_may_share", {})
        if "any" not in cache:
            cache["any"] = Patient.objects.sharable_by(request.user).exists()
        return cache["any"]

    def may_share(self, request, patient) -> bool:
        """Whether the user may share ``patient`` and end its shares."""
        return Patient.objects.sharable_by(request.user).filter(pk=patient.pk).exists()

    def _sharable_patient(self, request, object_id):
        """The patient ``object_id`` if the user sees it and may share it, else None."""
        patient = self.get_object(request, unquote(object_id))
        if patient is None or not self.may_share(request, patient):
            return None
        return patient

    # -- the action ---------------------------------------------------------------

    @admin.action(description="Share access…", permissions=["share"])
    def share_access(self, request, queryset):
        """Ask who, what access, why and until when; share through ``services.patients_share``.

        The selection is the changelist's rows, so a patient the user does not see
        is not in it; one the user sees but may not share refuses the whole
        selection, on the form, and nothing is written.
        """
        form = ShareForm(request.POST if "apply" in request.POST else None, actor=request.user)
        if form.is_bound and form.is_valid():
            try:
                shares = services.patients_share(
                    patients=queryset, actor=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                add_service_error(form, exc)
            else:
                self._message_shared(request, shares)
                return None
        return self._render_share_form(
            request,
            form,
            patients=queryset,
            action_inputs={
                admin.helpers.ACTION_CHECKBOX_NAME: request.POST.getlist(
                    admin.helpers.ACTION_CHECKBOX_NAME
                ),
                "action": ["share_access"],
                "select_across": [request.POST.get("select_across", "0")],
            },
        )

    def _message_shared(self, request, shares) -> None:
        if not shares:
            self.message_user(request, "No patient was shared.", messages.WARNING)
            return
        self.message_user(
            request,
            ngettext(
                "Shared %(count)d patient with %(holder)s.",
                "Shared %(count)d patients with %(holder)s.",
                len(shares),
            )
            % {"count": len(shares), "holder": describe_share(shares[0])},
            messages.SUCCESS,
        )

    def _render_share_form(self, request, form, *, patients, action_inputs=None, patient=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "Share access",
            "opts": self.opts,
            "form": form,
            "patient_count": len(patients) if isinstance(patients, list) else patients.count(),
            "patients": patients[:LISTED_PATIENTS],
            "action_inputs": action_inputs or {},
            "original": patient,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, self.share_template, context)

    # -- the patient page: section and pages -----------------------------------------

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/share/",
                self.admin_site.admin_view(self.share_view),
                name=f"{prefix}_share",
            ),
            path(
                "<path:object_id>/shares/<int:share_id>/revoke/",
                self.admin_site.admin_view(self.unshare_view),
                name=f"{prefix}_unshare",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        """The change page, with the live shares for users who may share the patient.

        ``patient_shares`` (a list, possibly empty) is what
        ``templates/admin/clinic/patient/change_form.html`` draws as "Shared access";
        it is absent for everyone else.
        """
        # The work-queue proxies (unassigned, archived) keep the plain change page.
        if change and obj is not None and not self.opts.proxy and self.may_share(request, obj):
            context["patient_shares"] = list(
                obj.shares.filter(live_shares_q(timezone.now()))
                .select_related("user", "group", "created_by")
                .order_by("expires_at", "created_at")
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _change_url(self, patient) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[patient.pk]
        )

    def share_view(self, request, object_id):
        """Share one patient (``<id>/share/``): the action's form, for this patient."""
        patient = self._sharable_patient(request, object_id)
        if patient is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        form = ShareForm(request.POST if request.method == "POST" else None, actor=request.user)
        if form.is_bound and form.is_valid():
            try:
                share = services.patient_share(
                    patient=patient, actor=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                add_service_error(form, exc)
            else:
                self._message_shared(request, [share])
                return HttpResponseRedirect(self._change_url(patient))
        return self._render_share_form(request, form, patients=[patient], patient=patient)

    def unshare_view(self, request, object_id, share_id):
        """End one live share of the patient (``<id>/shares/<share id>/revoke/``), with a reason."""
        patient = self._sharable_patient(request, object_id)
        if patient is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        share = (
            patient.shares.filter(live_shares_q(timezone.now()), pk=share_id)
            .select_related("user", "group", "created_by")
            .first()
        )
        if share is None:
            return self._get_obj_does_not_exist_redirect(request, PatientShare._meta, str(share_id))
        form = UnshareForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                services.patient_unshare(
                    share=share, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                add_service_error(form, exc)
            else:
                self.message_user(
                    request, f"Ended the share with {describe_share(share)}.", messages.SUCCESS
                )
                return HttpResponseRedirect(self._change_url(patient))
        context = {
            **self.admin_site.each_context(request),
            "title": "Revoke access",
            "opts": self.opts,
            "form": form,
            "share": share,
            "share_description": describe_share(share),
            "original": patient,
        }
        return TemplateResponse(request, self.unshare_template, context)
