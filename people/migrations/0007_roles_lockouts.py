"""Re-apply the roles with django-axes' attempt permissions: administrators and
auditors see sign-in lockouts, administrators unlock (people/roles.py)."""

from django.db import migrations

from people.migrations._roles import apply_roles


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0006_history_without_copied_indexes"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
