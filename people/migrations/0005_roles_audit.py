"""Re-apply the roles now that audit 0001 added the access log and seal permissions."""

from django.db import migrations

from people.migrations._roles import apply_roles


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0004_roles_import_jobs"),
        ("audit", "0001_initial"),
    ]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
