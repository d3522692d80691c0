"""Pages of the signed-in user beside the admin's: "Change password" (recording the
change's history), "My profile" and the permission-checked profile photos."""

import mimetypes

from django.contrib import admin, messages
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import reverse

from admin_ext.admin import add_service_error
from people import services
from people.forms import OwnPasswordChangeForm, ProfileForm
from people.models import Profile


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


def my_profile(request):
    """``/admin/profile/`` (``my_profile``, "My profile" in the user menu): the signed-in
    user's own title, phone and photo, for every role.

    GET shows the form; a valid POST saves the changed fields through
    ``people.services.profile_update`` (the user is the actor) and redirects back
    with a message. There is no user id anywhere in the URL or the form: the page
    only ever edits the requester's profile. Errors, the photo's included, show on
    the form (never a 500). Mounted behind ``admin.site.admin_view`` (staff sign-in).
    """
    profile = Profile.objects.get_or_create(user=request.user)[0]
    form = ProfileForm(request.POST or None, request.FILES or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        changed = form.changed_fields()
        try:
            if changed:
                services.profile_update(
                    profile=profile,
                    actor=request.user,
                    reason=f"Profile changed by {request.user}",
                    **changed,
                )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, "Your profile was saved." if changed else "Nothing changed.")
            return redirect("my_profile")
    request.current_app = admin.site.name
    context = {
        **admin.site.each_context(request),
        "title": "My profile",
        "form": form,
        "profile": profile,
        "photo_url": reverse("profile_photo", args=[request.user.pk]),
    }
    return TemplateResponse(request, "admin/people/my_profile.html", context)


def profile_photo(request, user_id: int):
    """``/admin/profile/<user_id>/photo/`` (``profile_photo``): a user's profile photo.

    Signed-in staff only (``admin.site.admin_view``). Everyone reads their own;
    someone else's takes ``people.view_user`` or ``people.view_profile`` (whoever
    may open user pages), otherwise it answers 404, as for a user that does not
    exist. A user without a photo (read by someone who may) redirects to the default
    avatar. Files are read from storage here, never served from /media/. GET only.
    """
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    may_read_others = request.user.has_perm("people.view_user") or request.user.has_perm(
        "people.view_profile"
    )
    if user_id != request.user.pk and not may_read_others:
        raise Http404
    photo = Profile.objects.filter(user_id=user_id).values_list("photo", flat=True).first()
    if photo is None:
        raise Http404
    if not photo:
        return redirect(static("admin_ext/avatar.svg"))
    storage = Profile._meta.get_field("photo").storage
    try:
        handle = storage.open(photo, "rb")
    except OSError:
        raise Http404 from None
    # profile_update stores JPEG or PNG; an older file by its name, never as SVG/HTML.
    content_type = mimetypes.guess_type(photo)[0] or ""
    if content_type not in {"image/jpeg", "image/png", "image/gif", "image/webp"}:
        content_type = "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    # Private to the signed-in browser, checked again on each use (a photo changes).
    response["Cache-Control"] = "private, no-cache"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
