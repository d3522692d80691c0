"""Role groups are code: nobody deletes, renames or re-permissions them in the admin.

A superuser deleting "Auditor" left every auditor with 403 on every page. Roles
change only through ``python manage.py sync_roles``; other groups keep working.
"""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from people import roles


class GroupAdminTestCase(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.auditors = Group.objects.get(name=roles.AUDITOR)
        cls.team = Group.objects.create(name="Night shift")

    def setUp(self):
        self.login(self.operator)

    def state(self, group):
        """The group as stored (or None when gone): name and permission ids."""
        group = Group.objects.filter(pk=group.pk).first()
        if group is None:
            return None
        return group.name, sorted(group.permissions.values_list("pk", flat=True))

    def change(self, group, **data):
        return self.client.post(
            reverse("admin:auth_group_change", args=[group.pk]),
            {
                "name": group.name,
                "permissions": list(group.permissions.values_list("pk", flat=True)),
                **data,
            },
        )

    def delete_selected(self, *groups, confirm=True):
        data = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [g.pk for g in groups]}
        if confirm:
            data["post"] = "yes"
        return self.client.post(reverse("admin:auth_group_changelist"), data)


class RoleGroupTests(GroupAdminTestCase):
    def test_it_refuses_the_delete_page_of_a_role_even_to_a_superuser(self):
        before = self.state(self.auditors)
        url = reverse("admin:auth_group_delete", args=[self.auditors.pk])
        self.assertEqual(self.client.get(url).status_code, 403)
        self.assertEqual(self.client.post(url, {"post": "yes"}).status_code, 403)
        self.assertEqual(self.state(self.auditors), before)
        self.login(self.auditor)
        self.assertEqual(
            self.client.get(reverse("admin:clinic_patient_changelist")).status_code, 200
        )

    def test_it_refuses_delete_selected_when_a_role_is_selected(self):
        before = (self.state(self.auditors), self.state(self.team))
        for confirm in (False, True):
            with self.subTest(confirm=confirm):
                response = self.delete_selected(self.auditors, self.team, confirm=confirm)
                self.assertRedirects(response, reverse("admin:auth_group_changelist"))
                self.assertEqual((self.state(self.auditors), self.state(self.team)), before)
                messages = [str(m) for m in response.wsgi_request._messages]
                self.assertIn("Nothing was deleted: Auditor is a role.", messages[0])

    def test_it_refuses_renaming_a_role(self):
        before = self.state(self.auditors)
        response = self.change(self.auditors, name="Auditors (old)")
        self.assertEqual(response.status_code, 403)
        self.assertEqual(self.state(self.auditors), before)

    def test_it_refuses_editing_a_roles_permissions(self):
        before = self.state(self.auditors)
        everything = list(Permission.objects.values_list("pk", flat=True))
        for data in ({"permissions": everything}, {"permissions": []}):
            with self.subTest(count=len(data["permissions"])):
                self.assertEqual(self.change(self.auditors, **data).status_code, 403)
                self.assertEqual(self.state(self.auditors), before)

    def test_it_shows_a_role_read_only(self):
        response = self.client.get(reverse("admin:auth_group_change", args=[self.auditors.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, 'name="name"')
        self.assertNotContains(response, 'name="permissions"')
        self.assertNotContains(response, 'name="_save"')
        self.assertNotContains(response, "/delete/")

    def test_it_refuses_a_new_group_named_like_a_role(self):
        self.auditors.delete()  # as if it were missing, e.g. before sync_roles ran
        response = self.client.post(reverse("admin:auth_group_add"), {"name": roles.AUDITOR})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.context["adminform"].form.errors["name"][0].split(".")[0],
            "“Auditor” is a role",
        )
        self.assertFalse(Group.objects.filter(name=roles.AUDITOR).exists())

    def test_it_refuses_every_role(self):
        for name in roles.ROLES:
            group = Group.objects.get(name=name)
            with self.subTest(role=name):
                self.assertEqual(
                    self.client.get(
                        reverse("admin:auth_group_delete", args=[group.pk])
                    ).status_code,
                    403,
                )
                self.assertEqual(self.change(group, name=f"{name} 2").status_code, 403)
        self.assertEqual(
            sorted(Group.objects.filter(name__in=roles.ROLES).values_list("name", flat=True)),
            sorted(roles.ROLES),
        )


class OtherGroupTests(GroupAdminTestCase):
    def test_it_lets_a_superuser_rename_and_re_permission_another_group(self):
        perm = Permission.objects.get(codename="view_doctor")
        response = self.change(self.team, name="Night team", permissions=[perm.pk])
        self.assertRedirects(response, reverse("admin:auth_group_changelist"))
        self.assertEqual(self.state(self.team), ("Night team", [perm.pk]))

    def test_it_lets_a_superuser_delete_another_group(self):
        url = reverse("admin:auth_group_delete", args=[self.team.pk])
        self.assertEqual(self.client.get(url).status_code, 200)
        self.client.post(url, {"post": "yes"})
        self.assertIsNone(self.state(self.team))

    def test_it_lets_a_superuser_delete_other_groups_with_the_action(self):
        other = Group.objects.create(name="Weekend")
        self.delete_selected(self.team, other)
        self.assertEqual((self.state(self.team), self.state(other)), (None, None))

    def test_it_refuses_renaming_another_group_to_a_role_name(self):
        self.auditors.delete()
        response = self.change(self.team, name=roles.AUDITOR)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.state(self.team)[0], "Night shift")

    def test_it_shows_groups_read_only_to_the_administrator_role(self):
        # The Administrator role holds auth.view_group only.
        self.login(self.admin)
        self.assertEqual(self.client.get(reverse("admin:auth_group_changelist")).status_code, 200)
        self.assertEqual(self.change(self.team, name="X").status_code, 403)
        self.assertEqual(
            self.client.get(reverse("admin:auth_group_delete", args=[self.team.pk])).status_code,
            403,
        )
        self.assertEqual(self.state(self.team)[0], "Night shift")


class GroupHistoryPageTests(GroupAdminTestCase):
    def test_it_answers_a_user_without_view_group_as_for_a_missing_group(self):
        self.login(self.steward)
        for pk in (self.auditors.pk, 987654):
            response = self.client.get(reverse("admin:auth_group_history", args=[pk]))
            self.assertRedirects(response, reverse("admin:index"), fetch_redirect_response=False)

    def test_it_shows_the_history_page_and_refuses_posts(self):
        url = reverse("admin:auth_group_history", args=[self.auditors.pk])
        self.assertEqual(self.client.get(url).status_code, 200)
        self.assertEqual(self.client.post(url).status_code, 405)
