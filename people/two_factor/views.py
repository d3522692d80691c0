"""The two-factor pages: verify at sign-in, enrol, and the user's own settings.

- ``/admin/2fa/verify/`` (``two_factor_verify``): after the password, the
  authenticator's code or a recovery code;
- ``/admin/2fa/setup/`` (``two_factor_setup``): enrol an authenticator app (QR code
  as inline SVG and the key to type), then the recovery codes, shown once;
- ``/admin/2fa/`` (``two_factor``): status, new recovery codes, turn off (optional
  roles only); each change asks for a current code (OWASP ASVS 4.0 2.8.x: re-prove
  the factor before changing it).

Every page only ever concerns the signed-in user (no user id in any URL or form).
Mounted behind ``admin.site.admin_view`` (signed-in staff; CSRF; never cached).
Writes go through ``people.services`` (``otp_*``).
"""

from base64 import b32encode
from binascii import unhexlify

import django_otp
import segno
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from admin_ext.admin import add_service_error
from people import services
from people.two_factor import (
    PENDING_KEY_SESSION_KEY,
    authenticator,
    is_required,
    recovery_codes_left,
)


class CodeForm(forms.Form):
    """One code: the authenticator's 6 digits, or (where allowed) a recovery code."""

    code = forms.CharField(
        label="Authentication code",
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "text"}
        ),
    )


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admin:index")


def _context(request, **extra) -> dict:
    request.current_app = admin.site.name
    return {**admin.site.each_context(request), "next": _next_url(request), **extra}


def _signed_in_with(request, device) -> None:
    # The session now carries the second factor: a new session id, so that one
    # captured before it (on the password alone) is worth nothing (ASVS 3.2.1).
    django_otp.login(request, device)
    request.session.cycle_key()


@sensitive_post_parameters("code")
def verify(request):
    """``two_factor_verify``: the second step of signing in.

    GET shows the code form; POST checks it (``services.otp_verify``) and, if it is
    right, marks the session verified and goes on to ``next``. An already verified
    session goes on at once; an account without an authenticator goes to enrolment
    (or on, when its role does not require it).
    """
    user = request.user
    if user.is_verified():
        return redirect(_next_url(request))
    if authenticator(user) is None:
        if is_required(user):
            return redirect(f"{reverse('two_factor_setup')}?{request.GET.urlencode()}")
        return redirect(_next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.otp_verify(user=user, code=form.cleaned_data["code"])
        except ValidationError as error:
            add_service_error(form, error)
        else:
            _signed_in_with(request, device)
            if device.persistent_id != authenticator(user).persistent_id:
                left = recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {left} left. "
                    "Make new ones under “Two-factor sign-in” if you are running low.",
                )
            return redirect(_next_url(request))
    context = _context(request, title="Two-factor sign-in", form=form)
    return TemplateResponse(request, "admin/people/two_factor/verify.html", context)


def _qr_svg(device: TOTPDevice) -> str:
    # segno draws the otpauth:// URL as SVG in the page: no image request, no
    # third-party service ever sees the secret. The markup is segno's own drawing of a
    # URL we built (its text is encoded as modules, never copied into the SVG), so
    # marking it safe lets no user input into the page.
    svg = segno.make(device.config_url, error="m").svg_inline(scale=5, dark="#000")
    return mark_safe(svg)  # nosec B308, B703


@sensitive_post_parameters("code")
def setup(request):
    """``two_factor_setup``: enrol an authenticator app.

    GET shows a QR code and the key (base32, RFC 4648) for a new secret kept in the
    session until confirmed; POST with the app's current code enrols it
    (``services.otp_enroll_confirm``), marks the session verified and shows the
    recovery codes once. An enrolled account is sent to ``two_factor``.
    """
    user = request.user
    if authenticator(user) is not None:
        return redirect("two_factor")
    key = request.session.get(PENDING_KEY_SESSION_KEY)
    if not key:
        key = request.session[PENDING_KEY_SESSION_KEY] = default_key()
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = services.otp_enroll_confirm(
                user=user,
                key=key,
                code=form.cleaned_data["code"],
                actor=user,
                reason="Enrolled at sign-in" if not user.is_verified() else "Enrolled",
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            del request.session[PENDING_KEY_SESSION_KEY]
            _signed_in_with(request, device)
            return _recovery_codes_page(request, codes, enrolled=True)
    pending = TOTPDevice(user=user, key=key)
    secret = b32encode(unhexlify(key)).decode()
    context = _context(
        request,
        title="Set up two-factor sign-in",
        form=form,
        qr_svg=_qr_svg(pending),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        required=is_required(user),
    )
    return TemplateResponse(request, "admin/people/two_factor/setup.html", context)


def _recovery_codes_page(request, codes, *, enrolled: bool):
    context = _context(request, title="Your recovery codes", codes=codes, enrolled=enrolled)
    # Never cached (admin_view's never_cache: Cache-Control no-store): shown once.
    return TemplateResponse(request, "admin/people/two_factor/recovery_codes.html", context)


MSG_APP_CODE = "Enter the 6-digit code your authenticator app shows now."


class ManageForm(CodeForm):
    """A change to one's own two-factor sign-in, confirmed with a current code."""

    ACTIONS = {"regenerate": "New recovery codes", "disable": "Turn off"}
    action = forms.ChoiceField(choices=list(ACTIONS.items()), widget=forms.HiddenInput)


@sensitive_post_parameters("code")
def manage(request):
    """``two_factor``: the signed-in user's two-factor settings.

    Shows whether it is set up, required, and how many recovery codes are left.
    POST ``action=regenerate`` (new recovery codes, shown once) or ``action=disable``
    (optional roles only), each with a current authenticator code, checked (and
    throttled) as at sign-in.
    """
    user = request.user
    device = authenticator(user)
    required = is_required(user)
    form = ManageForm(request.POST or None)
    if request.method == "POST" and device is not None and form.is_valid():
        action = form.cleaned_data["action"]
        try:
            code = services.otp_normalize_code(form.cleaned_data["code"])
            if not code.isdigit():  # a recovery code would be used up for nothing
                raise ValidationError(MSG_APP_CODE, code="otp_app_code")
            services.otp_verify(user=user, code=code)
            if action == "regenerate":
                codes = services.otp_recovery_codes_regenerate(
                    user=user, actor=user, reason="New recovery codes asked for"
                )
                return _recovery_codes_page(request, codes, enrolled=False)
            services.otp_disable(user=user, actor=user, reason="Turned off by the user")
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, "Two-factor sign-in is off for your account.")
            return redirect("two_factor")
    context = _context(
        request,
        title="Two-factor sign-in",
        form=form,
        device=device,
        required=required,
        codes_left=recovery_codes_left(user) if device else 0,
    )
    return TemplateResponse(request, "admin/people/two_factor/manage.html", context)
