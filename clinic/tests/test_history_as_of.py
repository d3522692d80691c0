"""A record "as of" a date: the history list opens the version current then (issue 7, item 4)."""

import datetime
from unittest import mock

from django.urls import reverse
from django.utils import timezone

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.tests.factories import PatientFactory


def at(day: str, hour: int = 12) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.fromisoformat(day).replace(hour=hour))


class AsOfTests(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        with mock.patch("django.utils.timezone.now", return_value=at("2026-01-10")):
            cls.patient = PatientFactory(first_name="Asha", last_name="Okafor", city="Boston")
            services.patient_assign_primary_doctor(
                patient=cls.patient, doctor=cls.dr_alice, actor=cls.front_desk, reason="intake"
            )
        cls.patient.refresh_from_db()
        cls.patient.city = "Salem"
        with mock.patch("django.utils.timezone.now", return_value=at("2026-03-05", 9)):
            services.patient_save(patient=cls.patient, actor=cls.front_desk, reason="Moved")
        cls.first = cls.patient.history.filter(city="Boston").latest()
        cls.moved = cls.patient.history.get(city="Salem")

    def history(self, **query):
        url = reverse("admin:clinic_patient_history", args=[self.patient.pk])
        return self.client.get(url, query)

    def version_url(self, record):
        return reverse("admin:clinic_patient_simple_history", args=[self.patient.pk, record.pk])

    def test_the_history_list_offers_the_as_of_form(self):
        self.login(self.auditor)
        response = self.history()
        self.assertContains(response, 'name="as_of"')
        self.assertContains(response, "Show the record as of")

    def test_a_date_between_versions_opens_the_earlier_version(self):
        self.login(self.auditor)
        response = self.history(as_of="2026-02-01")
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(self.version_url(self.first) + "?as_of="))
        page = self.client.get(response["Location"])
        self.assertContains(page, "Boston")
        self.assertNotContains(page, "Salem")
        assert "As of Feb. 1, 2026" in page.content.decode()  # the moment asked for

    def test_a_date_alone_means_the_end_of_that_day(self):
        self.login(self.auditor)
        response = self.history(as_of="2026-03-05")
        self.assertTrue(response["Location"].startswith(self.version_url(self.moved)))

    def test_a_time_narrows_the_day(self):
        self.login(self.auditor)
        response = self.history(as_of="2026-03-05", at="08:00")
        self.assertTrue(response["Location"].startswith(self.version_url(self.first)))

    def test_a_date_before_the_record_existed_says_so(self):
        self.login(self.auditor)
        response = self.history(as_of="2025-12-31")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "has no version as of 2025-12-31 23:59: it was created later")

    def test_a_malformed_date_is_a_message_not_an_error(self):
        self.login(self.auditor)
        for value in ("yesterday", "99999-01-01", "2026-02-30", ""):
            with self.subTest(value=value):
                response = self.history(as_of=value, at="25:99")
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "Give the date as YYYY-MM-DD")

    def test_a_doctor_cannot_read_another_doctors_patient_as_of_a_date(self):
        self.login(self.bob)
        response = self.history(as_of="2026-02-01")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["Location"], reverse("admin:index"))

    def test_the_treating_doctor_can(self):
        self.login(self.alice)
        response = self.history(as_of="2026-02-01")
        self.assertTrue(response["Location"].startswith(self.version_url(self.first)))

    def test_posting_is_refused(self):
        self.login(self.operator)
        url = reverse("admin:clinic_patient_history", args=[self.patient.pk])
        self.assertEqual(self.client.post(url, {"as_of": "2026-02-01"}).status_code, 405)
