"""Django's ``changepassword``, with a reason in the user's history row.

Same arguments and prompts as Django's (this app precedes ``django.contrib.auth`` in
``INSTALLED_APPS``, so this command replaces it). The history row's actor stays empty
(the system); its reason says the password was set from a shell. The password itself
is never in history (``User.history`` excludes it).
"""

from django.contrib.auth.management.commands import changepassword

from admin_ext.audit.services import default_change_reason

REASON = "Password changed with manage.py changepassword"


class Command(changepassword.Command):
    def handle(self, *args, **options):
        with default_change_reason(REASON):
            return super().handle(*args, **options)
