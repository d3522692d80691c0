"""Admin forms for the email-login ``User`` (Django's forms with our model in ``Meta``)."""

from django import forms
from django.contrib.auth import forms as auth_forms

from people import roles
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


class AdminPasswordChangeForm(auth_forms.AdminPasswordChangeForm):
    """The admin's set-password form; the history row it writes carries a reason.

    The password itself is excluded from history; the row records that it changed,
    who changed it (simple-history's request middleware) and why.
    """

    def save(self, commit=True):
        """Set the password (Django's form) with ``"Password changed in admin"`` as reason."""
        self.user._change_reason = "Password changed in admin"
        return super().save(commit)
