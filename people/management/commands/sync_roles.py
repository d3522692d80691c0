from django.core.management.base import BaseCommand, CommandError

from people.services import roles_sync


class Command(BaseCommand):
    help = (
        "Make each role group (people/roles.py) hold exactly its listed model permissions. "
        "Safe to run any time; run it after changing roles.py."
    )

    def handle(self, *args, **options):
        try:
            counts = roles_sync()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for name, count in counts.items():
            self.stdout.write(f"{name}: {count} permissions")
        self.stdout.write(self.style.SUCCESS(f"Synced {len(counts)} roles."))
