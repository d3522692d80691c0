"""The audit trail's filters: each narrows the events; a crafted value is a form error.

Issue 7, item 3: filterable by actor, model, object, action and date range
(django-filter). A value that cannot be a filter shows an error on the page and no
events, never a server error and never a wider list.
"""

import datetime
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from admin_ext.audit.models import AccessLog
from admin_ext.audit.tests.test_trail import TrailTestCase, rows
from clinic.models import Patient

URL = reverse("admin:audit_trail")


class TrailFilterTests(TrailTestCase):
    def shown(self, user, **params):
        response = self.get(user, "?" + urlencode(params))
        assert response.status_code == 200
        assert "errorlist" not in response.content.decode(), params
        return rows(response)

    def test_actor_shows_what_one_user_did(self):
        shown = self.shown(self.auditor, actor=self.alice.pk)
        assert shown and all("alice@example.com" in r for r in shown)
        assert any("Viewed record" in r for r in shown)

    def test_an_actor_by_email_in_any_case(self):
        by_email = self.shown(self.auditor, actor="ALICE@example.com")
        assert by_email == self.shown(self.auditor, actor=self.alice.pk)

    def test_model_and_object_show_one_records_timeline(self):
        shown = self.shown(self.auditor, model="clinic.patient", object=self.alice_patient.pk)
        text = " | ".join(shown)
        # Its changes and the looks at it, and nothing about anyone else.
        assert "Moved house" in text and "Viewed record" in text
        assert "Created" in text
        assert all(str(self.alice_patient) in r for r in shown)

    def test_model_alone_keeps_its_records_only(self):
        shown = self.shown(self.auditor, model="clinic.organization")
        assert shown and all("Organization" in r for r in shown)

    def test_action_keeps_that_action(self):
        views = self.shown(self.auditor, action="view")
        assert len(views) == 2 and all("Viewed record" in r for r in views)
        changes = self.shown(self.auditor, action="changed", model="clinic.patient")
        assert changes and all("Changed" in r for r in changes)

    def test_dates_keep_the_days_asked_for(self):
        today = timezone.localdate()
        assert self.shown(self.auditor, date_from=today.isoformat(), date_to=today.isoformat())
        yesterday = today - datetime.timedelta(days=1)
        assert self.shown(self.auditor, date_to=yesterday.isoformat()) == []
        # A row moved to yesterday shows when asked for yesterday only.
        when = timezone.now() - datetime.timedelta(days=1)
        AccessLog.objects.filter(pk=self.other_view.pk).update(created_at=when)
        (only,) = self.shown(
            self.auditor, date_from=yesterday.isoformat(), date_to=yesterday.isoformat()
        )
        assert "auditor@example.com" in only and "Viewed record" in only

    def test_the_calendars_ends_are_accepted(self):
        assert self.shown(self.auditor, date_from="0001-01-01", date_to="9999-12-31")
        assert self.shown(self.auditor, date_from="9999-12-31") == []

    def test_a_doctors_object_filter_on_a_hidden_patient_reads_as_a_missing_one(self):
        hidden = self.shown(self.alice, model="clinic.patient", object=self.other_patient.pk)
        missing = self.shown(self.alice, model="clinic.patient", object=987654321)
        assert hidden == missing == []


class TrailFilterErrorTests(TrailTestCase):
    def refused(self, user, field, **params):
        """The page, 200 with an error on ``field`` and no events."""
        response = self.get(user, "?" + urlencode(params))
        assert response.status_code == 200, params
        html = response.content.decode()
        assert "errorlist" in html, params
        assert f'name="{field}"' in html
        assert rows(response) == [], params
        return html

    def test_a_non_numeric_or_huge_actor_or_an_unknown_email(self):
        values = ("abc", "1.5", "-3", "0", "99999999999999999999999", "1e3", "nobody@example.com")
        for value in values:
            with self.subTest(value=value):
                self.refused(self.auditor, "actor", actor=value)

    def test_an_unknown_model(self):
        for value in ("clinic.nosuch", "nosuch", "clinic.Patient", "'; drop table --"):
            with self.subTest(value=value):
                self.refused(self.auditor, "model", model=value)

    def test_a_model_the_doctor_may_not_see(self):
        for value in ("people.user", "audit.accesslog", "clinic.patientshare"):
            with self.subTest(value=value):
                self.refused(self.alice, "model", model=value)
        self.refused(self.alice, "model", model="people.user", object=self.alice.pk)

    def test_an_object_without_a_model_or_of_the_wrong_shape(self):
        html = self.refused(self.auditor, "object", object=self.alice_patient.pk)
        assert "Choose a model to filter by object." in html
        for value in ("abc", "1.5", "99999999999999999999999", "x" * 65):
            with self.subTest(value=value):
                self.refused(self.auditor, "object", model="clinic.patient", object=value)

    def test_impossible_or_reversed_dates(self):
        for field, value in (
            ("date_from", "99999-01-01"),
            ("date_from", "2024-02-30"),
            ("date_to", "yesterday"),
            ("date_to", "-0001-01-01"),
        ):
            with self.subTest(value=value):
                self.refused(self.auditor, field, **{field: value})
        self.refused(self.auditor, "date_to", date_from="2024-05-02", date_to="2024-05-01")

    def test_an_unknown_action(self):
        self.refused(self.auditor, "action", action="delete_everything")

    def test_a_malformed_cursor_starts_from_the_newest(self):
        newest = rows(self.get(self.auditor))
        for value in ("garbage", "e30", "W10", "WyJ4IiwieSIsMV0", "A" * 500):
            with self.subTest(value=value):
                for name in ("after", "before"):
                    response = self.client.get(URL + "?" + urlencode({name: value}))
                    assert response.status_code == 200
                    assert rows(response) == newest

    def test_a_crafted_object_never_shows_a_hidden_patients_rows(self):
        for value in (f"{self.other_patient.pk} ", f"0{self.other_patient.pk}", "1 OR 1=1"):
            with self.subTest(value=value):
                response = self.get(
                    self.alice, "?" + urlencode({"model": "clinic.patient", "object": value})
                )
                assert response.status_code == 200
                html = response.content.decode()
                assert self.other_patient.mrn not in html
                assert Patient.objects.get(pk=self.other_patient.pk).last_name not in html
