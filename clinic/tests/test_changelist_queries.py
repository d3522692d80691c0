"""The patient changelist runs the same number of queries for 5 and for 30 patients."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from guardian.shortcuts import assign_perm

from admin_ext.testing import ClinicTestCase
from clinic.models import Patient
from clinic.tests.factories import DoctorFactory, PatientFactory


class ChangelistQueryCountTests(ClinicTestCase):
    def add_patients(self, count, *, grant_to=None):
        for _ in range(count):
            # A different doctor per row: a missing select_related shows as a query per row.
            patient = PatientFactory(primary_doctor=DoctorFactory())
            if grant_to is not None:
                assign_perm("clinic.view_patient", grant_to, patient)
                assign_perm("clinic.change_patient", grant_to, patient)

    def count_queries(self, user, expected_rows):
        self.login(user)
        url = reverse("admin:clinic_patient_changelist")
        self.client.get(url)  # warm caches (content types)
        with CaptureQueriesContext(connection) as captured:
            response = self.client.get(url)
        self.assertEqual(len(response.context["cl"].result_list), expected_rows)
        return len(captured)

    def test_it_does_not_query_per_row_for_a_superuser(self):
        self.add_patients(5 - Patient.objects.count())
        small = self.count_queries(self.operator, 5)
        self.add_patients(25)
        self.assertEqual(self.count_queries(self.operator, 30), small)

    def test_it_does_not_query_per_row_for_a_doctor(self):
        self.add_patients(4, grant_to=self.alice)
        self.add_patients(3)  # not hers
        small = self.count_queries(self.alice, 5)
        self.add_patients(25, grant_to=self.alice)
        self.assertEqual(self.count_queries(self.alice, 30), small)
