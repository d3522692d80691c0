"""Re-apply the roles now that audit 0001 added the access log and seal permissions."""

from functools import partial

from django.db import migrations

from people.migrations._roles import apply_roles


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0004_roles_import_jobs"),
        ("audit", "0001_initial"),
    ]

    # Not strict: the newest roles migration is (0007 names django-axes' permissions).
    operations = [
        migrations.RunPython(partial(apply_roles, strict=False), migrations.RunPython.noop)
    ]
