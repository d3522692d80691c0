"""Looking at patients leaves access-log rows: the change page, history pages, search
results, exports and unmasked SSNs (issue 7, item 2; HIPAA 45 CFR 164.312(b))."""

import contextlib
from unittest import mock

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.template.response import TemplateResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from admin_ext.audit.models import AccessLog
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.admin import PatientAdmin
from clinic.models import Patient
from clinic.tests.admin_forms import patient_form_data
from clinic.tests.exporting import FORMATS, export_from_changelist, export_selected, form_data
from clinic.tests.exporting import rows as exported_rows
from clinic.tests.factories import PatientFactory

#: What the test client sends, so each row can be traced to this request.
CLIENT = {
    "REMOTE_ADDR": "203.0.113.9",
    "HTTP_USER_AGENT": "AuditBrowser/2.0",
    "HTTP_X_REQUEST_ID": "req-0123456789",
}

Action = AccessLog.Action


class AccessLogTestCase(ClinicTestCase):
    def setUp(self):
        self.patient_type = ContentType.objects.get_for_model(Patient)
        # Rows the fixtures wrote (grants of the personas' patients) are not the test's.
        self.first_id = (
            AccessLog.objects.order_by("-id").values_list("id", flat=True).first() or 0
        ) + 1

    def get(self, url, **extra):
        return self.client.get(url, **{**CLIENT, **extra})

    def change_url(self, patient, model="patient"):
        return reverse(f"admin:clinic_{model}_change", args=[patient.pk])

    def rows(self, action=None):
        rows = AccessLog.objects.filter(id__gte=self.first_id).exclude(
            action__in=[Action.LOGIN, Action.LOGOUT]
        )
        return list(rows.filter(action=action) if action else rows.order_by("id"))

    def assertRowFor(self, row, user, action, patient, detail=None):
        """``row`` is ``user``'s ``action`` on ``patient``, from the test client."""
        self.assertEqual(
            (row.actor, row.actor_label, row.action), (user, user.email, action), row.detail
        )
        self.assertEqual(
            (row.content_type, row.object_id, row.object_repr),
            (self.patient_type, str(patient.pk), str(patient)),
        )
        self.assertEqual(
            (row.ip_address, row.user_agent, row.request_id),
            ("203.0.113.9", "AuditBrowser/2.0", "req-0123456789"),
        )
        self.assertEqual(row.detail, detail or {})

    def inserts(self, captured) -> int:
        return sum('INSERT INTO "audit_accesslog"' in q["sql"] for q in captured.captured_queries)


class ChangePageTests(AccessLogTestCase):
    def test_it_logs_a_view_of_a_patients_change_page(self):
        self.login(self.front_desk)

        response = self.get(self.change_url(self.other_patient))

        self.assertEqual(response.status_code, 200)
        (row,) = self.rows()
        self.assertRowFor(row, self.front_desk, Action.VIEW, self.other_patient)

    def test_a_doctor_viewing_their_patient_is_logged(self):
        self.login(self.alice)

        self.get(self.change_url(self.alice_patient))

        (row,) = self.rows()
        self.assertRowFor(row, self.alice, Action.VIEW, self.alice_patient)

    def test_a_work_queue_view_is_logged_as_a_view_of_the_patient(self):
        archived = PatientFactory(last_name="Gone")
        services.patient_archive(patient=archived, actor=self.front_desk, reason="test")
        self.login(self.front_desk)

        self.get(self.change_url(self.other_patient, "unassignedpatient"))
        self.get(self.change_url(archived, "archivedpatient"))

        first, second = self.rows()
        self.assertRowFor(first, self.front_desk, Action.VIEW, self.other_patient)
        self.assertRowFor(second, self.front_desk, Action.VIEW, archived)

    def test_a_hidden_or_missing_patient_writes_nothing(self):
        self.login(self.bob)
        for object_id in (self.alice_patient.pk, 987654, "not-an-id"):
            with self.subTest(object_id=object_id):
                url = reverse("admin:clinic_patient_change", args=[object_id])
                response = self.get(url)
                self.assertEqual(response.status_code, 302)
        self.assertEqual(self.rows(), [])

    def test_a_save_writes_no_view_row(self):
        self.login(self.front_desk)

        response = self.client.post(
            self.change_url(self.other_patient),
            patient_form_data(self.other_patient, with_ssn=False, city="Salem"),
            **CLIENT,
        )

        self.assertEqual(response.status_code, 302)
        self.assertEqual(Patient.objects.get(pk=self.other_patient.pk).city, "Salem")
        self.assertEqual(self.rows(), [])

    def test_a_refused_save_writes_no_view_row(self):
        self.login(self.front_desk)

        response = self.client.post(
            self.change_url(self.other_patient),
            patient_form_data(self.other_patient, with_ssn=False, birth_date="2999-01-01"),
            **CLIENT,
        )

        self.assertEqual(response.status_code, 200)  # the form again, with the error
        self.assertTrue(response.context["adminform"].form.errors)
        self.assertEqual(self.rows(), [])

    def test_the_add_page_writes_nothing(self):
        self.login(self.front_desk)

        self.assertEqual(self.get(reverse("admin:clinic_patient_add")).status_code, 200)

        self.assertEqual(self.rows(), [])

    def test_the_row_stays_when_the_page_fails_to_render(self):
        self.login(self.front_desk)

        with mock.patch.object(TemplateResponse, "render", side_effect=RuntimeError("boom")):
            with self.assertRaises(RuntimeError):
                self.get(self.change_url(self.other_patient))

        (row,) = self.rows()
        self.assertRowFor(row, self.front_desk, Action.VIEW, self.other_patient)

    def count_page(self, user, *, logging: bool) -> tuple[int, int]:
        """Queries and access-log INSERTs of the change page; ``logging=False`` is the
        page as it was before the access log."""
        self.login(user)
        url = self.change_url(self.other_patient)
        self.get(url)  # warm caches (content types, permissions)
        quiet = contextlib.nullcontext() if logging else mock.patch("clinic.admin.log_access")
        with quiet, CaptureQueriesContext(connection) as captured:
            self.assertEqual(self.get(url).status_code, 200)
        return len(captured), self.inserts(captured)

    def test_the_page_costs_one_insert_and_two_when_it_reveals_an_ssn(self):
        for user, added in ((self.front_desk, 1), (self.admin, 2)):
            with self.subTest(user=user.email):
                before, _ = self.count_page(user, logging=False)
                after, inserts = self.count_page(user, logging=True)
                self.assertEqual((after - before, inserts), (added, added))


