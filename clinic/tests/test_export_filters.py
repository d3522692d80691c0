"""Export holds exactly the rows the changelist shows: search, filters, order, queues.

Each test opens a changelist as a user would, clicks Export and submits the export
form where the page posts it, in CSV and in XLSX, and compares the exported rows
with the listed ones.
"""

from django.contrib.auth.models import Permission
from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic.models import Patient
from clinic.tests.exporting import (
    FORMATS,
    column,
    content,
    export_from_changelist,
    export_link,
    export_selected,
    form_action,
    listed,
    submit,
)
from clinic.tests.factories import DoctorFactory, OrganizationFactory, PatientFactory

PATIENTS = "admin:clinic_patient_changelist"
UNASSIGNED = "admin:clinic_unassignedpatient_changelist"
ARCHIVED = "admin:clinic_archivedpatient_changelist"
DOCTORS = "admin:clinic_doctor_changelist"
ORGANIZATIONS = "admin:clinic_organization_changelist"

#: The column that identifies a row of each changelist's export.
KEY = {
    PATIENTS: "mrn",
    UNASSIGNED: "mrn",
    ARCHIVED: "mrn",
    DOCTORS: "external_id",
    ORGANIZATIONS: "external_id",
}


class ExportFixtures(ClinicTestCase):
    """Patients, doctors and sites that each search and filter below splits."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        archived = Patient.Status.ARCHIVED
        # Ann Patel (Dr. Alice) and Otto Other (no doctor) come from ClinicTestCase.
        cls.arch_patel = PatientFactory(
            first_name="Arch", last_name="Patel", status=archived, primary_doctor=cls.dr_bob
        )
        cls.una = PatientFactory(first_name="Una", last_name="Nobody", gender="M")
        cls.arlo = PatientFactory(first_name="Arlo", last_name="Gone", status=archived)
        cls.bea = PatientFactory(first_name="Bea", last_name="Brown", primary_doctor=cls.dr_bob)
        cls.dr_cole = DoctorFactory(first_name="Cara", last_name="Cole", active=False)
        cls.granite = OrganizationFactory(name="Granite Care", city="Concord", state="NH")

    def key_of(self, url_name, obj) -> str:
        return getattr(obj, KEY[url_name])

    def assert_exports_what_is_listed(self, url_name, query, *, user=None):
        """Export ``query`` on ``url_name`` in each format; the rows are the listed ones."""
        self.login(user or self.steward)
        url = reverse(url_name) + query
        everything = [self.key_of(url_name, o) for o in listed(self.client.get(reverse(url_name)))]
        for file_format in FORMATS:
            with self.subTest(query=query, format=file_format):
                page, file = export_from_changelist(self.client, url, file_format)
                shown = [self.key_of(url_name, obj) for obj in listed(page)]
                # The query must narrow the list, else the test proves nothing.
                self.assertTrue(shown)
                self.assertLess(len(shown), len(everything))
                self.assertEqual(column(file, file_format, KEY[url_name]), shown)


class ExportFollowsTheChangelistTests(ExportFixtures):
    def test_it_exports_the_patients_a_search_finds(self):
        self.assert_exports_what_is_listed(PATIENTS, "?q=Patel")

    def test_it_exports_the_patients_a_list_filter_keeps(self):
        self.assert_exports_what_is_listed(PATIENTS, "?status=archived")

    def test_it_exports_the_patients_an_isnull_filter_keeps(self):
        self.assert_exports_what_is_listed(PATIENTS, "?primary_doctor__isnull=True")

    def test_it_exports_the_patients_the_no_doctor_filter_keeps(self):
        self.assert_exports_what_is_listed(PATIENTS, "?has_doctor=false")

    def test_it_exports_in_the_lists_order(self):
        # Column 3 is the first name (after the checkbox, MRN and last name), descending.
        self.assert_exports_what_is_listed(PATIENTS, "?primary_doctor__isnull=True&o=-3")

    def test_it_exports_a_search_and_a_filter_together(self):
        self.assert_exports_what_is_listed(PATIENTS, "?q=Patel&status=active")

    def test_it_exports_every_value_of_a_repeated_filter(self):
        # The changelist ORs the values of a repeated lookup (Django 5).
        self.assert_exports_what_is_listed(PATIENTS, "?last_name=Patel&last_name=Gone")

    def test_it_exports_the_doctors_a_search_finds(self):
        self.assert_exports_what_is_listed(DOCTORS, "?q=Adams")

    def test_it_exports_the_doctors_a_list_filter_keeps(self):
        self.assert_exports_what_is_listed(DOCTORS, "?active__exact=0")

    def test_it_exports_the_organizations_a_search_finds(self):
        self.assert_exports_what_is_listed(ORGANIZATIONS, "?q=Granite")

    def test_it_exports_the_organizations_a_list_filter_keeps(self):
        self.assert_exports_what_is_listed(ORGANIZATIONS, "?state__exact=NH")


class WorkQueueExportTests(ExportFixtures):
    def assert_queue_exports_its_rows(self, url_name, expected):
        self.login(self.steward)
        for file_format in FORMATS:
            with self.subTest(format=file_format):
                page, file = export_from_changelist(self.client, reverse(url_name), file_format)
                shown = [p.mrn for p in listed(page)]
                self.assertEqual(sorted(shown), sorted(p.mrn for p in expected))
                self.assertEqual(column(file, file_format, "mrn"), shown)

    def test_it_exports_the_unassigned_queue(self):
        self.assert_queue_exports_its_rows(UNASSIGNED, [self.other_patient, self.una])

    def test_it_exports_the_archived_queue(self):
        self.assert_queue_exports_its_rows(ARCHIVED, [self.arch_patel, self.arlo])

    def test_it_exports_a_filtered_unassigned_queue(self):
        # Una is the one unassigned patient with gender M.
        self.assert_exports_what_is_listed(UNASSIGNED, "?gender=M")

    def test_it_exports_a_searched_archived_queue(self):
        self.assert_exports_what_is_listed(ARCHIVED, "?q=Patel")

    def test_it_offers_queue_export_only_with_export_patient(self):
        for user, may in ((self.auditor, True), (self.front_desk, False)):
            self.login(user)
            for url_name in (UNASSIGNED, ARCHIVED):
                with self.subTest(user=user.email, queue=url_name):
                    page = self.client.get(reverse(url_name))
                    self.assertEqual(export_link(page) is not None, may)
                    export_url = reverse(url_name.replace("_changelist", "_export"))
                    self.assertEqual(self.client.get(export_url).status_code, 200 if may else 403)


class ExportSelectedTests(ExportFixtures):
    def action_names(self, url_name):
        page = self.client.get(reverse(url_name))
        form = page.context.get("action_form")
        return [name for name, _ in form.fields["action"].choices] if form else []

    def test_it_exports_just_the_ticked_rows_of_the_filtered_list(self):
        self.login(self.steward)
        url = reverse(PATIENTS) + "?q=Patel"
        # Otto is ticked but not listed under this search (a stale or crafted tick).
        ticked = [self.alice_patient.pk, self.arch_patel.pk, self.other_patient.pk]
        shown = [p.mrn for p in listed(self.client.get(url))]
        for file_format in FORMATS:
            with self.subTest(format=file_format):
                page, file = export_selected(self.client, url, ticked, file_format)
                self.assertContains(page, "Export 2 selected items.")
                self.assertEqual(column(file, file_format, "mrn"), shown)

    def test_it_keeps_every_value_of_a_repeated_filter(self):
        self.login(self.steward)
        url = reverse(PATIENTS) + "?last_name=Patel&last_name=Gone"
        shown = [p.mrn for p in listed(self.client.get(url))]
        self.assertEqual(len(shown), 3)
        everyone = Patient.objects.values_list("pk", flat=True)
        for file_format in FORMATS:
            with self.subTest(format=file_format):
                _, file = export_selected(self.client, url, everyone, file_format)
                self.assertEqual(column(file, file_format, "mrn"), shown)

    def test_it_sends_select_all_to_the_lists_export(self):
        self.login(self.steward)
        url = reverse(PATIENTS) + "?q=Patel"

        response = self.client.post(
            url,
            {
                "action": "export_admin_action",
                "_selected_action": [self.alice_patient.pk],
                "select_across": "1",
            },
        )

        self.assertRedirects(response, reverse("admin:clinic_patient_export") + "?q=Patel")
        shown = [p.mrn for p in listed(self.client.get(url))]
        for file_format in FORMATS:
            with self.subTest(format=file_format):
                file = submit(self.client, self.client.get(response.url), file_format)
                self.assertEqual(column(file, file_format, "mrn"), shown)

    def test_it_exports_one_ticked_patient_of_many(self):
        self.login(self.steward)
        for file_format in FORMATS:
            with self.subTest(format=file_format):
                _, file = export_selected(
                    self.client, reverse(PATIENTS), [self.bea.pk], file_format
                )
                self.assertEqual(column(file, file_format, "mrn"), [self.bea.mrn])

    def test_it_exports_ticked_rows_of_a_work_queue(self):
        self.login(self.steward)
        for file_format in FORMATS:
            with self.subTest(format=file_format):
                _, file = export_selected(
                    self.client, reverse(UNASSIGNED), [self.una.pk], file_format
                )
                self.assertEqual(column(file, file_format, "mrn"), [self.una.mrn])

    def test_it_exports_ticked_doctors_and_organizations(self):
        self.login(self.steward)
        for url_name, obj in ((DOCTORS, self.dr_bob), (ORGANIZATIONS, self.granite)):
            for file_format in FORMATS:
                with self.subTest(list=url_name, format=file_format):
                    _, file = export_selected(self.client, reverse(url_name), [obj.pk], file_format)
                    self.assertEqual(column(file, file_format, "external_id"), [obj.external_id])

    def test_it_offers_export_selected_only_to_users_who_may_export(self):
        for user, may in ((self.auditor, True), (self.steward, True), (self.front_desk, False)):
            self.login(user)
            for url_name in (PATIENTS, UNASSIGNED, ARCHIVED, DOCTORS, ORGANIZATIONS):
                with self.subTest(user=user.email, list=url_name):
                    self.assertEqual("export_admin_action" in self.action_names(url_name), may)

    def test_it_refuses_export_selected_without_the_export_permission(self):
        self.login(self.front_desk)

        response = self.client.post(
            reverse(PATIENTS),
            {"action": "export_admin_action", "_selected_action": [self.alice_patient.pk]},
        )

        self.assertEqual(response.status_code, 302)
        self.assertNotIn("Content-Disposition", response)


class HiddenRowsTests(ExportFixtures):
    """A user who may export but sees only some patients (Dr. Alice, given export_patient)."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.alice.user_permissions.add(Permission.objects.get(codename="export_patient"))

    def setUp(self):
        self.login(self.alice)

    def assert_nothing_about_hidden_patients(self, file):
        for patient in (self.other_patient, self.arch_patel, self.una, self.arlo, self.bea):
            self.assertNotIn(patient.mrn.encode(), content(file))
            self.assertNotIn(patient.external_id.encode(), content(file))

    def test_it_exports_only_the_visible_rows_of_ticked_ones(self):
        ticked = [self.alice_patient.pk, self.other_patient.pk, self.bea.pk]
        for file_format in FORMATS:
            with self.subTest(format=file_format):
                page, file = export_selected(self.client, reverse(PATIENTS), ticked, file_format)
                self.assertContains(page, "Export 1 selected item.")
                self.assertEqual(column(file, file_format, "mrn"), [self.alice_patient.mrn])
                if file_format == "csv":
                    self.assert_nothing_about_hidden_patients(file)

    def test_a_crafted_post_of_hidden_ids_exports_nothing_about_them(self):
        hidden = [str(p.pk) for p in (self.other_patient, self.bea, self.arch_patel)]
        for file_format in FORMATS:
            with self.subTest(format=file_format):
                page, _ = export_selected(
                    self.client, reverse(PATIENTS), [self.alice_patient.pk], file_format
                )
                file = submit(self.client, page, file_format, export_items=hidden)
                self.assertEqual(column(file, file_format, "mrn"), [])
                if file_format == "csv":
                    self.assert_nothing_about_hidden_patients(file)

                mixed = submit(
                    self.client, page, file_format, export_items=[*hidden, self.alice_patient.pk]
                )
                self.assertEqual(column(mixed, file_format, "mrn"), [self.alice_patient.mrn])

    def test_it_exports_only_visible_patients_from_the_list(self):
        for file_format in FORMATS:
            with self.subTest(format=file_format):
                _, file = export_from_changelist(self.client, reverse(PATIENTS), file_format)
                self.assertEqual(column(file, file_format, "mrn"), [self.alice_patient.mrn])


