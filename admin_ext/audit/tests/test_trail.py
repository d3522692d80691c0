"""The audit trail page: who sees which events, and what each event shows (issue 7, item 3).

Every test reads the page as a user does (the admin URL ``admin:audit_trail``) and
looks at the events it lists.
"""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access
from admin_ext.audit.tests.trail_data import TrailDataTestCase
from admin_ext.dashboard.tests.reading import text
from clinic import services
from clinic.models import Patient
from people import roles
from people.services import user_set_role

URL = reverse("admin:audit_trail")


def rows(response) -> list[str]:
    """The text of each event row on the page, in order."""
    html = response.content.decode()
    found = re.findall(r'<tr class="audit-event[^"]*">(.*?)</tr>', html, re.S)
    return [text(row) for row in found]


class TrailTestCase(TrailDataTestCase):
    """Personas plus a few events: a change with a reason on each patient, and views
    and a sign-in (``trail_data``)."""

    access_rows = True

    def get(self, user, query=""):
        self.login(user)
        return self.client.get(URL + query)


class TrailAccessTests(TrailTestCase):
    def test_it_sends_an_anonymous_visitor_to_sign_in(self):
        response = self.client.get(URL)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))

    def test_it_refuses_roles_without_an_audit_permission(self):
        for user in (self.front_desk, self.steward):
            with self.subTest(user=user.email):
                assert self.get(user).status_code == 403

    def test_it_opens_for_every_audit_role_and_the_operator(self):
        for user in (self.operator, self.admin, self.auditor, self.alice, self.bob):
            with self.subTest(user=user.email):
                response = self.get(user)
                assert response.status_code == 200
                self.assertContains(response, "Audit trail")

    def test_it_answers_get_only(self):
        for user in (self.operator, self.auditor, self.alice, self.front_desk):
            self.login(user)
            for method in ("post", "put", "delete"):
                with self.subTest(user=user.email, method=method):
                    response = getattr(self.client, method)(URL)
                    assert response.status_code == 405


class TrailVisibilityTests(TrailTestCase):
    def test_an_auditor_sees_every_patient_and_every_kind_of_event(self):
        shown = " | ".join(rows(self.get(self.auditor)))
        assert "Moved house" in shown and "Other moved" in shown
        assert str(self.other_patient) in shown and str(self.alice_patient) in shown
        assert "Signed in" in shown and "Viewed record" in shown

    def test_events_come_newest_first(self):
        listed = rows(self.get(self.auditor))
        # The sign-in was written last, the changes before the views.
        assert listed[0].count("Signed in") == 1
        position = {
            text: i for i, row in enumerate(listed) for text in ("Salem", "Lowell") if text in row
        }
        assert position["Lowell"] < position["Salem"]

    def test_a_doctor_sees_only_her_patients_events(self):
        shown = " | ".join(rows(self.get(self.alice)))
        assert "Moved house" in shown
        assert str(self.alice_patient) in shown
        # The other patient: neither its change nor the auditor's look at it.
        assert self.other_patient.mrn not in shown
        assert "Other moved" not in shown and "Lowell" not in shown
        # Rows about no record (a sign-in) are not about her patients either.
        assert "Signed in" not in shown

    def test_a_doctor_without_patients_sees_no_patient_event(self):
        response = self.get(self.bob)
        html = response.content.decode()
        assert rows(response)  # doctors and sites: the model permission
        assert self.alice_patient.mrn not in html and self.other_patient.mrn not in html
        assert not [r for r in rows(response) if "Viewed record" in r]

    def test_a_revoked_grant_hides_the_patients_events_again(self):
        services.patient_assign_primary_doctor(
            patient=self.alice_patient, doctor=self.dr_bob, actor=self.admin, reason="handover"
        )
        assert "Moved house" in " | ".join(rows(self.get(self.bob)))
        assert "Moved house" not in " | ".join(rows(self.get(self.alice)))

    def test_the_model_filter_offers_a_doctor_only_models_she_may_see(self):
        response = self.get(self.alice)
        offered = set(re.findall(r'<option value="([a-z_]+\.[a-z_]+)"', response.content.decode()))
        assert "clinic.patient" in offered
        assert not offered & {"people.user", "audit.accesslog", "clinic.patientshare"}


