"""``python manage.py verify_audit``: recompute the audit hash chain.

Exits 0 when every sealed row still matches, and 1 naming the first row (or seal)
that does not: changed, deleted, or added inside a sealed range. ``--digests FILE``
also compares each seal's digest with the copy ``seal_audit --digest-file`` wrote
outside the database, which is what shows a rewrite of the whole chain by someone
with write access to the database (docs/audit.md).
"""

from django.core.management.base import BaseCommand, CommandError

from admin_ext.audit.chain import verify


def read_digests(path: str) -> dict[int, str]:
    """``{seal id: digest}`` from a digest file: lines ``<id> <digest> [<time>]``.

    Raises ``CommandError`` naming the line for a line that is not that shape.
    """
    digests = {}
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2 or not parts[0].isdigit() or len(parts[1]) != 64:
                raise CommandError(f"{path}, line {number}: not '<seal id> <digest>': {line!r}")
            digests[int(parts[0])] = parts[1]
    return digests


class Command(BaseCommand):
    help = "Verify the audit trail's SHA-256 hash chain; exit 1 at the first mismatch."

    def add_arguments(self, parser):
        parser.add_argument(
            "--digests", help="a digest file written by seal_audit --digest-file, to compare"
        )

    def handle(self, *args, digests=None, **options):
        external = read_digests(digests) if digests else None
        result = verify(external_digests=external)
        if result.mismatch:
            raise CommandError(
                f"Audit trail altered: {result.mismatch}. "
                f"{result.seals} seals and {result.rows} rows before it matched.",
                returncode=1,
            )
        self.stdout.write(
            f"Audit trail intact: {result.seals} seals, {result.rows} rows match. "
            f"{result.unsealed} rows are not sealed yet. Last digest: {result.last_digest}"
        )
