"""Receivers: the Profile for each new user, and login events from Django's auth signals.

Business rules stay in services; these receivers only record facts.
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models import F
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from people.models import LoginEvent, Profile


def client_ip(request) -> str | None:
    """The client's IP address from ``REMOTE_ADDR``, or None without a request.

    ``X-Forwarded-For`` is not trusted here: behind a proxy, set it up to rewrite
    ``REMOTE_ADDR`` (gunicorn ``--forwarded-allow-ips``).
    """
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _user_agent(request) -> str:
    if request is None:
        return ""
    return request.META.get("HTTP_USER_AGENT", "")[:500]


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="people_profile_create")
def create_profile(sender, instance, created, raw=False, **kwargs):
    """Give every new user an empty Profile (not for fixture loading)."""
    if created and not raw:
        Profile.objects.get_or_create(user=instance)


# Replaces django.contrib.auth's update_last_login receiver. Ours is connected
# first (people precedes django.contrib.auth in INSTALLED_APPS) under the same
# dispatch_uid, so Django's connect() of its own is ignored. The difference: the
# last_login save writes no history row; last_login is excluded from User
# history and the sign-in itself is kept as a LoginEvent.
@receiver(user_logged_in, dispatch_uid="update_last_login")
def update_last_login(sender, user, **kwargs):
    """Set ``user.last_login`` to now without writing a User history row."""
    user.last_login = timezone.now()
    user.skip_history_when_saving = True
    try:
        user.save(update_fields=["last_login"])
    finally:
        del user.skip_history_when_saving


@receiver(user_logged_in, dispatch_uid="people_login_success")
def record_login(sender, request, user, **kwargs):
    """Count the login, keep the IP, and write a success event."""
    ip = client_ip(request)
    Profile.objects.filter(user=user).update(login_count=F("login_count") + 1, last_login_ip=ip)
    LoginEvent.objects.create(
        user=user,
        email=user.email,
        kind=LoginEvent.Kind.SUCCESS,
        ip_address=ip,
        user_agent=_user_agent(request),
    )


@receiver(user_login_failed, dispatch_uid="people_login_failure")
def record_login_failure(sender, credentials, request=None, **kwargs):
    """Write a failure event with the email that was typed (never the password)."""
    from django.contrib.auth import get_user_model

    email = str(credentials.get("username") or credentials.get("email") or "")[:254]
    user = get_user_model().objects.filter(email__iexact=email).first() if email else None
    LoginEvent.objects.create(
        user=user,
        email=email,
        kind=LoginEvent.Kind.FAILURE,
        ip_address=client_ip(request),
        user_agent=_user_agent(request),
    )


@receiver(user_logged_out, dispatch_uid="people_logout")
def record_logout(sender, request, user, **kwargs):
    """Write a logout event (``user`` is None when the session had already expired)."""
    if user is None:
        return
    LoginEvent.objects.create(
        user=user,
        email=user.email,
        kind=LoginEvent.Kind.LOGOUT,
        ip_address=client_ip(request),
        user_agent=_user_agent(request),
    )
