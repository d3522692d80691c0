"""Admin for users (with the profile inline), role groups and the login event log."""

import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.utils.text import get_text_list
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_history.admin import SimpleHistoryAdmin

from admin_ext.admin import changed_fields_reason
from admin_ext.history import AuditRecordAdminMixin, ReadOnlyHistoryMixin
from admin_ext.selection import ValidSelectionMixin
from admin_ext.sensitive import SensitiveFieldsMixin
from people import roles, services
from people.forms import AdminPasswordChangeForm, PhotoInput, UserChangeForm, UserCreationForm
from people.models import LoginEvent, Profile, User
from people.two_factor.admin import TwoFactorResetMixin

logger = logging.getLogger(__name__)

MSG_INVITATION_NOT_SENT = (
    "The invitation could not be sent: the mail server did not accept it. Nothing was "
    "saved for this user; try again later, or ask the operator to check EMAIL_URL."
)


class ProfileInlineForm(forms.ModelForm):
    """A user's profile on their admin page; the photo checked as ``profile_update`` will."""

    class Meta:
        model = Profile
        fields = ["title", "phone", "photo"]
        widgets = {"photo": PhotoInput}

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        if photo and photo is not self.initial.get("photo") and hasattr(photo, "seek"):
            try:
                services.photo_process(photo)  # the check only; the service stores it
            except ValidationError as error:
                raise ValidationError(error.message_dict["photo"]) from None
            photo.seek(0)
        return photo


class ProfileInline(admin.StackedInline):
    """The profile on a user's page. Saved through ``people.services.profile_update``
    (``UserAdmin.save_formset``); the photo links to the permission-checked view."""

    model = Profile
    form = ProfileInlineForm
    can_delete = False
    fields = ["title", "phone", "photo", "login_count", "last_login_ip"]
    readonly_fields = ["login_count", "last_login_ip"]


