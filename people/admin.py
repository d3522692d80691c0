"""Admin for users (with the profile inline) and the login event log."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from simple_history.admin import SimpleHistoryAdmin

from admin_ext.admin import changed_fields_reason
from people import services
from people.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from people.models import LoginEvent, Profile, User


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ["title", "phone", "photo", "login_count", "last_login_ip"]
    readonly_fields = ["login_count", "last_login_ip"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin, SimpleHistoryAdmin):
    """Django's UserAdmin for an email login; writes go through people.services.

    The password change page is Django's ``user_change_password``, which calls
    ``update_session_auth_hash`` so changing your own password keeps you signed in.
    """

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    inlines = [ProfileInline]
    list_display = ["email", "first_name", "last_name", "roles", "is_active", "last_login"]
    list_filter = ["is_active", "is_superuser", "groups"]
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
                "fields": ["email", "first_name", "last_name", "role", "password1", "password2"],
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

    def save_form(self, request, form, change):
        """On the add page, create the user through ``people.services.user_create``.

        The add form only collects the input; the service sets the password, gives
        the chosen role and writes the history row (actor, reason), and the
        post_save receiver adds the Profile. The admin then carries on (log entry,
        redirect) with the saved user. The change page keeps Django's behaviour;
        ``save_model`` writes it through ``user_update``.
        """
        if change:
            return super().save_form(request, form, change)
        return services.user_create(
            email=form.cleaned_data["email"],
            password=form.cleaned_data.get("password1") or None,
            first_name=form.cleaned_data.get("first_name", ""),
            last_name=form.cleaned_data.get("last_name", ""),
            role=form.cleaned_data.get("role"),
            actor=request.user,
            reason="Created in admin",
        )

    def save_model(self, request, obj, form, change):
        """Save a changed user through ``people.services.user_update`` (added users are
        already saved by ``save_form``)."""
        if change:
            services.user_update(user=obj, actor=request.user, reason=changed_fields_reason(form))

    def save_related(self, request, form, formsets, change):
        # The add form has no many-to-many fields and the service already saved
        # the user; there is nothing of the form's left to save.
        if change:
            super().save_related(request, form, formsets, change)

    def has_delete_permission(self, request, obj=None):
        # Deactivate instead: deleting a user would orphan their audit trail.
        return False


@admin.register(LoginEvent)
class LoginEventAdmin(admin.ModelAdmin):
    """Read-only log of sign-ins, failures and sign-outs."""

    list_display = ["created_at", "kind", "email", "user", "ip_address", "user_agent"]
    list_filter = ["kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["email", "ip_address"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
