"""Receivers: the Profile for each new user, and sign-ins from Django's auth signals.

Business rules stay in services; these receivers only record facts. Each sign-in,
failed sign-in and sign-out is written twice, for two readers: a ``LoginEvent``
(the people app's login events page and the login count) and an access-log row
(``admin_ext.audit``: the audit trail, sealed; HIPAA 45 CFR 164.312(b) asks for
log-in monitoring, 164.308(a)(5)(ii)(C)). IP address and user agent come from the
access log's own reading of the request (``admin_ext.audit.services.request_fields``).
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models import F
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access, request_fields
from people.models import LoginEvent, Profile


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
    """Count the login, keep the IP, write a success event and a ``login`` access-log row."""
    fields = request_fields(request)
    ip = fields["ip_address"]
    Profile.objects.filter(user=user).update(login_count=F("login_count") + 1, last_login_ip=ip)
    LoginEvent.objects.create(
        user=user,
        email=user.email,
        kind=LoginEvent.Kind.SUCCESS,
        ip_address=ip,
        user_agent=fields["user_agent"],
    )
    log_access(action=AccessLog.Action.LOGIN, request=request, actor=user)


@receiver(user_login_failed, dispatch_uid="people_login_failure")
def record_login_failure(sender, credentials, request=None, **kwargs):
    """Write a failure event and a ``login_failed`` access-log row with the email that
    was typed (never the password).

    The row's actor is the user the email names (``actor_label`` their email), or
    None for an unknown email (``actor_label`` the email as typed).
    """
    from django.contrib.auth import get_user_model

    email = str(credentials.get("username") or credentials.get("email") or "")[:254]
    user = get_user_model().objects.named_by(email)
    fields = request_fields(request)
    LoginEvent.objects.create(
        user=user,
        email=email,
        kind=LoginEvent.Kind.FAILURE,
        ip_address=fields["ip_address"],
        user_agent=fields["user_agent"],
    )
    log_access(action=AccessLog.Action.LOGIN_FAILED, request=request, actor=user, actor_label=email)


@receiver(user_logged_out, dispatch_uid="people_logout")
def record_logout(sender, request, user, **kwargs):
    """Write a logout event and a ``logout`` access-log row (none when ``user`` is None:
    the session had already expired, so nobody was signed in)."""
    if user is None:
        return
    fields = request_fields(request)
    LoginEvent.objects.create(
        user=user,
        email=user.email,
        kind=LoginEvent.Kind.LOGOUT,
        ip_address=fields["ip_address"],
        user_agent=fields["user_agent"],
    )
    log_access(action=AccessLog.Action.LOGOUT, request=request, actor=user)
