"""Django's ``createsuperuser``, with a reason in the new user's history row.

Same options and prompts as Django's (this app precedes ``django.contrib.auth`` in
``INSTALLED_APPS``, so this command replaces it). The history row's actor stays empty
(the system: nobody is signed in at a shell); its reason says how the user came to be.
"""

from django.contrib.auth.management.commands import createsuperuser

from admin_ext.audit.services import default_change_reason

REASON = "Superuser created with manage.py createsuperuser"


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        with default_change_reason(REASON):
            return super().handle(*args, **options)
