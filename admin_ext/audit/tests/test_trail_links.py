"""Links into the audit trail: a patient's "Timeline" and a user's "Activity" (item 4).

"A patient's page gets one timeline of changes and views ... a user's page links to
everything that user did."
"""

import re

from django.urls import reverse

from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access
from admin_ext.testing import ClinicTestCase

TRAIL = reverse("admin:audit_trail")


def link(html: str, element_id: str) -> str | None:
    """The href of the element with ``element_id``, unescaped; None without one."""
    match = re.search(rf'id="{element_id}" href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


class TimelineLinkTests(ClinicTestCase):
    def page(self, user):
        self.login(user)
        response = self.client.get(
            reverse("admin:clinic_patient_change", args=[self.alice_patient.pk])
        )
        assert response.status_code == 200
        return response.content.decode()

    def test_the_patient_page_links_to_its_timeline(self):
        expected = f"{TRAIL}?model=clinic.patient&object={self.alice_patient.pk}"
        for user in (self.auditor, self.admin, self.alice):
            with self.subTest(user=user.email):
                assert link(self.page(user), "patient-timeline") == expected

    def test_the_timeline_shows_changes_and_views_of_that_patient(self):
        log_access(action=AccessLog.Action.VIEW, actor=self.auditor, obj=self.other_patient)
        log_access(action=AccessLog.Action.VIEW, actor=self.auditor, obj=self.alice_patient)
        timeline = link(self.page(self.alice), "patient-timeline")
        html = self.client.get(timeline).content.decode()
        events = re.findall(r'<tr class="audit-event audit-(\w+)"', html)
        assert "view" in events and "created" in events
        assert self.other_patient.mrn not in html

    def test_no_timeline_link_without_an_audit_permission(self):
        assert link(self.page(self.front_desk), "patient-timeline") is None


class ActivityLinkTests(ClinicTestCase):
    def page(self, user, whose):
        self.login(user)
        response = self.client.get(reverse("admin:people_user_change", args=[whose.pk]))
        assert response.status_code == 200
        return response.content.decode()

    def test_a_users_page_links_to_what_they_did(self):
        log_access(action=AccessLog.Action.VIEW, actor=self.alice, obj=self.alice_patient)
        for user in (self.auditor, self.admin):
            with self.subTest(user=user.email):
                href = link(self.page(user, self.alice), "user-activity")
                assert href == f"{TRAIL}?actor={self.alice.pk}"
                html = self.client.get(href).content.decode()
                actors = re.findall(r'href="[^"]*\?actor=(\d+)"', html)
                assert actors and set(actors) == {str(self.alice.pk)}
                assert "alice@example.com" in html and "Viewed record" in html
