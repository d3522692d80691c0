"""``python manage.py unlock_sign_in``: clear a sign-in lockout from a shell.

The same write as "Unlock selected" on the admin's Access attempts page
(``people.services.lockout_clear``): the account's and/or the IP's failed sign-ins
are forgotten and the access log records it with the reason (the actor is empty:
nobody is signed in at a shell). django-axes' own ``axes_reset*`` commands do the
deleting without that access-log row; use this one.
"""

from django.core.management.base import BaseCommand, CommandError

from people.services import lockout_clear


class Command(BaseCommand):
    help = (
        "Clear the failed sign-ins that lock out an account (--email) and/or an IP "
        "address (--ip), recording the unlock and its reason in the access log."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", help="The locked account's sign-in email.")
        parser.add_argument("--ip", help="The locked client IP address.")
        parser.add_argument(
            "--reason", required=True, help="Why, as the access log should keep it."
        )

    def handle(self, *args, **options):
        if not options["email"] and not options["ip"]:
            raise CommandError("Give --email, --ip or both.")
        if not options["reason"].strip():
            raise CommandError("--reason may not be empty.")
        cleared = lockout_clear(
            email=options["email"],
            ip_address=options["ip"],
            actor=None,
            reason=f"{options['reason'].strip()} (manage.py unlock_sign_in)",
        )
        self.stdout.write(self.style.SUCCESS(f"Cleared {cleared} failed sign-in record(s)."))
