"""The patient lists' filters (clinic.filters.PatientFilterSet through the admin, issue 8).

Each test opens a changelist with the filter's query parameters as the form sends
them and reads which patients the list shows; exports go through the list's
Export link (clinic.tests.exporting).
"""

import datetime
from unittest import mock

from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from admin_ext.audit.models import AccessLog
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.filters import years_before
from clinic.models import Patient
from clinic.tests.exporting import FORMATS, column, export_from_changelist, listed
from clinic.tests.factories import DoctorFactory, OrganizationFactory, PatientFactory
from people import roles
from people.services import user_create

PATIENTS = "admin:clinic_patient_changelist"
UNASSIGNED = "admin:clinic_unassignedpatient_changelist"
ARCHIVED = "admin:clinic_archivedpatient_changelist"


def created_on(day: datetime.date, **kwargs) -> Patient:
    """A patient whose record was created at noon on ``day``."""
    noon = timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))
    with mock.patch("django.utils.timezone.now", return_value=noon):
        return PatientFactory(**kwargs)


class PatientFilterFixtures(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        today = timezone.localdate()
        cls.harbor = OrganizationFactory(name="Harbor Clinic")
        cls.dr_carol = DoctorFactory(
            first_name="Carol", last_name="Heart", specialty="CARDIOLOGY", organization=cls.harbor
        )
        # Turns 30 today: 30 years old, no longer 29.
        cls.thirty = created_on(
            datetime.date(2024, 1, 10),
            first_name="Tia",
            last_name="Thirty",
            birth_date=years_before(today, 30),
            gender="M",
            primary_doctor=cls.dr_carol,
        )
        # Turns 30 tomorrow: still 29.
        cls.twenty_nine = created_on(
            datetime.date(2024, 6, 5),
            first_name="Tom",
            last_name="Twenty",
            birth_date=years_before(today, 30) + datetime.timedelta(days=1),
            primary_doctor=cls.dr_bob,
        )
        cls.elder = created_on(
            datetime.date(2025, 2, 1),
            first_name="Eve",
            last_name="Elder",
            birth_date=datetime.date(1940, 3, 3),
            status=Patient.Status.ARCHIVED,
            state="NH",
        )

    def shown(self, user, query="", url_name=PATIENTS):
        self.login(user)
        response = self.client.get(reverse(url_name) + query)
        self.assertEqual(response.status_code, 200, query)
        return response, {p.pk for p in response.context["cl"].result_list}

    def assert_shows(self, query, expected, *, user=None, url_name=PATIENTS):
        _, pks = self.shown(user or self.steward, query, url_name)
        self.assertEqual(pks, {p.pk for p in expected}, query)

    def assert_refused_on_the_form(self, query, message, *, user=None):
        """The list answers 200 with ``message`` on the filter form and shows no rows."""
        response, pks = self.shown(user or self.steward, query)
        self.assertContains(response, message)
        self.assertContains(response, "Correct the filters to see the list.")
        self.assertEqual(pks, set())


class PatientFilterTests(PatientFilterFixtures):
    def test_it_filters_by_age_in_whole_years_both_ends_included(self):
        self.assert_shows("?age_min=30&age_max=30", [self.thirty])
        self.assert_shows("?age_min=29&age_max=29", [self.twenty_nine])
        self.assert_shows("?age_min=80", [self.elder])
        older = {
            p
            for p in Patient.objects.all()
            if p.birth_date <= years_before(timezone.localdate(), 30)
        }
        self.assert_shows("?age_min=30", older)

    def test_it_filters_by_birth_date_range(self):
        born = years_before(timezone.localdate(), 30)
        self.assert_shows(f"?birth_date_after={born}&birth_date_before={born}", [self.thirty])
        self.assert_shows("?birth_date_before=1950-01-01", [self.elder])

    def test_it_filters_by_the_day_the_record_was_created(self):
        self.assert_shows(
            "?created_after=2024-01-01&created_before=2024-12-31", [self.thirty, self.twenty_nine]
        )
        self.assert_shows("?created_after=2024-06-05&created_before=2024-06-05", [self.twenty_nine])

    def test_it_filters_by_doctor_specialty_and_site(self):
        self.assert_shows(f"?doctor={self.dr_carol.pk}", [self.thirty])
        self.assert_shows("?specialty=CARDIOLOGY", [self.thirty])
        self.assert_shows(f"?organization={self.harbor.pk}", [self.thirty])
        self.assert_shows("?has_doctor=false", [self.other_patient, self.elder])
        self.assert_shows("?has_doctor=true", [self.alice_patient, self.thirty, self.twenty_nine])

    def test_it_filters_by_status_gender_and_state(self):
        self.assert_shows("?status=archived", [self.elder])
        self.assert_shows("?gender=M", [self.thirty])
        self.assert_shows("?gender=M&status=archived", [])
        self.assert_shows("?state=nh", [self.elder])
        self.assert_shows("?marital_status=W", [])

    def test_it_combines_filters_with_the_search(self):
        self.assert_shows("?q=Twenty&age_max=29&has_doctor=true", [self.twenty_nine])
        self.assert_shows("?q=Thirty&age_max=29", [])

    def test_the_old_list_filter_parameters_keep_their_meaning(self):
        self.assert_shows("?status__exact=archived", [self.elder])
        self.assert_shows(f"?primary_doctor__id__exact={self.dr_carol.pk}", [self.thirty])
        self.assert_shows("?gender__exact=M", [self.thirty])

    def test_the_work_queues_filter_their_own_rows(self):
        self.assert_shows("?gender=F", [self.other_patient], url_name=UNASSIGNED)
        self.assert_shows("?age_min=80", [self.elder], url_name=ARCHIVED)
        self.assert_shows("?age_max=10", [], url_name=ARCHIVED)

    def test_the_unassigned_queue_has_a_created_date_hierarchy(self):
        walk_in = created_on(datetime.date(2023, 3, 4), first_name="Wal", last_name="Kin")
        self.assert_shows("?created_at__year=2023", [walk_in], url_name=UNASSIGNED)
        response, _ = self.shown(self.front_desk, "", UNASSIGNED)
        self.assertContains(response, "?created_at__year=2023")

    def test_the_form_is_drawn_with_sentence_case_labels_and_the_values_chosen(self):
        response, _ = self.shown(self.steward, "?age_min=30&gender=M")
        form = response.context["cl"].filter_specs[0].form
        labels = [str(field.label) for field in form]
        self.assertIn("Has a primary doctor", labels)
        for label in labels:
            self.assertEqual(label, label[0].upper() + label[1:].lower())
        self.assertContains(response, 'name="age_min" value="30"')
        self.assertContains(response, '<option value="M" selected>Male</option>', html=True)

    def test_the_doctor_and_site_pickers_draw_only_the_chosen_one(self):
        response, _ = self.shown(self.steward, f"?doctor={self.dr_carol.pk}")
        chosen = f'<option value="{self.dr_carol.pk}" selected>{self.dr_carol}</option>'
        self.assertContains(response, chosen, html=True)
        self.assertNotContains(response, f'<option value="{self.dr_bob.pk}"')
        self.assertContains(response, 'data-field-name="primary_doctor"')
        self.assertContains(response, 'data-field-name="organization"')

    def test_the_search_form_carries_each_filter_once(self):
        # jazzmin repeats unused parameters as hidden inputs; a filter's own would
        # then override what the user types in the next search.
        response, _ = self.shown(self.steward, "?age_min=&gender=M&_facets=1")
        self.assertNotContains(response, 'type="hidden" name="age_min"')
        self.assertNotContains(response, 'type="hidden" name="gender"')
        self.assertContains(response, 'name="age_min"', count=1)

    def test_the_pickers_find_doctors_and_sites_through_the_admins_autocomplete(self):
        self.login(self.alice)
        for model_name, field_name, term, expected in (
            ("patient", "primary_doctor", "Heart", self.dr_carol.pk),
            ("doctor", "organization", "Harbor", self.harbor.pk),
        ):
            with self.subTest(field=field_name):
                response = self.client.get(
                    reverse("admin:autocomplete"),
                    {
                        "app_label": "clinic",
                        "model_name": model_name,
                        "field_name": field_name,
                        "term": term,
                    },
                )
                ids = [int(r["id"]) for r in response.json()["results"]]
                self.assertEqual(ids, [expected])

    def test_the_queues_leave_out_the_filters_their_rows_share(self):
        response, _ = self.shown(self.front_desk, "", UNASSIGNED)
        names = {f.name for f in response.context["cl"].filter_specs[0].form}
        self.assertNotIn("doctor", names)
        self.assertNotIn("status", names)
        response, _ = self.shown(self.front_desk, "", ARCHIVED)
        self.assertNotIn("status", {f.name for f in response.context["cl"].filter_specs[0].form})


class InvalidFilterTests(PatientFilterFixtures):
    def test_letters_in_an_age_are_a_form_error(self):
        self.assert_refused_on_the_form("?age_min=thirty", "Enter a whole number.")

    def test_an_age_out_of_range_is_a_form_error(self):
        self.assert_refused_on_the_form("?age_max=100000", "less than or equal to 150")
        self.assert_refused_on_the_form("?age_min=-1", "greater than or equal to 0")

    def test_reversed_ranges_are_form_errors(self):
        reversed_message = "The start of the range is after its end."
        for query in (
            "?age_min=40&age_max=30",
            "?birth_date_after=2000-01-02&birth_date_before=2000-01-01",
            "?created_after=2024-02-01&created_before=2024-01-01",
        ):
            with self.subTest(query=query):
                self.assert_refused_on_the_form(query, reversed_message)

    def test_malformed_dates_are_form_errors(self):
        for query in ("?birth_date_after=yesterday", "?created_before=99999-01-01"):
            with self.subTest(query=query):
                self.assert_refused_on_the_form(query, "Enter a valid date.")

    def test_an_unknown_doctor_or_site_is_a_form_error(self):
        for query in (
            "?doctor=999999",
            "?doctor=abc",
            "?doctor=null",
            "?doctor=99999999999999999999999",
            "?organization=999999",
            "?specialty=ASTROLOGY",
            "?status=lost",
            "?gender=Q",
        ):
            with self.subTest(query=query):
                self.assert_refused_on_the_form(query, "Select a valid choice.")

    def test_a_doctor_the_viewer_may_not_see_is_refused_like_an_unknown_one(self):
        # A user who sees one patient through a grant and may not view doctors.
        viewer = user_create(
            email="granted@example.com", password="x", role=roles.DOCTOR, actor=None, reason="t"
        )
        viewer.groups.clear()
        assign_perm("clinic.view_patient", viewer, self.thirty)
        _, pks = self.shown(viewer)
        self.assertEqual(pks, {self.thirty.pk})
        self.assert_refused_on_the_form(
            f"?doctor={self.dr_carol.pk}", "Select a valid choice.", user=viewer
        )

    def test_a_crafted_lookup_is_still_refused(self):
        self.login(self.steward)
        for query in (
            "?primary_doctor__user__password__startswith=x",
            "?doctor=1&primary_doctor__user__password__startswith=x",
        ):
            with self.subTest(query=query):
                self.assertEqual(self.client.get(reverse(PATIENTS) + query).status_code, 400)

    def test_no_filter_reads_ssns(self):
        # Without view_ssn, an SSN lookup is refused whatever else the query holds.
        self.login(self.steward)
        query = f"?age_min=1&ssn={self.thirty.ssn}"
        self.assertEqual(self.client.get(reverse(PATIENTS) + query).status_code, 400)


class DoctorFilterTests(PatientFilterFixtures):
    def test_a_doctor_filtering_by_another_doctor_sees_none_of_their_patients(self):
        for query in (
            f"?doctor={self.dr_bob.pk}",
            f"?doctor={self.dr_bob.pk}&status=all",
            f"?organization={self.harbor.pk}&status=all",
            "?specialty=CARDIOLOGY&status=all",
            "?has_doctor=true&status=all",
        ):
            with self.subTest(query=query):
                _, pks = self.shown(self.alice, query)
                self.assertLessEqual(pks, {self.alice_patient.pk})
                self.assertNotIn(self.twenty_nine.pk, pks)
                self.assertNotIn(self.thirty.pk, pks)

    def test_a_doctors_list_shows_active_patients_unless_asked_otherwise(self):
        archived = PatientFactory(first_name="Ari", last_name="Old")
        services.patient_assign_primary_doctor(
            patient=archived, doctor=self.dr_alice, actor=self.front_desk, reason="test"
        )
        services.patient_archive(
            patient=Patient.objects.get(pk=archived.pk), actor=self.front_desk, reason="test"
        )
        self.assertEqual(self.shown(self.alice)[1], {self.alice_patient.pk})
        self.assertEqual(self.shown(self.alice, "?status=archived")[1], {archived.pk})
        self.assertEqual(
            self.shown(self.alice, "?status=all")[1], {self.alice_patient.pk, archived.pk}
        )


class FilteredExportTests(PatientFilterFixtures):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.alice.user_permissions.add(Permission.objects.get(codename="export_patient"))

    def test_a_filtered_export_holds_only_the_filtered_rows(self):
        self.login(self.steward)
        query = "?age_min=20&age_max=40&has_doctor=true&created_after=2024-01-01"
        for file_format in FORMATS:
            with self.subTest(format=file_format):
                page, file = export_from_changelist(
                    self.client, reverse(PATIENTS) + query, file_format
                )
                self.assertEqual(
                    sorted(column(file, file_format, "mrn")),
                    sorted([self.thirty.mrn, self.twenty_nine.mrn]),
                )
                self.assertEqual(column(file, file_format, "mrn"), [p.mrn for p in listed(page)])

    def test_a_doctors_export_filtered_by_another_doctor_is_empty(self):
        self.login(self.alice)
        _, file = export_from_changelist(
            self.client, reverse(PATIENTS) + f"?doctor={self.dr_bob.pk}&status=all", "csv"
        )
        self.assertEqual(column(file, "csv", "mrn"), [])


class FilteredListAccessLogTests(PatientFilterFixtures):
    def search_rows(self):
        return AccessLog.objects.filter(action=AccessLog.Action.SEARCH)

    def test_a_filtered_list_writes_a_search_row_per_patient_shown(self):
        self.shown(self.steward, "?age_min=80")
        rows = self.search_rows()
        self.assertEqual([row.object_id for row in rows], [str(self.elder.pk)])
        self.assertEqual(rows.get().detail["filter"], "age_min=80")

    def test_the_plain_list_and_a_doctors_default_list_write_none(self):
        self.shown(self.steward)
        self.shown(self.alice)
        self.assertFalse(self.search_rows().exists())
