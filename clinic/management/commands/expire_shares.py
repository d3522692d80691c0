"""``python manage.py expire_shares``: end the patient shares whose expiry has passed."""

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.translation import ngettext

from clinic.models import PatientShare
from clinic.querysets import lapsed_shares_q
from clinic.services import shares_expire


class Command(BaseCommand):
    help = (
        "End every patient share whose expiry has passed: remove the object permissions "
        "it granted and record the end in the share's history (reason 'Share expired'). "
        "Access already stops at the expiry time; this cleans up. Safe to run any time, "
        "e.g. hourly from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count the expired shares that would be ended; change nothing.",
        )

    def handle(self, *args, **options):
        if options["dry_run"]:
            count = PatientShare.objects.filter(lapsed_shares_q(timezone.now())).count()
            self.stdout.write(
                ngettext(
                    "%d expired share would be ended.", "%d expired shares would be ended.", count
                )
                % count
            )
            return
        count = shares_expire()
        self.stdout.write(
            self.style.SUCCESS(
                ngettext("Ended %d expired share.", "Ended %d expired shares.", count) % count
            )
        )