@admin.register(User)
class UserAdmin(
    ValidSelectionMixin,
    TwoFactorResetMixin,
    SensitiveFieldsMixin,
    DjangoUserAdmin,
    ReadOnlyHistoryMixin,
    SimpleHistoryAdmin,
):
    """Django's UserAdmin for an email login; writes go through people.services.

    The password change page is Django's ``user_change_password``, which calls
    ``update_session_auth_hash`` so changing your own password keeps you signed in;
    its form (``people.forms.AdminPasswordChangeForm``) sets the password through
    ``people.services.user_set_password``, so history names the actor and the reason.
    History pages only read (``admin_ext.history``): simple-history's version page
    would otherwise save a user's old version, roles included, for anyone who may
    view users. Lookups through relations honour other admins' sensitive fields
    (``admin_ext.sensitive``).
    """

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    inlines = [ProfileInline]
    list_display = ["email", "first_name", "last_name", "roles", "is_active", "last_login"]
    list_filter = ["is_active", "is_superuser", "groups"]
    actions = ["resend_invitation"]
    search_fields = ["email", "first_name", "last_name"]
    ordering = ["email"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name"]}),
        ("Role and access", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                # No password: the user sets their own through the invitation link.
                "fields": ["email", "first_name", "last_name", "role"],
            },
        ),
    ]

    def get_inlines(self, request, obj):
        # On the add page the post_save receiver creates the Profile; an inline
        # there would try to create a second one.
        return self.inlines if obj else []

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def roles(self, obj):
        return ", ".join(obj.role_names)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Only an operator may make or unmake superusers: anyone else with
            # change_user could otherwise grant themselves every permission.
            readonly += ["is_superuser"]
        return readonly

    def has_change_permission(self, request, obj=None):
        # Only an operator may change a superuser: anyone else with change_user could
        # set an operator's password or email and sign in with every permission.
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def add_view(self, request, form_url="", extra_context=None):
        """Django's add page; when the invitation cannot be mailed, nothing is saved
        (``user_invite`` rolls back) and the page says so instead of answering 500."""
        try:
            return super().add_view(request, form_url, extra_context)
        except OSError:  # smtplib.SMTPException is one; so is a refused connection
            logger.warning("Invitation mail failed; the user was not created", exc_info=True)
            self.message_user(request, MSG_INVITATION_NOT_SENT, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_form(self, request, form, change):
        """On the add page, invite the user through ``people.services.user_invite``.

        The add form only collects the input; the service creates the user with an
        unusable password and the chosen role, writes the history row (actor,
        reason) and emails the set-password link; the post_save receiver adds the
        Profile. The admin then carries on (log entry, redirect) with the saved
        user. The change page keeps Django's behaviour; ``save_model`` writes it
        through ``user_update``.
        """
        if change:
            return super().save_form(request, form, change)
        user = services.user_invite(
            email=form.cleaned_data["email"],
            first_name=form.cleaned_data.get("first_name", ""),
            last_name=form.cleaned_data.get("last_name", ""),
            role=form.cleaned_data.get("role"),
            actor=request.user,
            reason=f"Invited in admin by {request.user}",
        )
        self.message_user(request, f"An invitation to set a password was sent to {user.email}.")
        return user

    @admin.action(permissions=["change"], description="Send the invitation again")
    def resend_invitation(self, request, queryset):
        """``people.services.user_invite_resend`` for each selected user who has not set
        a password yet; the others are named in a warning."""
        sent, refused = [], []
        for user in queryset.order_by("email"):
            if not self.has_change_permission(request, user):
                refused.append(user.email)
                continue
            try:
                services.user_invite_resend(
                    user=user, actor=request.user, reason=f"Invitation re-sent by {request.user}"
                )
            except ValidationError:
                refused.append(user.email)
            except OSError:
                logger.warning("Invitation mail failed", exc_info=True)
                self.message_user(request, MSG_INVITATION_NOT_SENT, messages.ERROR)
                break
            else:
                sent.append(user.email)
        if sent:
            self.message_user(
                request,
                ngettext("%d invitation sent.", "%d invitations sent.", len(sent)) % len(sent),
            )
        if refused:
            self.message_user(
                request,
                "Not sent (a password is already set, the account is inactive, or it is "
                f"not yours to change): {', '.join(refused)}.",
                messages.WARNING,
            )

    def save_model(self, request, obj, form, change):
        """Save a changed user through ``people.services.user_update`` (added users are
        already saved by ``save_form``)."""
        if change:
            services.user_update(user=obj, actor=request.user, reason=changed_fields_reason(form))

    def save_formset(self, request, form, formset, change):
        """The profile inline through ``people.services.profile_update``; others Django's."""
        if formset.model is not Profile:
            return super().save_formset(request, form, formset, change)
        # What BaseModelFormSet.save() records, for the admin's change message.
        formset.new_objects, formset.deleted_objects, formset.changed_objects = [], [], []
        for profile_form in formset.forms:
            if profile_form.has_changed():
                services.profile_update(
                    profile=profile_form.instance,
                    actor=request.user,
                    reason=changed_fields_reason(profile_form),
                )
                formset.changed_objects.append((profile_form.instance, profile_form.changed_data))
        return None

    def save_related(self, request, form, formsets, change):
        # The add form has no many-to-many fields and the service already saved
        # the user; there is nothing of the form's left to save.
        if change:
            super().save_related(request, form, formsets, change)

    def has_delete_permission(self, request, obj=None):
        # Deactivate instead: deleting a user would orphan their audit trail.
        return False


@admin.register(LoginEvent)
class LoginEventAdmin(AuditRecordAdminMixin, admin.ModelAdmin):
    """Read-only log of sign-ins, failures and sign-outs (history page: GET, hidden as missing)."""

    list_display = ["created_at", "kind", "email", "user", "ip_address", "user_agent"]
    list_filter = ["kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["email", "ip_address"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"


ROLE_GROUPS_ARE_CODE = (
    "Roles are defined in people/roles.py and change only through “python manage.py sync_roles”."
)


def is_role_group(group: Group) -> bool:
    """Whether ``group`` is one of the roles of ``people/roles.py``."""
    return group.name in roles.ROLES


class GroupForm(forms.ModelForm):
    """The group form; a new or renamed group may not take a role's name."""

    class Meta:
        model = Group
        fields = ["name", "permissions"]

    def clean_name(self):
        name = self.cleaned_data["name"]
        if name in roles.ROLES:
            # A group named like a role would become that role (sync_roles finds
            # roles by name), with whatever members and permissions it has here.
            raise ValidationError(f"“{name}” is a role. {ROLE_GROUPS_ARE_CODE}", code="role_name")
        return name


admin.site.unregister(Group)

# django-otp's own device admins (its apps come before this one in INSTALLED_APPS, so
# they are registered by now) would let a superuser read a user's TOTP secret and
# recovery codes, or add a device for someone else. Devices change only through the
# two-factor pages and "Reset two-factor" on the user's page (people.two_factor).
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)


@admin.register(Group)
class GroupAdmin(ValidSelectionMixin, ReadOnlyHistoryMixin, DjangoGroupAdmin):
    """Django's group admin, with the role groups read-only and undeletable.

    A role group's name and permissions are code (``people/roles.py``, applied by
    ``sync_roles``), and every user's access hangs on it: deleting "Auditor" left
    every auditor with 403 on every page, renaming a role makes the next sync create
    an empty namesake, and edited permissions silently differ from the table until
    the next sync. So nobody, superusers included, changes or deletes a role group
    here (change page, delete page, "Delete selected"). Other groups keep Django's
    behaviour for whoever holds the group permissions. The history page (Django's
    log) answers GET only, a group the user may not view as missing.
    """

    form = GroupForm
    list_display = ["name", "is_role"]
    actions = ["delete_selected"]

    @admin.display(description="Role", boolean=True)
    def is_role(self, obj):
        return is_role_group(obj)

    def has_change_permission(self, request, obj=None):
        if obj is not None and is_role_group(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and is_role_group(obj):
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(permissions=["delete"], description="Delete selected groups")
    def delete_selected(self, request, queryset):
        """Django's "Delete selected", refused whole when the selection holds a role."""
        # Django's action asks has_delete_permission without the objects, so the
        # per-object rule above does not reach it; check the selection here.
        role_names = sorted(queryset.filter(name__in=roles.ROLES).values_list("name", flat=True))
        if role_names:
            self.message_user(
                request,
                f"Nothing was deleted: {get_text_list(role_names, 'and')} "
                f"{'is a role' if len(role_names) == 1 else 'are roles'}. {ROLE_GROUPS_ARE_CODE}",
                messages.ERROR,
            )
            return None
        return django_delete_selected(self, request, queryset)

    def delete_model(self, request, obj):
        if is_role_group(obj):
            raise PermissionDenied(ROLE_GROUPS_ARE_CODE)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        if queryset.filter(name__in=roles.ROLES).exists():
            raise PermissionDenied(ROLE_GROUPS_ARE_CODE)
        super().delete_queryset(request, queryset)

    def save_model(self, request, obj, form, change):
        # Behind has_change_permission and GroupForm: never write a role group here.
        stored_role = change and Group.objects.filter(pk=obj.pk, name__in=roles.ROLES).exists()
        if stored_role or is_role_group(obj):
            raise PermissionDenied(ROLE_GROUPS_ARE_CODE)
        super().save_model(request, obj, form, change)


# django-axes' failed sign-ins and the unlock action (AXES_ENABLE_ADMIN is off).
from people import lockout_admin  # noqa: E402,F401
