"""Re-apply the roles now that imports 0001 added the import job permissions."""

from functools import partial

from django.db import migrations

from people.migrations._roles import apply_roles


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0003_roles_enter_ssn_share"),
        ("imports", "0001_initial"),
    ]

    # Not strict: the newest roles migration is (0005 names audit permissions).
    operations = [migrations.RunPython(partial(apply_roles, strict=False), migrations.RunPython.noop)]
