"""Admin forms for the email-login ``User`` (Django's forms with our model in ``Meta``),
and Django's password forms with their saves routed through ``people.services``."""

import functools

from django import forms
from django.contrib.admin import forms as admin_forms
from django.contrib.auth import forms as auth_forms
from django.urls import reverse

from admin_ext.audit.services import current_request
from people import roles, services
from people.models import Profile, User


class UserCreationForm(forms.ModelForm):
    """Add-user form (an invitation): email, names and the role (Front desk by default).

    No password field: the administrator never types or sees the user's password.
    ``UserAdmin.save_form`` calls ``people.services.user_invite``, which creates the
    user with an unusable password and emails a set-password link.
    """

    role = forms.ChoiceField(
        choices=[(name, name) for name in roles.ROLES],
        initial=roles.DEFAULT_ROLE,
        help_text="What the user may do; see the roles table in docs.",
    )

    class Meta:
        model = User
        fields = ["email", "first_name", "last_name"]
        help_texts = {
            "email": "The user's sign-in. An invitation with a link to set their "
            "password is sent to this address."
        }


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


class PasswordResetRequestForm(auth_forms.PasswordResetForm):
    """The "Forgotten your password?" form: Django's, its emails sent through
    ``people.services.password_reset_request`` (throttled, access-logged)."""

    def save(self, *, request, **options):
        services.password_reset_request(
            email=self.cleaned_data["email"],
            request=request,
            send=functools.partial(super().save, request=request, **options),
        )


class PasswordResetSetForm(_SelfServicePasswordSave, auth_forms.SetPasswordForm):
    """The new-password form behind the emailed reset link, through
    ``people.services.user_set_password``: the user who holds the link is the actor,
    the reason ``"Password reset by email link"``."""

    def reason(self) -> str:
        return services.REASON_PASSWORD_RESET


class _PhotoLink:
    """A stored photo as :class:`PhotoInput` shows it: a link to the permission-checked
    photo view (never the storage's own URL under /media/, which is not served) and a
    plain name instead of the file's random storage name."""

    def __init__(self, photo):
        self.url = reverse("profile_photo", args=[photo.instance.user_id])

    def __str__(self):
        return "Current photo"


class PhotoInput(forms.ClearableFileInput):
    """The photo field's widget: Django's file input with "Currently" and "Clear",
    its link going to ``people.views.profile_photo``; accepts images only."""

    def __init__(self, attrs=None):
        super().__init__({"accept": "image/jpeg,image/png,image/gif,image/webp", **(attrs or {})})

    def format_value(self, value):
        value = super().format_value(value)
        return _PhotoLink(value) if value and getattr(value, "instance", None) else value


class ProfileForm(forms.ModelForm):
    """The "My profile" form: the signed-in user's title, phone and photo.

    Only collects and checks the input; ``people.views.my_profile`` saves it through
    ``people.services.profile_update``, which checks the photo by its content.
    """

    class Meta:
        model = Profile
        fields = list(services.PROFILE_FIELDS)
        widgets = {
            "title": forms.TextInput(attrs={"class": "form-control"}),
            "phone": forms.TextInput(attrs={"class": "form-control", "autocomplete": "tel"}),
            "photo": PhotoInput(attrs={"class": "form-control"}),
        }
        help_texts = {
            "photo": "JPEG, PNG, GIF or WebP, up to 5 MB; shown beside your name.",
            "title": "For example: Registrar, Cardiologist.",
        }

    def _post_clean(self):
        # No construct_instance: the form never changes the profile; the service does.
        pass

    def changed_fields(self) -> dict:
        """The changed fields and their new values, for ``profile_update`` (``photo``:
        the upload, or ``False`` when "Clear" was ticked)."""
        return {name: self.cleaned_data[name] for name in self.changed_data}
