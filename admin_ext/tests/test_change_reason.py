"""ClinicModelAdmin.change_reason: the typed reason, else a summary of the changed fields."""

from django.contrib import admin
from django.test import RequestFactory

from admin_ext.testing import ClinicTestCase
from clinic.models import Organization


class ChangeReasonTests(ClinicTestCase):
    def reason(self, data, *, change=True):
        model_admin = admin.site._registry[Organization]
        request = RequestFactory().get("/")
        request.user = self.operator
        org = self.dr_alice.organization if change else None
        form_class = model_admin.get_form(request, org, change=change)
        initial = (
            {"name": org.name, "external_id": org.external_id, "city": org.city, "state": org.state}
            if change
            else {}
        )
        form = form_class({**initial, **data}, instance=org)
        self.assertTrue(form.is_valid(), form.errors)
        return model_admin.change_reason(request, form, change)

    def test_it_keeps_what_the_user_typed(self):
        self.assertEqual(self.reason({"name": "New", "change_reason": "  Merger  "}), "Merger")

    def test_it_lists_the_changed_fields_by_label(self):
        self.assertEqual(
            self.reason({"name": "New", "phone": "555"}), "Changed in admin: Name and Phone"
        )

    def test_it_says_saved_when_nothing_changed(self):
        self.assertEqual(self.reason({}), "Saved in admin")

    def test_it_says_created_for_a_new_record(self):
        self.assertEqual(
            self.reason({"name": "Fresh", "external_id": "org-new"}, change=False),
            "Created in admin",
        )
