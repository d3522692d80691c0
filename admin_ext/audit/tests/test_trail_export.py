"""The audit trail's CSV export: the filtered trail, streamed, for auditors, and logged.

Issue 7, item 3: "The filtered trail exports as CSV for auditors (the export is
itself logged)".
"""

import csv
import io
from urllib.parse import urlencode

from django.urls import reverse

from admin_ext.audit.models import AccessLog
from admin_ext.audit.tests.test_trail import TrailTestCase
from clinic import services

EXPORT = reverse("admin:audit_trail_export")


def read_csv(response) -> list[dict]:
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


class TrailExportTests(TrailTestCase):
    def export(self, user, **params):
        self.login(user)
        return self.client.get(EXPORT + "?" + urlencode(params))

    def test_an_auditor_downloads_the_filtered_trail(self):
        response = self.export(self.auditor, model="clinic.patient", object=self.alice_patient.pk)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        lines = read_csv(response)
        assert lines and {line["object_id"] for line in lines} == {str(self.alice_patient.pk)}
        (change,) = [line for line in lines if line["reason"] == "Moved house"]
        assert change["action"] == "changed" and change["actor"] == "admin@example.com"
        assert "City: — -> Salem" in change["changes"]
        assert any(line["action"] == "view" for line in lines)

    def test_the_export_is_logged_with_its_rows_and_filter(self):
        lines = read_csv(self.export(self.auditor, action="view"))
        entry = AccessLog.objects.get(action=AccessLog.Action.EXPORT)
        assert entry.actor == self.auditor
        assert entry.detail["rows"] == len(lines) == 2
        assert entry.detail["filter"] == {"action": "view"}
        assert entry.content_type.model == "accesslog"
        # And the next export shows the first one, as an auditor reads it.
        later = read_csv(self.export(self.auditor, action="export"))
        assert [line["row"] for line in later] == [str(entry.pk)]

    def test_ssns_stay_masked_in_the_file(self):
        self.alice_patient.refresh_from_db()
        self.alice_patient.ssn = "123-45-6789"
        services.patient_save(patient=self.alice_patient, actor=self.admin, reason="SSN fixed")
        response = self.export(self.auditor, model="clinic.patient")
        text = "".join(str(line) for line in read_csv(response))
        assert "***-**-6789" in text and "123-45-6789" not in text

    def test_a_formula_in_a_reason_is_neutralized(self):
        self.alice_patient.refresh_from_db()
        self.alice_patient.city = "Boston"
        services.patient_save(patient=self.alice_patient, actor=self.admin, reason="=HYPERLINK(1)")
        lines = read_csv(self.export(self.auditor, action="changed"))
        assert "'=HYPERLINK(1)" in [line["reason"] for line in lines]

    def test_it_is_for_export_audit_holders_only(self):
        # The administrator reads the trail but does not export it (people/roles.py).
        for user in (self.admin, self.alice, self.front_desk, self.steward):
            with self.subTest(user=user.email):
                assert self.export(user).status_code == 403
        assert not AccessLog.objects.filter(action=AccessLog.Action.EXPORT).exists()
        assert self.export(self.operator).status_code == 200

    def test_it_answers_get_only(self):
        self.login(self.auditor)
        for method in ("post", "put", "delete"):
            with self.subTest(method=method):
                assert getattr(self.client, method)(EXPORT).status_code == 405
        # HEAD sends no rows, so it exports (and logs) nothing.
        assert self.client.head(EXPORT).status_code == 200
        assert not AccessLog.objects.filter(action=AccessLog.Action.EXPORT).exists()

    def test_a_bad_filter_goes_back_to_the_page_and_exports_nothing(self):
        response = self.export(self.auditor, actor="abc", model="clinic.patient")
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:audit_trail") + "?")
        assert "actor=abc" in response["Location"]
        assert not AccessLog.objects.filter(action=AccessLog.Action.EXPORT).exists()