class TrailEventTests(TrailTestCase):
    def test_a_change_shows_old_and_new_value_and_the_reason(self):
        (row,) = [r for r in rows(self.get(self.auditor)) if "Moved house" in r]
        assert "admin@example.com" in row
        assert "Changed" in row
        assert re.search(r"City : — → Salem", row.replace("&rarr;", "→")), row

    def test_an_ssn_change_is_masked_without_view_ssn(self):
        self.alice_patient.refresh_from_db()
        self.alice_patient.ssn = "123-45-6789"
        services.patient_save(patient=self.alice_patient, actor=self.admin, reason="SSN fixed")
        for user, visible in ((self.auditor, False), (self.alice, False), (self.admin, True)):
            with self.subTest(user=user.email):
                response = self.get(user)
                (row,) = [r for r in rows(response) if "SSN fixed" in r]
                if visible:
                    assert "123-45-6789" in row
                else:
                    assert "***-**-6789" in row
                    assert "123-45-6789" not in response.content.decode()
                    old = Patient.history.filter(id=self.alice_patient.pk).last().ssn
                    assert old not in response.content.decode()

    def test_a_created_record_lists_its_values(self):
        row = [r for r in rows(self.get(self.operator)) if "Created" in r and "Otto" in r][0]
        assert "First name : Otto" in row
        assert f"SSN : {self.other_patient.ssn}" in row  # the operator holds view_ssn

    def test_a_role_change_shows_as_the_users_group_change(self):
        user_set_role(user=self.front_desk, role=roles.AUDITOR, actor=self.admin, reason="Promoted")
        shown = [r for r in rows(self.get(self.auditor)) if "Promoted" in r]
        assert any("Groups :" in r and roles.AUDITOR in r for r in shown), shown

    def test_each_event_links_to_the_records_history(self):
        html = self.get(self.auditor).content.decode()
        history = reverse("admin:clinic_patient_history", args=[self.alice_patient.pk])
        assert f'href="{history}"' in html
        version = Patient.history.filter(id=self.alice_patient.pk).first()
        page = reverse(
            "admin:clinic_patient_simple_history", args=[self.alice_patient.pk, version.pk]
        )
        assert f'href="{page}"' in html

    def test_an_access_row_shows_where_it_came_from(self):
        AccessLog.objects.filter(pk=self.alice_view.pk).update(
            ip_address="203.0.113.9", request_id="req-abcdef12"
        )
        (row,) = [r for r in rows(self.get(self.auditor)) if "203.0.113.9" in r]
        assert "alice@example.com" in row and "Viewed record" in row and "req-abcdef12" in row


class TrailQueryTests(TrailTestCase):
    def add_events(self, count):
        """``count`` patient changes and ``count`` views, the newest of the trail."""
        for i in range(count):
            log_access(action=AccessLog.Action.VIEW, actor=self.alice, obj=self.alice_patient)
            self.other_patient.refresh_from_db()
            self.other_patient.city = f"Town {self.other_patient.version}"
            services.patient_save(patient=self.other_patient, actor=self.admin, reason=f"r{i}")

    def page_queries(self, query=""):
        self.login(self.auditor)
        self.client.get(URL + query)  # caches warm (content types, permissions)
        with CaptureQueriesContext(connection) as captured:
            assert self.client.get(URL + query).status_code == 200
        return len(captured)

    def test_a_page_costs_the_same_queries_at_any_size(self):
        self.add_events(30)
        small = self.page_queries()
        self.add_events(120)
        assert self.page_queries() == small

    def test_a_deep_page_costs_what_the_first_costs(self):
        self.add_events(150)
        first = self.page_queries()
        self.login(self.auditor)
        html = self.client.get(URL).content.decode()
        for _ in range(3):
            older = re.search(r'id="audit-trail-older" href="([^"]+)"', html).group(1)
            html = self.client.get(URL + older.replace("&amp;", "&")).content.decode()
        assert self.page_queries(older.replace("&amp;", "&")) == first
