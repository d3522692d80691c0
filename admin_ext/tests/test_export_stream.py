"""The admin's CSV export is streamed: the same file as before, flat memory, constant queries.

Each test exports as a user does (changelist, Export, the form posted where the page
posts it; ``clinic.tests.exporting``) unless it is about ``stream_csv`` itself. The
"before" file is import-export's own in-memory path (``ExportMixin._do_file_export``:
one Dataset of every row, then its text) run on the same admin, user and list.
"""

import csv
import io
from unittest import mock

from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from guardian.shortcuts import assign_perm
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV

from admin_ext.exports import MSG_TOO_MANY_ROWS, escape_formulae, stream_csv
from admin_ext.testing import ClinicTestCase
from clinic.models import Doctor, Organization, Patient
from clinic.resources import PatientResource
from clinic.tests.exporting import (
    column,
    content,
    export_from_changelist,
    export_link,
    export_selected,
    submit,
)
from clinic.tests.factories import DoctorFactory, OrganizationFactory, PatientFactory

PATIENTS = "admin:clinic_patient_changelist"
DOCTORS = "admin:clinic_doctor_changelist"
ORGANIZATIONS = "admin:clinic_organization_changelist"


def export_before(user, model, query: str = ""):
    """The response import-export 4.4.3's in-memory export gives ``user`` for the list
    at ``query`` (the admin's own queryset, resource and formula escaping)."""
    model_admin = admin.site.get_model_admin(model)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_export") + query
    request = RequestFactory().get(url)
    request.user = user
    queryset = model_admin.get_export_queryset(request)
    return ExportMixin._do_file_export(model_admin, CSV(), request, queryset)


