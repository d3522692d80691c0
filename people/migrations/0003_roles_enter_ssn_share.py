"""Re-apply the roles now that clinic 0003 added enter_ssn and share_patient."""

from django.db import migrations

from people.migrations._roles import apply_roles


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0002_roles"),
        ("clinic", "0003_patient_rules_versions_shares"),
    ]

    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
