"""The access log and seal admins: read-only for everyone, superusers included (item 5).

DESIGN.md, "Audit": "nobody, superusers included, edits or deletes audit rows
through the app". Each role asks for each page with GET and POST; the rows must
stay as they were. The access log lists what the trail shows the viewer.
"""

from django.urls import reverse

from admin_ext.audit import chain
from admin_ext.audit.models import AccessLog, AuditSeal
from admin_ext.audit.services import log_access
from admin_ext.testing import ClinicTestCase


class AuditAdminTestCase(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.own_view = log_access(
            action=AccessLog.Action.VIEW, actor=cls.admin, obj=cls.alice_patient
        )
        cls.other_view = log_access(
            action=AccessLog.Action.VIEW, actor=cls.admin, obj=cls.other_patient
        )
        (cls.seal,) = chain.seal(trigger="test")

    def everyone(self):
        return [
            self.operator,
            self.admin,
            self.auditor,
            self.front_desk,
            self.steward,
            self.alice,
            self.bob,
        ]

    def snapshot(self):
        return (
            list(AccessLog.objects.order_by("pk").values()),
            list(AuditSeal.objects.order_by("pk").values()),
        )


class AccessLogAdminTests(AuditAdminTestCase):
    def changelist(self, user):
        self.login(user)
        return self.client.get(reverse("admin:audit_accesslog_changelist"))

    def test_the_list_is_for_audit_roles(self):
        for user in (self.operator, self.admin, self.auditor, self.alice, self.bob):
            with self.subTest(user=user.email):
                assert self.changelist(user).status_code == 200
        for user in (self.front_desk, self.steward):
            with self.subTest(user=user.email):
                assert self.changelist(user).status_code == 403

    def test_a_doctor_lists_only_rows_about_her_patients(self):
        html = self.changelist(self.alice).content.decode()
        own = reverse("admin:audit_accesslog_change", args=[self.own_view.pk])
        other = reverse("admin:audit_accesslog_change", args=[self.other_view.pk])
        assert f'href="{own}"' in html and f'href="{other}"' not in html
        assert self.other_patient.mrn not in html

    def test_a_hidden_row_answers_as_a_missing_one(self):
        self.login(self.alice)
        hidden = self.client.get(reverse("admin:audit_accesslog_change", args=[self.other_view.pk]))
        missing = self.client.get(reverse("admin:audit_accesslog_change", args=[987654321]))
        assert hidden.status_code == missing.status_code == 302
        assert hidden["Location"] == missing["Location"] == reverse("admin:index")
        assert (
            self.client.get(
                reverse("admin:audit_accesslog_change", args=[self.own_view.pk])
            ).status_code
            == 200
        )

    def test_an_auditor_reads_a_row_as_text(self):
        self.login(self.auditor)
        response = self.client.get(
            reverse("admin:audit_accesslog_change", args=[self.other_view.pk])
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "admin@example.com" in html
        assert 'name="action"' not in html and 'name="_save"' not in html


class ReadOnlyForEveryoneTests(AuditAdminTestCase):
    """GET and POST of every page of both admins, for every role and the operator."""

    def pages(self):
        log, seal = "admin:audit_accesslog", "admin:audit_auditseal"
        return [
            (reverse(f"{log}_add"), {"action": "view", "object_repr": "forged"}),
            (reverse(f"{log}_change", args=[self.own_view.pk]), {"object_repr": "forged"}),
            (reverse(f"{log}_delete", args=[self.own_view.pk]), {"post": "yes"}),
            (
                reverse(f"{log}_changelist"),
                {"action": "delete_selected", "_selected_action": [self.own_view.pk]},
            ),
            (reverse(f"{seal}_add"), {"trigger": "forged", "previous": "0" * 64}),
            (reverse(f"{seal}_change", args=[self.seal.pk]), {"trigger": "forged"}),
            (reverse(f"{seal}_delete", args=[self.seal.pk]), {"post": "yes"}),
            (
                reverse(f"{seal}_changelist"),
                {"action": "delete_selected", "_selected_action": [self.seal.pk]},
            ),
        ]

    def test_nobody_writes_an_audit_row(self):
        before = self.snapshot()
        for user in self.everyone():
            self.login(user)
            for url, data in self.pages():
                with self.subTest(user=user.email, url=url):
                    response = self.client.post(url, data)
                    # Refused (403), or a list that ignores an action it does not have.
                    assert response.status_code in (200, 302, 403), response.status_code
                    assert self.snapshot()[0][: len(before[0])] == before[0]
                    assert self.snapshot()[1] == before[1]

    def test_the_operator_gets_no_add_or_delete_page_and_a_read_only_change_page(self):
        self.login(self.operator)
        for name, pk in (("accesslog", self.own_view.pk), ("auditseal", self.seal.pk)):
            with self.subTest(model=name):
                assert self.client.get(reverse(f"admin:audit_{name}_add")).status_code == 403
                delete = reverse(f"admin:audit_{name}_delete", args=[pk])
                assert self.client.get(delete).status_code == 403
                change = self.client.get(reverse(f"admin:audit_{name}_change", args=[pk]))
                assert change.status_code == 200
                assert 'name="_save"' not in change.content.decode()

    def test_no_delete_action_is_offered(self):
        self.login(self.operator)
        for name in ("accesslog", "auditseal"):
            html = self.client.get(reverse(f"admin:audit_{name}_changelist")).content.decode()
            assert "delete_selected" not in html

    def test_history_pages_answer_get_only(self):
        for user in (self.operator, self.auditor):
            self.login(user)
            for url in (
                reverse("admin:audit_accesslog_history", args=[self.own_view.pk]),
                reverse("admin:audit_auditseal_history", args=[self.seal.pk]),
            ):
                with self.subTest(user=user.email, url=url):
                    assert self.client.get(url).status_code == 200
                    assert self.client.post(url, {}).status_code == 405


class AuditSealAdminTests(AuditAdminTestCase):
    def test_seals_are_for_administrators_and_auditors(self):
        url = reverse("admin:audit_auditseal_changelist")
        for user, status in (
            (self.operator, 200),
            (self.admin, 200),
            (self.auditor, 200),
            (self.alice, 403),
            (self.front_desk, 403),
            (self.steward, 403),
        ):
            with self.subTest(user=user.email):
                self.login(user)
                assert self.client.get(url).status_code == status

    def test_a_seal_shows_its_digest(self):
        self.login(self.auditor)
        response = self.client.get(reverse("admin:audit_auditseal_change", args=[self.seal.pk]))
        assert response.status_code == 200
        self.assertContains(response, self.seal.digest)
