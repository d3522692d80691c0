""" "Reset two-factor" on a user's admin page (a lost phone), for ``people.admin.UserAdmin``.

:class:`TwoFactorResetMixin` adds ``<user id>/reset-two-factor/``
(``admin:people_user_reset_two_factor``): GET shows what will happen and asks for a
reason, POST deletes the user's authenticator and recovery codes through
``people.services.otp_reset`` (an ``otp_reset`` access-log row) and goes back to
the user's page. Who may: whoever may change that user (``people.change_user``;
a superuser only by a superuser, as ``UserAdmin.has_change_permission`` says);
others get 403; a user they may not view answers as a missing one.
"""

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from admin_ext.admin import add_service_error
from people import services
from people.two_factor import authenticator, is_required, recovery_codes_left


class ResetForm(forms.Form):
    """The reason for a reset, kept in the access log."""

    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.TextInput(attrs={"class": "vTextField"}),
        help_text="Kept in the audit trail, e.g. “Lost phone, identity checked by phone call”.",
    )


class TwoFactorResetMixin:
    """ModelAdmin mixin for the user model: the "Reset two-factor" page (see module)."""

    def get_urls(self):
        opts = self.opts
        urls = [
            path(
                "<path:object_id>/reset-two-factor/",
                self.admin_site.admin_view(self.reset_two_factor_view),
                name=f"{opts.app_label}_{opts.model_name}_reset_two_factor",
            )
        ]
        return urls + super().get_urls()

    def reset_two_factor_view(self, request, object_id):
        """GET: the confirmation page; POST ``reason``: reset, then the user's page."""
        user = self.get_object(request, unquote(object_id))
        if user is None or not self.has_view_or_change_permission(request, user):
            # A user one may not see answers as a missing one.
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, user) or not services.otp_may_reset(
            user=user, actor=request.user
        ):
            raise PermissionDenied
        form = ResetForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                deleted = services.otp_reset(
                    user=user, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                if deleted:
                    then = (
                        "They must set it up again at their next sign-in."
                        if is_required(user)
                        else "They sign in with their password only until they set it up again."
                    )
                    self.message_user(
                        request, f"Two-factor sign-in of {user} was reset. {then}", messages.SUCCESS
                    )
                else:
                    self.message_user(
                        request, f"{user} had no two-factor sign-in to reset.", messages.INFO
                    )
                return redirect(
                    f"admin:{self.opts.app_label}_{self.opts.model_name}_change", user.pk
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Reset two-factor sign-in",
            "opts": self.opts,
            "original": user,
            "form": form,
            "enrolled": authenticator(user) is not None,
            "codes_left": recovery_codes_left(user),
            "required": is_required(user),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/people/user/reset_two_factor.html", context)
