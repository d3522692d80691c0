"""Admin forms for the email-login ``User`` (Django's forms with our model in ``Meta``),
and Django's password forms with their saves routed through ``people.services``."""

from django import forms
from django.contrib.admin import forms as admin_forms
from django.contrib.auth import forms as auth_forms

from admin_ext.audit.services import current_request
from people import roles, services
from people.models import User


class UserCreationForm(auth_forms.AdminUserCreationForm):
    """Add-user form: email, password twice, and the role (Front desk by default)."""

    role = forms.ChoiceField(
        choices=[(name, name) for name in roles.ROLES],
        initial=roles.DEFAULT_ROLE,
        help_text="What the user may do; see the roles table in docs.",
    )

    class Meta(auth_forms.AdminUserCreationForm.Meta):
        model = User
        fields = ["email", "first_name", "last_name"]


class UserChangeForm(auth_forms.UserChangeForm):
    """Change-user form (Django's, for our model)."""

    class Meta(auth_forms.UserChangeForm.Meta):
        model = User
        fields = "__all__"


def _request_user() -> User | None:
    """The signed-in user of the request being served, else None.

    Django's ``UserAdmin.user_change_password`` view builds its form from the target
    user and the POST data only; simple-history's ``HistoryRequestMiddleware`` keeps
    the request for the view's duration (it is what attributes history rows written
    without an explicit actor), so the form takes the actor from there.
    """
    user = getattr(current_request(), "user", None)
    return user if user is not None and user.is_authenticated else None


class AdminPasswordChangeForm(auth_forms.AdminPasswordChangeForm):
    """The admin's set-password form for a user (``<id>/password/``), through
    ``people.services.user_set_password``.

    The history row names the signed-in user as the actor and says
    ``"Password changed by <actor>"`` (or that password sign-in was disabled). The
    password itself is excluded from history.
    """

    def save(self, commit=True):
        """Set the password (or make it unusable) with history; ``commit=False``: Django's."""
        if not commit:
            return super().save(commit=False)
        usable = self.cleaned_data["set_usable_password"]
        actor = _request_user()
        return services.user_set_password(
            user=self.user,
            password=self.cleaned_data["password1"] if usable else None,
            actor=actor,
            reason=services.reason_password_changed(actor, usable=usable),
        )


class _SelfServicePasswordSave:
    """``save()`` for the forms where the user sets their own new password
    (``new_password1``): through ``people.services.user_set_password``, the user the
    actor, :meth:`reason` the history reason."""

    def reason(self) -> str:
        raise NotImplementedError

    def save(self, commit=True):
        """Set the new password with history; ``commit=False``: Django's."""
        if not commit:
            return super().save(commit=False)
        return services.user_set_password(
            user=self.user,
            password=self.cleaned_data["new_password1"],
            actor=self.user,
            reason=self.reason(),
        )


class OwnPasswordChangeForm(_SelfServicePasswordSave, admin_forms.AdminPasswordChangeForm):
    """The admin's "Change password" page for the signed-in user (old password, new
    twice), through ``people.services.user_set_password``: the user is the actor."""

    def reason(self) -> str:
        return services.reason_password_changed(self.user)


class PasswordResetSetForm(_SelfServicePasswordSave, auth_forms.SetPasswordForm):
    """The new-password form behind the emailed reset link, through
    ``people.services.user_set_password``: the user who holds the link is the actor,
    the reason ``"Password reset by email link"``."""

    def reason(self) -> str:
        return services.REASON_PASSWORD_RESET
