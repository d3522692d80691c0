"""django-axes' ``axes_reset``, refused: use ``unlock_sign_in``.

axes' ``axes_reset``, ``axes_reset_ip``, ``axes_reset_username`` and
``axes_reset_ip_username`` delete counted sign-in failures, lifting lockouts, and
write no access-log row, which DESIGN.md's audit rules require of every unlock.
This app precedes ``axes`` in ``INSTALLED_APPS``, so these four commands (this
module and the three that import its class) replace axes' own and point to
``manage.py unlock_sign_in``, which clears the same failures through
``people.services.lockout_clear`` and logs who, what and why. axes'
``axes_list_attempts`` and its log-pruning commands are left as they are.
"""

from django.core.management.base import BaseCommand, CommandError

MSG_USE_UNLOCK = (
    "axes' reset commands are turned off here: they lift lockouts without an access-log "
    "row. Use: python manage.py unlock_sign_in --email USER@EXAMPLE.ORG [--ip ADDRESS] "
    '--reason "why"'
)


class Command(BaseCommand):
    help = "Turned off: use unlock_sign_in, which records the unlock in the access log."

    def add_arguments(self, parser):
        # Whatever axes' command of this name took: the answer is the same.
        parser.add_argument("args", nargs="*")

    def handle(self, *args, **options):
        raise CommandError(MSG_USE_UNLOCK)
