"""Signing in with the second factor in tests and benchmarks (Django's test client).

``Client.force_login`` gives a session on the password step only: the two-factor
gate then sends a superuser, an Administrator or an Auditor to enrol. :func:`sign_in`
completes the second step the way a verified sign-in leaves the session
(``django_otp.login``: the device's persistent id under ``otp_device_id``), for a
user who has an authenticator or must have one (one is created for them here).
:func:`current_code` types what their authenticator app would show; :func:`code_for_key`,
what an app holding a given key shows (the enrolment page's key, before any device).
"""

import time
from binascii import unhexlify

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from people.two_factor import authenticator, is_required


def enrol(user) -> TOTPDevice:
    """The user's confirmed authenticator, created (no access-log row, no recovery codes)
    if they have none. For fixtures; the real path is ``services.otp_enroll_confirm``."""
    return authenticator(user) or TOTPDevice.objects.create(
        user=user, name="Test authenticator", confirmed=True
    )


def sign_in(client, user) -> TOTPDevice | None:
    """``client.force_login(user)`` plus the second factor when the user has or needs one.

    Returns the device the session is verified with, or None (an optional role without
    an authenticator signs in with the password step alone, as in production).
    """
    client.force_login(user)
    return verify_session(client, user)


def verify_session(client, user) -> TOTPDevice | None:
    """Complete the second step for ``client``, already signed in as ``user`` with the
    password (``client.login``): as :func:`sign_in` does after ``force_login``."""
    device = authenticator(user)
    if device is None and is_required(user):
        device = enrol(user)
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return device


def code_for_key(key: str | bytes, *, steps_ahead: int = 0) -> str:
    """The code an authenticator app holding ``key`` shows now, or ``steps_ahead`` steps
    later.

    ``key`` is the shared secret: a hex ``str`` (as ``TOTPDevice.key`` stores it and the
    enrolment session keeps it) or the raw ``bytes`` (``TOTPDevice.bin_key``, or the
    base32 key the enrolment page shows, decoded). Returns the 6-digit code as a
    zero-padded ``str``: RFC 6238 TOTP with the defaults of django-otp's
    ``django_otp.oath.TOTP`` and of a new ``TOTPDevice`` (30-second steps from t0 = 0,
    6 digits, no drift). ``steps_ahead`` moves the clock by that many 30-second steps
    (1: the next step's code; the server accepts one step of drift, never a step
    already used).
    """
    totp = TOTP(unhexlify(key) if isinstance(key, str) else key)
    totp.time = time.time() + totp.step * steps_ahead
    return f"{totp.token():0{totp.digits}d}"


def current_code(device: TOTPDevice) -> str:
    """The 6-digit code ``device`` accepts now (RFC 6238), as the user's app would show it.

    A code already used is not accepted again (django-otp keeps ``last_t``), so when
    this step's code was used, the next step's is given (within the device's
    tolerance), after waiting for it if even that one was used. The device's drift is
    applied; its step, t0 and digits must be :func:`code_for_key`'s (a new device's).
    """
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    needed = device.last_t + 1 - totp.t()  # steps ahead of now
    while needed > device.tolerance:
        time.sleep(device.step)
        needed -= 1
    return code_for_key(device.bin_key, steps_ahead=max(needed, 0) + device.drift)
