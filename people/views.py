"""The admin's own "Change password" page, with the form that records the change's history."""

from django.contrib import admin
from django.contrib.auth.views import PasswordChangeView
from django.urls import reverse

from people.forms import OwnPasswordChangeForm


def password_change(request):
    """``/admin/password_change/`` (``admin:password_change``) for the signed-in user.

    Django's ``AdminSite.password_change`` with :class:`~people.forms.OwnPasswordChangeForm`
    instead of its form: that one saves the user directly, leaving a history row with
    no reason. Same template, context and success page (``admin:password_change_done``).
    Mounted in ``backoffice/urls.py`` ahead of the admin's URLs, behind
    ``admin.site.admin_view`` (staff sign-in) as the admin's own page is.
    """
    request.current_app = admin.site.name
    return PasswordChangeView.as_view(
        form_class=OwnPasswordChangeForm,
        success_url=reverse("admin:password_change_done", current_app=admin.site.name),
        extra_context=admin.site.each_context(request),
    )(request)