class RefusedLookupTests(ExportFixtures):
    """A URL filter the changelist refuses is refused on export too, never ignored."""

    def export_url(self, query):
        return reverse("admin:clinic_patient_export") + query

    def test_it_refuses_a_lookup_the_changelist_refuses(self):
        self.login(self.steward)
        query = "?primary_doctor__user__password__startswith=x"

        self.assertEqual(self.client.get(reverse(PATIENTS) + query).status_code, 400)
        self.assertEqual(self.client.get(self.export_url(query)).status_code, 400)
        response = self.client.post(self.export_url(query), {"format": 0, "resource": 0})
        self.assertEqual(response.status_code, 400)

    def test_it_answers_an_ssn_lookup_as_the_changelist_does(self):
        # Whether a user without view_ssn may filter on SSNs is lookup_allowed's
        # decision; the export must give the same answer, and never every row.
        self.login(self.steward)
        query = f"?ssn={self.alice_patient.ssn}"
        changelist = self.client.get(reverse(PATIENTS) + query)

        if changelist.status_code == 400:
            self.assertEqual(self.client.get(self.export_url(query)).status_code, 400)
            response = self.client.post(self.export_url(query), {"format": 0, "resource": 0})
            self.assertEqual(response.status_code, 400)
        else:
            self.assertEqual(listed(changelist), [self.alice_patient])
            for file_format in FORMATS:
                with self.subTest(format=file_format):
                    _, file = export_from_changelist(
                        self.client, reverse(PATIENTS) + query, file_format
                    )
                    self.assertEqual(column(file, file_format, "mrn"), [self.alice_patient.mrn])

    def test_it_sends_a_malformed_filter_to_the_lists_error_page(self):
        self.login(self.steward)
        query = "?no_such_field=1"
        changelist = self.client.get(reverse(PATIENTS) + query)
        self.assertRedirects(changelist, reverse(PATIENTS) + "?e=1", target_status_code=200)

        for response in (
            self.client.get(self.export_url(query)),
            self.client.post(self.export_url(query), {"format": 0, "resource": 0}),
        ):
            self.assertRedirects(response, reverse(PATIENTS) + "?e=1", target_status_code=200)

    def test_the_export_form_posts_back_with_the_lists_query(self):
        self.login(self.steward)
        page = self.client.get(reverse(PATIENTS) + "?q=Patel&status=archived")

        export_page = self.client.get(export_link(page))

        self.assertEqual(
            form_action(export_page),
            reverse("admin:clinic_patient_export") + "?q=Patel&status=archived",
        )
