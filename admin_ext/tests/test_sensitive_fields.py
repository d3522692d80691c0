"""``SensitiveFieldsMixin``: a declared field is no filter, sort or search key without its permission.

Exercised on django.contrib.auth's models in an admin site of its own: Permission's
``codename`` plays the sensitive field, reached directly and through Group's
``permissions`` relation, which Group's admin also lists as a filter (so Django's
own ``lookup_allowed`` would accept it).
"""

from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import RequestFactory, TestCase

from admin_ext.sensitive import SensitiveFieldsMixin, lookup_path, ordering_names

UNLOCK = "auth.view_permission"


class PermissionAdmin(SensitiveFieldsMixin, admin.ModelAdmin):
    sensitive_fields = {"codename": UNLOCK}
    list_display = ["name", "codename"]
    search_fields = ["name", "=codename"]


class GroupAdmin(SensitiveFieldsMixin, admin.ModelAdmin):
    list_display = ["name", "codenames"]
    list_filter = ["name", "permissions__codename"]
    search_fields = ["name", "^permissions__codename"]
    ordering = ["permissions__codename", "name"]

    @admin.display(ordering="permissions__codename")
    def codenames(self, obj):
        return ""


class SensitiveFieldsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        User = get_user_model()

        def make(email):
            return User.objects.create_user(
                **{User.USERNAME_FIELD: email}, password="pw", is_staff=True
            )

        cls.plain = make("plain@example.com")
        cls.holder = make("holder@example.com")
        cls.holder.user_permissions.add(Permission.objects.get(codename="view_permission"))
        cls.holder.user_permissions.add(Permission.objects.get(codename="view_group"))
        cls.plain.user_permissions.add(Permission.objects.get(codename="view_group"))
        Group.objects.create(name="g").permissions.add(Permission.objects.first())

    def setUp(self):
        self.site = admin.AdminSite(name="sensitive_test")
        self.site.register(Permission, PermissionAdmin)
        self.site.register(Group, GroupAdmin)
        self.permissions = self.site.get_model_admin(Permission)
        self.groups = self.site.get_model_admin(Group)

    def request(self, user, **params):
        request = RequestFactory().get("/", params)
        request.user = get_user_model().objects.get(pk=user.pk)  # fresh permission cache
        return request

    def test_it_follows_a_lookup_through_relations(self):
        self.assertEqual(
            lookup_path(Group, "permissions__codename__startswith"),
            [(Group, "permissions"), (Permission, "codename")],
        )
        self.assertEqual(
            lookup_path(Permission, "codename__lower__regex"), [(Permission, "codename")]
        )
        self.assertEqual(lookup_path(Permission, "pk__in"), [(Permission, "id")])

    def test_it_reads_the_fields_an_ordering_uses(self):
        from django.db.models import F
        from django.db.models.functions import Lower

        self.assertEqual(ordering_names("-codename"), ["codename"])
        self.assertEqual(ordering_names(F("codename").desc()), ["codename"])
        self.assertEqual(
            ordering_names(Lower("permissions__codename").asc()), ["permissions__codename"]
        )

    def test_it_refuses_lookups_on_the_field_without_the_permission(self):
        request = self.request(self.plain)
        for lookup in (
            "codename",
            "codename__startswith",
            "codename__regex",
            "codename__gt",
            "codename__isnull",
        ):
            with self.subTest(lookup=lookup):
                self.assertFalse(self.permissions.lookup_allowed(lookup, "view_", request))
        self.assertTrue(self.permissions.lookup_allowed("name__startswith", "Can", request))

    def test_it_refuses_lookups_through_a_relation_even_one_listed_as_a_filter(self):
        request = self.request(self.plain)
        self.assertFalse(self.groups.lookup_allowed("permissions__codename", "x", request))
        self.assertFalse(
            self.groups.lookup_allowed("permissions__codename__startswith", "x", request)
        )
        self.assertTrue(self.groups.lookup_allowed("name", "g", request))

    def test_it_allows_every_lookup_to_the_permission_holder(self):
        request = self.request(self.holder)
        self.assertTrue(self.permissions.lookup_allowed("codename__startswith", "x", request))
        self.assertTrue(self.groups.lookup_allowed("permissions__codename", "x", request))

    def test_it_fails_closed_without_a_request(self):
        self.assertFalse(self.permissions.lookup_allowed("codename", "x", None))

    def test_it_leaves_the_field_out_of_search_and_list_filters(self):
        plain, holder = self.request(self.plain), self.request(self.holder)
        self.assertEqual(self.permissions.get_search_fields(plain), ["name"])
        self.assertEqual(self.permissions.get_search_fields(holder), ["name", "=codename"])
        self.assertEqual(self.groups.get_search_fields(plain), ["name"])
        self.assertEqual(self.groups.get_list_filter(plain), ["name"])
        self.assertEqual(self.groups.get_list_filter(holder), ["name", "permissions__codename"])

    def test_it_drops_orderings_on_the_field(self):
        self.assertEqual(self.groups.get_ordering(self.request(self.plain)), ["name"])
        self.assertEqual(
            self.groups.get_ordering(self.request(self.holder)), ["permissions__codename", "name"]
        )

    def test_it_ignores_sorting_by_a_column_ordered_by_the_field(self):
        def changelist_ordering(user):
            request = self.request(user, **{ORDER_VAR: "2"})  # checkbox, name, codenames
            changelist = self.groups.get_changelist_instance(request)
            ordering = changelist.get_ordering(request, changelist.root_queryset)
            return changelist.sortable_by, ordering

        sortable, ordering = changelist_ordering(self.plain)
        self.assertNotIn("codenames", sortable)
        self.assertIn("name", sortable)
        self.assertEqual(ordering, ["name"])
        sortable, ordering = changelist_ordering(self.holder)
        self.assertIn("codenames", sortable)
        self.assertEqual(ordering[0], "permissions__codename")
