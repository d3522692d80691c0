"""Audit › Audit seals › "Verify the chain": verify_audit's check from the admin (issue 7)."""

import datetime

from django.urls import reverse
from django.utils import timezone

from admin_ext.audit import chain
from admin_ext.audit.models import AccessLog, AuditSeal
from admin_ext.audit.services import log_access
from admin_ext.testing import ClinicTestCase
from clinic.models import Patient

URL = reverse("admin:audit_auditseal_verify")


class VerifyPageTests(ClinicTestCase):
    def setUp(self):
        self.view = log_access(
            action=AccessLog.Action.VIEW, actor=self.front_desk, obj=self.alice_patient
        )
        (self.seal,) = chain.seal(trigger="test")

    def verify(self, user, **query):
        self.login(user)
        return self.client.get(URL, query)

    def test_the_seal_list_links_to_the_check(self):
        self.login(self.auditor)
        response = self.client.get(reverse("admin:audit_auditseal_changelist"))
        self.assertContains(response, f'href="{URL}"')

    def test_the_page_offers_the_check_without_running_it(self):
        response = self.verify(self.auditor)
        self.assertContains(response, 'id="audit-verify-form"')
        self.assertNotContains(response, 'id="audit-verify-result"')

    def test_an_intact_chain_says_so_with_the_last_digest(self):
        response = self.verify(self.auditor, scope="all")
        self.assertContains(response, "Intact.")
        self.assertContains(response, f"{self.seal.row_count} sealed rows re-read and unchanged")
        self.assertContains(response, self.seal.digest)

    def test_an_edited_history_row_is_named(self):
        row = Patient.history.filter(id=self.other_patient.pk).earliest("history_id")
        Patient.history.filter(history_id=row.history_id).update(first_name="Forged")
        response = self.verify(self.admin, scope="all")
        self.assertContains(
            response,
            f"clinic.HistoricalPatient #{row.history_id} was changed after seal #{self.seal.pk}",
        )
        self.assertNotContains(response, "Intact.")

    def test_a_deleted_access_log_row_is_named(self):
        AccessLog.objects.filter(pk=self.view.pk).delete()
        response = self.verify(self.auditor, scope="recent")
        self.assertContains(response, f"audit.AccessLog #{self.view.pk} was deleted")

    def test_recent_rereads_only_recent_seals_but_checks_every_link(self):
        old = timezone.now() - datetime.timedelta(days=30)
        AuditSeal.objects.filter(pk=self.seal.pk).update(created_at=old)
        AccessLog.objects.filter(pk=self.view.pk).update(object_repr="forged")
        # The old seal's rows are not re-read by the quick check; the full one finds it.
        self.assertContains(self.verify(self.auditor, scope="recent"), "Intact.")
        self.assertContains(self.verify(self.auditor, scope="all"), "was changed after seal")
        # A forged digest on the old seal is found by both.
        AuditSeal.objects.filter(pk=self.seal.pk).update(digest="0" * 63 + "1")
        response = self.verify(self.auditor, scope="recent")
        self.assertContains(response, f"seal #{self.seal.pk}&#x27;s row list or digest was altered")

    def test_a_crafted_scope_is_a_form_error(self):
        response = self.verify(self.auditor, scope="everything; drop table")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "errorlist")
        self.assertNotContains(response, 'id="audit-verify-result"')

    def test_only_seal_readers_may_run_it(self):
        for user in (self.front_desk, self.steward, self.alice):
            with self.subTest(user=user.email):
                self.assertEqual(self.verify(user, scope="all").status_code, 403)
        for user in (self.auditor, self.admin, self.operator):
            with self.subTest(user=user.email):
                self.assertEqual(self.verify(user, scope="all").status_code, 200)

    def test_posting_is_refused_for_everyone(self):
        for user in (self.auditor, self.operator):
            with self.subTest(user=user.email):
                self.login(user)
                self.assertEqual(self.client.post(URL, {"scope": "all"}).status_code, 405)

    def test_signed_out_goes_to_the_login_page(self):
        response = self.client.get(URL)
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("admin:login"), response["Location"])
