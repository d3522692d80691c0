"""The dashboard's "Recent actions": the newest audit trail events the viewer may see.

Issue 7, item 4: "The dashboard's 'Recent actions' (empty today, since imports and
services write no admin LogEntry) shows recent history the viewer may see instead."
"""

import re

from django.urls import reverse

from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access
from admin_ext.audit.tests.trail_data import TrailDataTestCase
from admin_ext.dashboard.tests.reading import text
from clinic import services


def recent(html: str) -> str:
    """The "Recent actions" panel's HTML."""
    start = html.index('id="recent-actions-module"')
    return html[start : html.index("<!-- /recent-actions-module -->", start)]


def entries(html: str) -> list[str]:
    panel = recent(html)
    items = re.findall(r'<div class="timeline-item">(.*?)</div>\s*</div>', panel, re.S)
    return [text(item) for item in items]


class DashboardRecentActionsTests(TrailDataTestCase):
    """The two patient changes of ``trail_data``, without its access-log rows (the
    doctor test writes the one view it needs)."""

    access_rows = False

    def index(self, user) -> str:
        self.login(user)
        response = self.client.get(reverse("admin:index"))
        assert response.status_code == 200
        return response.content.decode()

    def test_an_auditor_sees_the_newest_changes_with_links(self):
        html = self.index(self.auditor)
        shown = entries(html)
        assert any(str(self.other_patient) in e and "Changed" in e for e in shown)
        history = reverse("admin:clinic_patient_history", args=[self.other_patient.pk])
        assert f'href="{history}"' in recent(html)
        assert f'href="{reverse("admin:audit_trail")}"' in recent(html)

    def test_it_shows_ten_events_at_most_newest_first(self):
        for i in range(15):
            self.other_patient.refresh_from_db()
            self.other_patient.city = f"Town {i}"
            services.patient_save(patient=self.other_patient, actor=self.admin, reason=f"r{i}")
        shown = entries(self.index(self.auditor))
        assert len(shown) == 10
        # The auditor's own sign-in is the newest event, then the latest changes.
        changed = [e for e in shown if "Changed" in e]
        assert changed and all("City" in e for e in changed)

    def test_a_doctor_sees_only_her_patients_events(self):
        log_access(action=AccessLog.Action.VIEW, actor=self.auditor, obj=self.other_patient)
        html = self.index(self.alice)
        panel = recent(html)
        assert str(self.alice_patient) in panel
        assert self.other_patient.mrn not in panel and "Other moved" not in panel

    def test_roles_without_an_audit_permission_see_none(self):
        for user in (self.front_desk, self.steward):
            with self.subTest(user=user.email):
                panel = recent(self.index(user))
                assert "None available" in panel
                assert entries(self.index(user)) == []

    def test_the_ssn_never_shows_in_the_panel(self):
        self.alice_patient.refresh_from_db()
        self.alice_patient.ssn = "123-45-6789"
        services.patient_save(patient=self.alice_patient, actor=self.admin, reason="SSN fixed")
        for user in (self.auditor, self.alice):
            with self.subTest(user=user.email):
                assert "123-45-6789" not in self.index(user)
