"""``python manage.py reset_2fa <email> --reason "..."``: an operator resets a user's
two-factor sign-in (a superuser who lost their phone; no administrator at hand)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from people.models import User
from people.services import otp_reset
from people.two_factor import is_required


class Command(BaseCommand):
    help = (
        "Delete a user's authenticator app and recovery codes (people.services.otp_reset), "
        "recorded in the access log with the reason. Their sessions must verify again, and "
        "if their role requires two-factor sign-in they set it up at their next sign-in."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="The email (login) of the user to reset.")
        parser.add_argument(
            "--reason",
            required=True,
            help="Why (kept in the audit trail), e.g. 'Lost phone, identity checked in person'.",
        )

    def handle(self, *args, email, reason, **options):
        user = User.objects.named_by(email)
        if user is None:
            raise CommandError(f"No user with the email {email!r}.")
        try:
            deleted = otp_reset(user=user, actor=None, reason=reason)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        if not deleted:
            self.stdout.write(f"{user} had no two-factor sign-in to reset.")
            return
        then = (
            "set it up again at their next sign-in" if is_required(user) else "may set it up again"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Reset two-factor sign-in of {user} ({deleted} devices); they {then}."
            )
        )