class SsnRevealTests(AccessLogTestCase):
    def test_a_user_who_sees_the_ssn_unmasked_leaves_an_ssn_reveal_row(self):
        self.login(self.admin)

        response = self.get(self.change_url(self.other_patient))

        self.assertContains(response, self.other_patient.ssn)
        view, reveal = self.rows()
        self.assertRowFor(view, self.admin, Action.VIEW, self.other_patient)
        self.assertRowFor(
            reveal, self.admin, Action.SSN_REVEAL, self.other_patient, {"page": "change"}
        )

    def test_a_masked_ssn_is_no_reveal(self):
        for user in (self.front_desk, self.auditor):
            with self.subTest(user=user.email):
                self.login(user)
                response = self.get(self.change_url(self.other_patient))
                self.assertNotContains(response, self.other_patient.ssn)
        self.assertEqual(self.rows(Action.SSN_REVEAL), [])
        self.assertEqual(len(self.rows(Action.VIEW)), 2)

    def test_a_patient_without_an_ssn_is_no_reveal(self):
        walk_in = PatientFactory(ssn="")
        self.login(self.admin)

        self.get(self.change_url(walk_in))

        self.assertEqual([r.action for r in self.rows()], [Action.VIEW])

    def test_a_version_page_showing_the_ssn_is_a_reveal(self):
        record = self.other_patient.history.latest()
        url = reverse(
            "admin:clinic_patient_simple_history", args=[self.other_patient.pk, record.pk]
        )
        self.login(self.admin)

        response = self.get(url)

        self.assertContains(response, self.other_patient.ssn)
        view, reveal = self.rows()
        version = {"version": record.pk}
        self.assertRowFor(view, self.admin, Action.VIEW_HISTORY, self.other_patient, version)
        self.assertRowFor(
            reveal,
            self.admin,
            Action.SSN_REVEAL,
            self.other_patient,
            {"page": "version", **version},
        )

        self.login(self.front_desk)
        self.assertNotContains(self.get(url), self.other_patient.ssn)
        self.assertEqual(len(self.rows(Action.SSN_REVEAL)), 1)

    def test_a_history_list_showing_an_ssn_change_is_a_reveal(self):
        url = reverse("admin:clinic_patient_history", args=[self.other_patient.pk])
        self.login(self.admin)
        self.get(url)
        self.assertEqual(self.rows(Action.SSN_REVEAL), [])  # no diff shows the SSN yet

        self.other_patient.ssn = "999-55-4321"
        services.patient_save(patient=self.other_patient, actor=self.admin, reason="typo")
        response = self.get(url)

        self.assertContains(response, "999-55-4321")
        (reveal,) = self.rows(Action.SSN_REVEAL)
        self.assertRowFor(
            reveal, self.admin, Action.SSN_REVEAL, self.other_patient, {"page": "history"}
        )
        self.login(self.front_desk)
        self.assertNotContains(self.get(url), "999-55-4321")
        self.assertEqual(len(self.rows(Action.SSN_REVEAL)), 1)


