"""Roles: groups from people/roles.py by data migration and `manage.py sync_roles`."""

from io import StringIO

from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from admin_ext.testing import ClinicTestCase
from people import roles


def held(group: Group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }


class RoleMigrationTests(ClinicTestCase):
    def test_it_creates_the_five_role_groups_with_their_permissions(self):
        # The test database is built by the migrations, so this is a fresh database.
        self.assertEqual(
            set(Group.objects.values_list("name", flat=True)),
            {
                roles.ADMINISTRATOR,
                roles.FRONT_DESK,
                roles.DOCTOR,
                roles.DATA_STEWARD,
                roles.AUDITOR,
            },
        )
        for name, perms in roles.ROLES.items():
            with self.subTest(role=name):
                self.assertEqual(held(Group.objects.get(name=name)), set(perms))

    def test_it_gives_view_ssn_to_administrators_only(self):
        self.assertTrue(self.admin.has_perm("clinic.view_ssn"))
        for user in (self.front_desk, self.steward, self.auditor, self.alice):
            self.assertFalse(user.has_perm("clinic.view_ssn"), user.email)

    def test_it_lets_no_role_delete(self):
        # But administrators unlock sign-in, which is deleting django-axes' counters of
        # failed attempts (people.services.lockout_clear), never a record.
        unlock = {"axes.delete_accessattempt"}
        for name, perms in roles.ROLES.items():
            self.assertFalse([p for p in perms if ".delete_" in p and p not in unlock], name)
        self.assertEqual(
            [n for n, perms in roles.ROLES.items() if unlock & set(perms)], [roles.ADMINISTRATOR]
        )


class SyncRolesTests(ClinicTestCase):
    def test_it_restores_a_removed_permission_and_removes_an_extra_one(self):
        desk = Group.objects.get(name=roles.FRONT_DESK)
        desk.permissions.remove(Permission.objects.get(codename="add_patient"))
        desk.permissions.add(Permission.objects.get(codename="view_ssn"))

        out = StringIO()
        call_command("sync_roles", stdout=out)

        self.assertEqual(held(desk), set(roles.ROLES[roles.FRONT_DESK]))
        self.assertIn("Synced 5 roles.", out.getvalue())

    def test_it_recreates_a_deleted_role_group(self):
        Group.objects.filter(name=roles.AUDITOR).delete()
        call_command("sync_roles", stdout=StringIO())
        self.assertEqual(
            held(Group.objects.get(name=roles.AUDITOR)), set(roles.ROLES[roles.AUDITOR])
        )
