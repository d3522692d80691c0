"""The roles data migration step, shared by every migration that re-applies people/roles.py.

Django's migration loader skips modules whose name starts with an underscore, so
this is a plain helper, not a migration.
"""

from django.contrib.auth.management import create_permissions


def apply_roles(apps, schema_editor, *, strict: bool = True):
    """Create the permissions known so far, then sync the role groups to them.

    Permissions are normally created by post_migrate, after every migration;
    they are created here so the roles can refer to them on a fresh database.
    ``strict`` is passed to ``people.services.roles_sync``.
    """
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None

    from people.services import roles_sync

    roles_sync(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
        strict=strict,
    )