class HistoryPageTests(AccessLogTestCase):
    def history_url(self, patient, model="patient"):
        return reverse(f"admin:clinic_{model}_history", args=[patient.pk])

    def test_it_logs_a_view_of_the_history_list(self):
        self.login(self.front_desk)

        self.assertEqual(self.get(self.history_url(self.other_patient)).status_code, 200)

        (row,) = self.rows()
        self.assertRowFor(row, self.front_desk, Action.VIEW_HISTORY, self.other_patient)

    def test_it_logs_a_view_of_one_version_with_its_id(self):
        record = self.alice_patient.history.earliest()
        self.login(self.alice)

        response = self.get(
            reverse("admin:clinic_patient_simple_history", args=[self.alice_patient.pk, record.pk])
        )

        self.assertEqual(response.status_code, 200)
        (row,) = self.rows()
        self.assertRowFor(
            row, self.alice, Action.VIEW_HISTORY, self.alice_patient, {"version": record.pk}
        )

    def test_a_work_queue_history_is_logged_for_the_patient(self):
        self.login(self.front_desk)

        self.get(self.history_url(self.other_patient, "unassignedpatient"))

        (row,) = self.rows()
        self.assertRowFor(row, self.front_desk, Action.VIEW_HISTORY, self.other_patient)

    def test_a_hidden_patients_history_writes_nothing(self):
        record = self.alice_patient.history.earliest()
        self.login(self.bob)

        self.assertEqual(self.get(self.history_url(self.alice_patient)).status_code, 302)
        version_url = reverse(
            "admin:clinic_patient_simple_history", args=[self.alice_patient.pk, record.pk]
        )
        self.assertEqual(self.get(version_url).status_code, 302)

        self.assertEqual(self.rows(), [])

    def test_an_as_of_redirect_logs_only_the_version_it_opens(self):
        self.login(self.front_desk)

        response = self.get(self.history_url(self.other_patient), data={"as_of": "2999-01-01"})

        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.rows(), [])
        self.get(response.url)
        (row,) = self.rows()
        self.assertEqual(row.detail, {"version": self.other_patient.history.latest().pk})

    def test_the_row_stays_when_the_history_page_fails_to_render(self):
        self.login(self.front_desk)

        with mock.patch("simple_history.admin.render", side_effect=RuntimeError("boom")):
            with self.assertRaises(RuntimeError):
                self.get(self.history_url(self.other_patient))

        (row,) = self.rows()
        self.assertRowFor(row, self.front_desk, Action.VIEW_HISTORY, self.other_patient)


class SearchResultTests(AccessLogTestCase):
    def list_url(self, model="patient"):
        return reverse(f"admin:clinic_{model}_changelist")

    def test_each_patient_a_search_finds_gets_one_row_in_one_insert(self):
        found = [PatientFactory(last_name="Lindqvist") for _ in range(3)]
        self.login(self.front_desk)

        with CaptureQueriesContext(connection) as captured:
            response = self.get(self.list_url(), data={"q": "Lindqvist"})

        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.inserts(captured), 1)
        rows = sorted(self.rows(Action.SEARCH), key=lambda r: int(r.object_id))
        self.assertEqual(len(rows), 3)
        for row, patient in zip(rows, found, strict=True):
            self.assertRowFor(
                row, self.front_desk, Action.SEARCH, patient, {"filter": "q=Lindqvist"}
            )

    def test_a_filtered_list_logs_the_patients_on_its_page_only(self):
        for _ in range(3):
            PatientFactory(gender="M")
        self.login(self.front_desk)

        with mock.patch.object(PatientAdmin, "list_per_page", 2):
            response = self.get(self.list_url(), data={"gender": "M"})

        shown = list(response.context["cl"].result_list)
        self.assertEqual(len(shown), 2)
        rows = self.rows(Action.SEARCH)
        self.assertEqual({r.object_id for r in rows}, {str(p.pk) for p in shown})
        self.assertEqual({tuple(r.detail.items()) for r in rows}, {(("filter", "gender=M"),)})

    def test_the_plain_list_writes_nothing(self):
        self.login(self.front_desk)
        for params in ({}, {"o": "2"}, {"q": ""}):
            with self.subTest(params=params):
                response = self.get(self.list_url(), data=params)
                self.assertEqual(len(response.context["cl"].result_list), 2)
        self.assertEqual(self.rows(), [])

    def test_a_doctors_search_logs_only_the_patients_they_see(self):
        self.login(self.alice)

        self.get(self.list_url(), data={"q": "Patel"})
        self.get(self.list_url(), data={"q": "Other"})  # not hers: found nothing

        (row,) = self.rows()
        self.assertRowFor(row, self.alice, Action.SEARCH, self.alice_patient, {"filter": "q=Patel"})

    def test_a_work_queue_search_logs_the_patient(self):
        self.login(self.front_desk)

        self.get(self.list_url("unassignedpatient"), data={"q": "Other"})

        (row,) = self.rows()
        self.assertRowFor(
            row, self.front_desk, Action.SEARCH, self.other_patient, {"filter": "q=Other"}
        )

    def test_a_malformed_filter_writes_nothing(self):
        self.login(self.front_desk)

        response = self.get(self.list_url(), data={"birth_date__gte": "not-a-date"})

        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.rows(), [])


