"""``python manage.py purge_imports``: delete the import uploads whose expiry has passed.

An upload (``ImportUpload``) holds a file between an import's preview and its
confirm; it holds PHI. The admin deletes it when the import ends; one left behind
(a preview never confirmed) expires ``IMPORT_UPLOAD_EXPIRY`` after upload and is
deleted by this command, or by the next upload (``admin_ext.imports.storage``).
"""

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.translation import ngettext

from admin_ext.imports.models import ImportUpload
from admin_ext.imports.storage import purge_expired


class Command(BaseCommand):
    help = (
        "Delete every uploaded import file whose expiry (IMPORT_UPLOAD_EXPIRY after "
        "upload, one hour by default) has passed: previews never confirmed. Uploads "
        "still within their expiry are kept, so a user can confirm. Prints how many were "
        "deleted. Safe to run any time, e.g. every 15 minutes from cron: "
        "'*/15 * * * * cd /srv/backoffice && python manage.py purge_imports'."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count the expired uploads that would be deleted; delete nothing.",
        )

    def handle(self, *args, **options):
        if options["dry_run"]:
            count = ImportUpload.objects.filter(expires_at__lte=timezone.now()).count()
            self.stdout.write(
                ngettext(
                    "%d expired import upload would be deleted.",
                    "%d expired import uploads would be deleted.",
                    count,
                )
                % count
            )
            return
        count = purge_expired()
        self.stdout.write(
            self.style.SUCCESS(
                ngettext(
                    "Deleted %d expired import upload.", "Deleted %d expired import uploads.", count
                )
                % count
            )
        )
