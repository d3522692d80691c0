"""Create the role groups from people/roles.py with their permissions."""

from django.db import migrations

from people.migrations._roles import apply_roles


def apply_roles_known_so_far(apps, schema_editor):
    # Not strict: people/roles.py may name permissions that later migrations add
    # (clinic.enter_ssn in clinic 0003); 0003_roles_enter_ssn_share syncs again.
    apply_roles(apps, schema_editor, strict=False)


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0001_initial"),
        ("clinic", "0002_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(apply_roles_known_so_far, migrations.RunPython.noop)]