class StreamedExportFixtures(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        site = OrganizationFactory(name="=1+1", city="Salem, MA", phone="+1 617 555 0100")
        doctor = DoctorFactory(last_name='O"Brien', organization=site)
        cls.evil = PatientFactory(
            first_name='=HYPERLINK("http://evil.example")',
            last_name="Zed",
            middle_name="-2+3",
            address="1 Main St\nApt 2, rear",
            city="Montréal",
            primary_doctor=doctor,
        )
        cls.plain = PatientFactory(first_name="Bea", last_name="Brown", primary_doctor=doctor)


class StreamedCsvTests(StreamedExportFixtures):
    def test_it_streams_the_csv_with_the_same_name_and_type_as_before(self):
        self.login(self.steward)

        _, file = export_from_changelist(self.client, reverse(PATIENTS), "csv")

        before = export_before(self.steward, Patient)
        self.assertTrue(file.streaming)
        self.assertEqual(file["Content-Type"], "text/csv")
        self.assertEqual(file["Content-Type"], before["Content-Type"])
        self.assertEqual(file["Content-Disposition"], before["Content-Disposition"])
        self.assertRegex(
            file["Content-Disposition"], r'^attachment; filename="Patient-\d{4}-\d\d-\d\d\.csv"$'
        )

    def test_it_writes_byte_for_byte_what_the_in_memory_export_wrote(self):
        cases = [
            (self.steward, PATIENTS, Patient, ""),
            (self.admin, PATIENTS, Patient, ""),  # SSNs shown
            (self.steward, PATIENTS, Patient, "?q=Brown"),
            (self.steward, DOCTORS, Doctor, ""),
            (self.steward, ORGANIZATIONS, Organization, ""),
        ]
        for user, url_name, model, query in cases:
            with self.subTest(user=user.email, list=url_name, query=query):
                self.login(user)
                _, file = export_from_changelist(self.client, reverse(url_name) + query, "csv")
                self.assertEqual(content(file), export_before(user, model, query).content)

    def test_the_compared_file_holds_the_cells_that_are_easy_to_get_wrong(self):
        # What the byte comparison above covers: formulas escaped, a quoted line
        # break and comma, a doubled quote, non-ASCII text, a masked SSN.
        self.login(self.steward)

        _, file = export_from_changelist(self.client, reverse(PATIENTS), "csv")

        text = content(file).decode("utf-8")
        self.assertIn(',"\'=HYPERLINK(""http://evil.example"")",', text)
        self.assertIn(",'-2+3,", text)
        self.assertIn(',"1 Main St\nApt 2, rear",Montréal,', text)
        self.assertIn(f",***-**-{self.evil.ssn[-4:]},", text)
        self.assertTrue(text.endswith("\r\n"))

    def test_it_masks_ssns_for_users_without_view_ssn(self):
        for user, masked in ((self.steward, True), (self.admin, False)):
            with self.subTest(user=user.email):
                self.login(user)
                _, file = export_from_changelist(self.client, reverse(PATIENTS), "csv")
                ssns = column(file, "csv", "ssn")
                expected = [
                    f"***-**-{p.ssn[-4:]}" if masked else p.ssn
                    for p in Patient.objects.order_by("last_name", "first_name", "id")
                ]
                self.assertEqual(ssns, expected)

    def test_it_exports_what_the_lists_search_and_filter_keep(self):
        self.login(self.steward)

        _, file = export_from_changelist(
            self.client, reverse(PATIENTS) + "?q=Brown&primary_doctor__isnull=False", "csv"
        )

        self.assertTrue(file.streaming)
        self.assertEqual(column(file, "csv", "mrn"), [self.plain.mrn])

    def test_a_doctor_exports_only_their_own_patients(self):
        self.alice.user_permissions.add(Permission.objects.get(codename="export_patient"))
        self.login(self.alice)

        _, file = export_from_changelist(self.client, reverse(PATIENTS), "csv")

        self.assertTrue(file.streaming)
        self.assertEqual(column(file, "csv", "mrn"), [self.alice_patient.mrn])
        for hidden in (self.other_patient, self.evil, self.plain):
            self.assertNotIn(hidden.mrn.encode(), content(file))

    def test_export_selected_streams_the_ticked_rows(self):
        self.login(self.steward)

        _, file = export_selected(self.client, reverse(PATIENTS), [self.plain.pk], "csv")

        self.assertTrue(file.streaming)
        self.assertEqual(column(file, "csv", "mrn"), [self.plain.mrn])


class StreamCsvTests(StreamedExportFixtures):
    """``stream_csv`` itself: chunks, and the PostgreSQL path without server-side cursors."""

    def whole_file(self, **kwargs) -> str:
        queryset = Patient.objects.order_by("last_name", "first_name", "id")
        return "".join(stream_csv(PatientResource(user=self.steward), queryset, **kwargs))

    def test_chunk_boundaries_do_not_change_the_file(self):
        PatientFactory.create_batch(6, primary_doctor=DoctorFactory())

        whole = self.whole_file()

        self.assertEqual(len(list(csv.reader(io.StringIO(whole)))), 1 + Patient.objects.count())
        for chunk_size in (1, 3, 5):
            with self.subTest(chunk_size=chunk_size):
                self.assertEqual(self.whole_file(chunk_size=chunk_size), whole)

    def test_it_yields_the_header_first_then_chunks_of_rows(self):
        chunks = list(
            stream_csv(
                PatientResource(user=self.steward),
                Patient.objects.order_by("last_name", "first_name", "id"),
                chunk_size=3,
            )
        )

        self.assertTrue(chunks[0].startswith("external_id,mrn,"))
        self.assertEqual(chunks[0].count("\r\n"), 1)
        self.assertEqual(len(chunks), 1 + 2)  # four patients, three a chunk

    def test_it_renders_dehydrate_methods_and_overridden_hooks_as_the_library_does(self):
        class Dehydrating(PatientResource):
            def dehydrate_city(self, patient):
                return f"={patient.city.upper()}"

        class Overriding(PatientResource):
            def export_field(self, field, instance, **kwargs):
                value = super().export_field(field, instance, **kwargs)
                return f"@{value}" if field.column_name == "last_name" else value

        queryset = Patient.objects.order_by("last_name", "first_name", "id")
        for resource_class in (PatientResource, Dehydrating, Overriding):
            with self.subTest(resource=resource_class.__name__):
                dataset = resource_class(user=self.steward).export(queryset)
                before = CSV().export_data(escape_formulae(dataset))

                streamed = "".join(stream_csv(resource_class(user=self.steward), queryset))

                self.assertEqual(streamed, before)
                if resource_class is not PatientResource:
                    self.assertIn(",'", streamed)  # the hook's formula, escaped

    def test_without_server_side_cursors_the_file_is_the_same(self):
        # PostgreSQL behind a transaction-pooling pgbouncer: rows by key, in chunks.
        # (On SQLite the setting means nothing and the path is the usual one.)
        PatientFactory.create_batch(4, primary_doctor=DoctorFactory())
        whole = self.whole_file()

        with mock.patch.dict(connection.settings_dict, {"DISABLE_SERVER_SIDE_CURSORS": True}):
            self.assertEqual(self.whole_file(chunk_size=3), whole)


class StreamedExportQueryTests(ClinicTestCase):
    """The export runs as many queries for 200 patients as for 10 (no query per row)."""

    def add_patients(self, count, *, grant_to=None):
        for _ in range(count):
            # A different doctor (and site) per row: a missing join shows as a query per row.
            patient = PatientFactory(primary_doctor=DoctorFactory())
            if grant_to is not None:
                assign_perm("clinic.view_patient", grant_to, patient)

    def count_queries(self, user, url_name, expected_rows):
        """Queries of one export of ``url_name`` by ``user``, the file read to the end."""
        self.login(user)
        export_page = self.client.get(export_link(self.client.get(reverse(url_name))))
        content(submit(self.client, export_page, "csv"))  # warm caches (content types)
        with CaptureQueriesContext(connection) as captured:
            file = submit(self.client, export_page, "csv")
            lines = content(file).decode("utf-8")
        self.assertTrue(file.streaming)
        self.assertEqual(len(list(csv.reader(io.StringIO(lines)))), 1 + expected_rows)
        return len(captured)

    def test_stream_csv_joins_the_relations_it_exports(self):
        # A queryset without select_related: stream_csv adds what the resource reads
        # (the primary doctor, written as the doctor's external ID).
        def queries_for(count):
            self.add_patients(count - Patient.objects.count())
            queryset = Patient.objects.order_by("last_name", "first_name", "id")
            with CaptureQueriesContext(connection) as captured:
                text = "".join(stream_csv(PatientResource(user=None), queryset))
            exported = list(csv.DictReader(io.StringIO(text)))
            self.assertEqual(len(exported), count)
            self.assertEqual(
                {row["primary_doctor"] for row in exported},
                {p.primary_doctor.external_id if p.primary_doctor else "" for p in queryset},
            )
            return len(captured)

        small = queries_for(10)
        self.assertEqual(queries_for(200), small)

    def test_it_does_not_query_per_row_for_a_superuser(self):
        self.add_patients(10 - Patient.objects.count())
        small = self.count_queries(self.operator, PATIENTS, 10)
        self.add_patients(190)
        self.assertEqual(self.count_queries(self.operator, PATIENTS, 200), small)

    def test_it_does_not_query_per_row_for_a_doctor(self):
        self.alice.user_permissions.add(Permission.objects.get(codename="export_patient"))
        self.add_patients(9, grant_to=self.alice)  # and Ann Patel, assigned to her
        self.add_patients(3)  # not hers
        small = self.count_queries(self.alice, PATIENTS, 10)
        self.add_patients(190, grant_to=self.alice)
        self.assertEqual(self.count_queries(self.alice, PATIENTS, 200), small)

    def test_it_does_not_query_per_row_for_doctors_and_their_sites(self):
        DoctorFactory.create_batch(10 - Doctor.objects.count())
        small = self.count_queries(self.steward, DOCTORS, 10)
        DoctorFactory.create_batch(190)
        self.assertEqual(self.count_queries(self.steward, DOCTORS, 200), small)


@override_settings(EXPORT_MAX_XLSX_ROWS=3)
class XlsxLimitTests(StreamedExportFixtures):
    """XLSX is built in memory: longer lists are refused with a message pointing to CSV."""

    def test_it_refuses_an_xlsx_export_of_more_rows_than_the_limit(self):
        self.login(self.steward)
        self.assertEqual(Patient.objects.count(), 4)

        page, file = export_from_changelist(self.client, reverse(PATIENTS), "xlsx")

        self.assertEqual(file.status_code, 200)
        self.assertNotIn("Content-Disposition", file)
        self.assertContains(file, MSG_TOO_MANY_ROWS % {"limit": "3", "format": "XLSX"})
        self.assertContains(file, "Export it as CSV")

    def test_the_same_list_still_exports_as_csv(self):
        self.login(self.steward)

        _, file = export_from_changelist(self.client, reverse(PATIENTS), "csv")

        self.assertEqual(len(column(file, "csv", "mrn")), 4)

    def test_it_exports_xlsx_up_to_the_limit(self):
        self.login(self.steward)
        url = reverse(PATIENTS) + "?primary_doctor__isnull=False"  # three of the four

        _, file = export_from_changelist(self.client, url, "xlsx")

        self.assertEqual(len(column(file, "xlsx", "mrn")), 3)
        self.assertIn(".xlsx", file["Content-Disposition"])
