"""``python manage.py seal_audit``: seal the audit rows written since the last seal.

Run it on a schedule (cron or a systemd timer, every few minutes; docs/audit.md);
imports also seal when they finish. Prints each new seal's id and digest (one seal
covers at most ``AUDIT_SEAL_MAX_ROWS`` rows), and with ``--digest-file`` appends
``<id> <digest> <time>`` for each to that file, to be kept outside
the database (an append-only file, printed, mailed) for ``verify_audit --digests``.
Exits 0 with "nothing to seal" when no row is new, 2 when another transaction held
the tables longer than ``AUDIT_SEAL_LOCK_TIMEOUT``.
"""

from django.core.management.base import BaseCommand, CommandError

from admin_ext.audit.chain import SealBusy, seal


class Command(BaseCommand):
    help = "Seal the audit rows written since the last seal (SHA-256 hash chain)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--digest-file",
            help="append '<seal id> <digest> <time>' to this file (keep it outside the database)",
        )

    def handle(self, *args, digest_file=None, **options):
        try:
            made = seal(trigger="seal_audit command")
        except SealBusy as exc:
            raise CommandError(f"Not sealed: {exc}.", returncode=2) from exc
        if not made:
            self.stdout.write("Nothing to seal: no audit row was written since the last seal.")
            return
        if digest_file:
            with open(digest_file, "a", encoding="utf-8") as out:
                for sealed in made:
                    out.write(f"{sealed.pk} {sealed.digest} {sealed.created_at.isoformat()}\n")
        for sealed in made:
            self.stdout.write(
                f"Sealed {sealed.row_count} rows as seal #{sealed.pk}: {sealed.digest}"
            )
