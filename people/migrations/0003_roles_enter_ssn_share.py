"""Re-apply the roles now that clinic 0003 added enter_ssn and share_patient."""

from django.db import migrations

from functools import partial

from people.migrations._roles import apply_roles


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0002_roles"),
        ("clinic", "0003_patient_rules_versions_shares"),
    ]

    # Not strict: a later roles migration may name permissions of apps migrated after
    # this one (imports.view_importjob); the newest roles migration is strict.
    operations = [migrations.RunPython(partial(apply_roles, strict=False), migrations.RunPython.noop)]
