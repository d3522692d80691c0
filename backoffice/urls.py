"""Root URLs: the admin is the whole UI, mounted at /admin/; / redirects there."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from admin_ext.imports.views import import_progress
from backoffice import health
from people.forms import PasswordResetRequestForm, PasswordResetSetForm
from people.two_factor import views as two_factor
from people.views import my_profile, password_change, profile_photo

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Load-balancer probes (backoffice.health): anonymous, outside /admin/, JSON.
    path("health/live/", health.live, name="health_live"),
    path("health/ready/", health.ready, name="health_ready"),
    # Password reset by email, linked from the admin login page ("Forgotten your
    # password?" appears when a URL named admin_password_reset exists).
    path(
        "admin/password_reset/",
        # Throttled per email and per IP, every request access-logged.
        auth_views.PasswordResetView.as_view(form_class=PasswordResetRequestForm),
        name="admin_password_reset",
    ),
    path(
        "admin/password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        # The new password is set through people.services.user_set_password, so the
        # User history row names the user as actor and the reset link as reason.
        auth_views.PasswordResetConfirmView.as_view(form_class=PasswordResetSetForm),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    # Progress of the signed-in user's running import, for the upload pages (JSON).
    path("admin/import-progress/<str:progress_id>/", import_progress, name="import_progress"),
    # Ahead of the admin's own URL of the same path: the signed-in user's "Change
    # password" page, recording the change with actor and reason (people.views).
    path(
        "admin/password_change/",
        admin.site.admin_view(password_change, cacheable=True),
        name="admin_password_change",
    ),
    # "My profile" (every signed-in user's own) and profile photos, which are served
    # only here, permission-checked, never from /media/ (people.views).
    path("admin/profile/", admin.site.admin_view(my_profile), name="my_profile"),
    path(
        "admin/profile/<int:user_id>/photo/",
        admin.site.admin_view(profile_photo, cacheable=True),
        name="profile_photo",
    ),
    # Two-factor sign-in (people.two_factor): the second step of signing in, enrolment,
    # and the user's own settings. Until the second factor is given, the gate
    # (people.two_factor.middleware) lets a signed-in user reach only the first two.
    path("admin/2fa/verify/", admin.site.admin_view(two_factor.verify), name="two_factor_verify"),
    path("admin/2fa/setup/", admin.site.admin_view(two_factor.setup), name="two_factor_setup"),
    path("admin/2fa/", admin.site.admin_view(two_factor.manage), name="two_factor"),
    path("admin/", admin.site.urls),
]
