"""Paging the audit trail by key: every event once, in order, "Newer" and "Older" (item 3).

The trail is never counted: each page link carries the key (time, source, row) of
the event it continues from.
"""

import datetime
import re

from django.urls import reverse
from django.utils import timezone

from admin_ext.audit import trail
from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Patient

URL = reverse("admin:audit_trail")


def all_keys(user, **kwargs) -> list:
    """Every event's key, newest first, read in one go (the order pages must follow)."""
    until = timezone.now() + datetime.timedelta(days=1)
    return [e.key for e in trail.iter_events(user, until=until, chunk=1000, **kwargs)]


class TrailPagingTests(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        for i in range(70):
            log_access(action=AccessLog.Action.VIEW, actor=cls.alice, obj=cls.alice_patient)
            cls.other_patient.refresh_from_db()
            cls.other_patient.city = f"Town {i}"
            services.patient_save(patient=cls.other_patient, actor=cls.admin, reason=f"r{i}")

    def walk(self, user) -> list:
        """The keys of every page from the newest, following "Older"."""
        keys, page = [], trail.trail_page(user)
        while True:
            keys += [e.key for e in page.events]
            if page.older is None:
                return keys
            page = trail.trail_page(user, cursor=trail.decode_cursor(page.older))

    def test_older_pages_give_every_event_once_newest_first(self):
        keys = self.walk(self.auditor)
        assert len(keys) > 3 * trail.PAGE_SIZE
        assert keys == all_keys(self.auditor)
        assert len(set(keys)) == len(keys)
        assert keys == sorted(keys, reverse=True)

    def test_events_at_the_same_moment_are_each_shown_once(self):
        # A bulk import stamps many rows with one time, across tables.
        moment = timezone.now() - datetime.timedelta(hours=1)
        AccessLog.objects.update(created_at=moment)
        Patient.history.update(history_date=moment)
        keys = self.walk(self.auditor)
        assert keys == all_keys(self.auditor)
        assert len(set(keys)) == len(keys)
        assert sum(1 for k in keys if k[0] == moment) > 2 * trail.PAGE_SIZE

    def test_newer_goes_back_to_the_page_before(self):
        first = trail.trail_page(self.auditor)
        second = trail.trail_page(self.auditor, cursor=trail.decode_cursor(first.older))
        third = trail.trail_page(self.auditor, cursor=trail.decode_cursor(second.older))
        back = trail.trail_page(self.auditor, cursor=trail.decode_cursor(third.newer), newer=True)
        assert [e.key for e in back.events] == [e.key for e in second.events]
        top = trail.trail_page(self.auditor, cursor=trail.decode_cursor(back.newer), newer=True)
        assert [e.key for e in top.events] == [e.key for e in first.events]
        assert first.newer is None and top.newer is None

    def test_a_doctor_pages_through_her_patients_events_only(self):
        keys = self.walk(self.alice)
        assert keys == all_keys(self.alice)
        assert len(keys) > trail.PAGE_SIZE  # her 70 views at least
        shown = trail.trail_page(self.alice).events
        assert {e.object_id for e in shown if e.model == "clinic.patient"} == {
            str(self.alice_patient.pk)
        }

    def test_the_page_links_keep_the_filters(self):
        self.login(self.auditor)
        html = self.client.get(URL + "?model=clinic.patient&action=view").content.decode()
        older = re.search(r'id="audit-trail-older" href="([^"]+)"', html).group(1)
        older = older.replace("&amp;", "&")
        assert "model=clinic.patient" in older and "action=view" in older
        html = self.client.get(URL + older).content.decode()
        assert 'id="audit-trail-newer"' in html
        views = re.findall(r'<tr class="audit-event audit-(\w+)"', html)
        assert views and set(views) == {"view"}