class PatientExportTests(AccessLogTestCase):
    def export_row(self):
        (row,) = self.rows(Action.EXPORT)
        return row

    def assertExportRow(self, row, user, detail):
        self.assertEqual((row.actor, row.action), (user, Action.EXPORT))
        self.assertEqual(
            (row.content_type, row.object_id, row.object_repr), (self.patient_type, "", "")
        )
        self.assertEqual(
            (row.ip_address, row.user_agent, row.request_id),
            ("203.0.113.9", "AuditBrowser/2.0", "req-0123456789"),
        )
        self.assertEqual(row.detail, detail)

    def setUp(self):
        super().setUp()
        self.client.defaults.update(CLIENT)

    def test_a_filtered_csv_export_is_one_row_with_its_count_and_filter(self):
        PatientFactory(last_name="Lindqvist")
        PatientFactory(last_name="Lindqvist")
        self.login(self.steward)
        url = reverse("admin:clinic_patient_changelist") + "?q=Lindqvist"

        _, response = export_from_changelist(self.client, url, "csv")

        self.assertEqual(response.status_code, 200)
        # Written before the file is sent: nothing of the stream has been read yet.
        self.assertExportRow(
            self.export_row(), self.steward, {"rows": 2, "filter": "q=Lindqvist", "format": "csv"}
        )
        self.assertEqual(len(exported_rows(response, "csv")), 2)

    def test_an_xlsx_export_names_its_format(self):
        self.login(self.steward)

        _, response = export_from_changelist(
            self.client, reverse("admin:clinic_patient_changelist"), "xlsx"
        )

        self.assertEqual(len(exported_rows(response, "xlsx")), 2)
        self.assertExportRow(
            self.export_row(), self.steward, {"rows": 2, "filter": "", "format": "xlsx"}
        )

    def test_export_selected_counts_the_ticked_rows(self):
        self.login(self.steward)
        url = reverse("admin:clinic_patient_changelist")

        _, response = export_selected(self.client, url, [self.alice_patient.pk], "csv")

        self.assertEqual(len(exported_rows(response, "csv")), 1)
        self.assertExportRow(
            self.export_row(), self.steward, {"rows": 1, "filter": "", "format": "csv"}
        )

    def test_a_work_queue_export_is_logged_for_patients(self):
        self.login(self.steward)

        export_from_changelist(
            self.client, reverse("admin:clinic_unassignedpatient_changelist"), "csv"
        )

        self.assertExportRow(
            self.export_row(), self.steward, {"rows": 1, "filter": "", "format": "csv"}
        )

    def test_unmasked_ssns_in_the_file_are_noted_on_the_row(self):
        self.login(self.admin)

        _, response = export_from_changelist(
            self.client, reverse("admin:clinic_patient_changelist"), "csv"
        )

        self.assertIn(self.other_patient.ssn, [r["ssn"] for r in exported_rows(response, "csv")])
        self.assertExportRow(
            self.export_row(),
            self.admin,
            {"rows": 2, "filter": "", "format": "csv", "ssn": "unmasked"},
        )
        self.assertEqual(self.rows(Action.SSN_REVEAL), [])

    def test_a_file_without_the_ssn_column_notes_no_ssn(self):
        self.login(self.admin)
        page = self.client.get(reverse("admin:clinic_patient_export"))
        data = form_data(page, "csv")
        del data["patientresource_ssn"]

        response = self.client.post(reverse("admin:clinic_patient_export"), data)

        self.assertNotIn("ssn", exported_rows(response, "csv")[0])
        self.assertExportRow(
            self.export_row(), self.admin, {"rows": 2, "filter": "", "format": "csv"}
        )

    def test_a_refused_export_writes_nothing(self):
        self.login(self.alice)  # a doctor has no export_patient

        response = self.client.post(
            reverse("admin:clinic_patient_export"), {"format": FORMATS["csv"], "resource": 0}
        )

        self.assertEqual(response.status_code, 403)
        self.assertEqual(self.rows(Action.EXPORT), [])
