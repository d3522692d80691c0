"""History and version pages are read-only: posting one writes nothing, for anyone.

simple-history's version page (``.../<id>/history/<history_id>/``) used to save its
form on POST after checking only the view permission: an auditor could change a
patient, a doctor could relink doctor logins and take another doctor's patients.
"""

from unittest import mock

from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.admin import PatientAdmin
from clinic.models import Doctor, Patient
from clinic.tests.admin_forms import doctor_form_data, patient_form_data
from clinic.tests.factories import PatientFactory

FIELD_INPUT = 'name="{}"'


def main_content(response) -> str:
    """The page below the navbar (which has its own search and logout forms)."""
    return response.content.decode().split('id="content-main"', 1)[1]


class HistoryPageTestCase(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.alice_patient.ssn = "999-12-4321"
        services.patient_save(patient=cls.alice_patient, actor=cls.admin, reason="SSN on file")
        # Dr. Bob's patient: what Alice would see after taking over Bob's doctor record.
        cls.bob_patient = PatientFactory(first_name="Bea", last_name="Bobson")
        services.patient_assign_primary_doctor(
            patient=cls.bob_patient, doctor=cls.dr_bob, actor=cls.front_desk, reason="test"
        )

    def version_url(self, model_name, obj, version=None):
        version = version or obj.history.latest()
        return reverse(f"admin:clinic_{model_name}_simple_history", args=[obj.pk, version.pk])

    def snapshot(self):
        """Every row and history row the attacks below could touch."""
        return {
            "patients": list(Patient.objects.order_by("pk").values()),
            "doctors": list(Doctor.objects.order_by("pk").values()),
            "patient_history": Patient.history.count(),
            "doctor_history": Doctor.history.count(),
        }

    def assertRefused(self, response):
        self.assertIn(response.status_code, (403, 405))

    def assertReadOnly(self, response, model):
        """Every field as text: no form, no input of any kind, no save or revert button."""
        self.assertEqual(response.status_code, 200)
        content = main_content(response)
        for tag in ("<form", "<input", "<select", "<textarea", "<button", 'type="submit"'):
            self.assertNotIn(tag, content)
        for name in [f.name for f in model._meta.fields] + ["change_reason", "_save"]:
            self.assertNotContains(response, FIELD_INPUT.format(name))
        self.assertNotContains(response, "Revert")


class PatientVersionPageTests(HistoryPageTestCase):
    def test_it_refuses_an_auditor_posting_a_patient_version(self):
        before = self.snapshot()
        self.login(self.auditor)
        response = self.client.post(
            self.version_url("patient", self.other_patient),
            patient_form_data(
                self.other_patient,
                with_ssn=False,
                last_name="Hacked",
                primary_doctor=self.dr_bob.pk,
            ),
        )
        self.assertRefused(response)
        self.assertEqual(self.snapshot(), before)
        patient = Patient.objects.get(pk=self.other_patient.pk)
        self.assertEqual((patient.last_name, patient.primary_doctor_id), ("Other", None))

    def test_it_refuses_everyone_posting_a_patient_version_superusers_included(self):
        before = self.snapshot()
        for user in (self.operator, self.admin, self.front_desk, self.steward, self.alice):
            self.login(user)
            with self.subTest(user=user.email):
                response = self.client.post(
                    self.version_url("patient", self.alice_patient),
                    patient_form_data(
                        self.alice_patient, with_ssn=user.has_perm("clinic.view_ssn"), city="X"
                    ),
                )
                self.assertRefused(response)
        self.assertEqual(self.snapshot(), before)

    def test_it_refuses_posting_from_the_work_queues(self):
        before = self.snapshot()
        self.login(self.front_desk)
        for model_name in ("unassignedpatient", "archivedpatient"):
            with self.subTest(queue=model_name):
                url = reverse(
                    f"admin:clinic_{model_name}_simple_history",
                    args=[self.other_patient.pk, self.other_patient.history.latest().pk],
                )
                response = self.client.post(
                    url, patient_form_data(self.other_patient, with_ssn=False, city="X")
                )
                self.assertRefused(response)
        self.assertEqual(self.snapshot(), before)

    def test_it_refuses_posting_the_history_list(self):
        before = self.snapshot()
        self.login(self.operator)
        response = self.client.post(
            reverse("admin:clinic_patient_history", args=[self.other_patient.pk]),
            patient_form_data(self.other_patient, with_ssn=True, city="X"),
        )
        self.assertRefused(response)
        self.assertEqual(self.snapshot(), before)

    def test_it_shows_the_version_as_text_without_inputs_or_save_buttons(self):
        for user in (self.operator, self.admin, self.front_desk, self.auditor, self.alice):
            self.login(user)
            with self.subTest(user=user.email):
                response = self.client.get(self.version_url("patient", self.alice_patient))
                self.assertReadOnly(response, Patient)
                self.assertContains(response, "Patel")
                self.assertContains(response, "Dr. Alice Adams")

    def test_it_shows_the_version_as_it_was_not_as_it_is(self):
        first = self.other_patient.history.earliest()
        self.other_patient.city = "Salem"
        services.patient_save(patient=self.other_patient, actor=self.front_desk, reason="Moved")
        self.login(self.auditor)
        response = self.client.get(self.version_url("patient", self.other_patient, first))
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "Salem")
        response = self.client.get(self.version_url("patient", self.other_patient))
        self.assertContains(response, "Salem")

    def test_it_masks_the_ssn_on_version_pages_without_view_ssn(self):
        for user in (self.front_desk, self.auditor, self.steward, self.alice):
            self.login(user)
            with self.subTest(user=user.email):
                response = self.client.get(self.version_url("patient", self.alice_patient))
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "***-**-4321")
                self.assertNotContains(response, "999-12-4321")

    def test_it_never_shows_a_raw_ssn_on_a_version_page_even_if_fieldsets_offer_it(self):
        # Defence in depth: sensitive_fields holds on version pages whatever
        # get_fieldsets returns.
        raw_ssn = [(None, {"fields": ["first_name", "ssn"]})]
        self.login(self.front_desk)
        with mock.patch.object(PatientAdmin, "get_fieldsets", return_value=raw_ssn):
            response = self.client.get(self.version_url("patient", self.alice_patient))
        self.assertContains(response, "Ann")
        self.assertNotContains(response, "999-12-4321")

    def test_it_shows_the_ssn_on_version_pages_to_administrators(self):
        for user in (self.admin, self.operator):
            self.login(user)
            with self.subTest(user=user.email):
                response = self.client.get(self.version_url("patient", self.alice_patient))
                self.assertContains(response, "999-12-4321")

    def test_it_answers_malformed_ids_with_404(self):
        version = self.alice_patient.history.latest()
        self.login(self.operator)
        for model_name in ("patient", "unassignedpatient"):
            for args in (
                [self.alice_patient.pk, "abc"],
                ["abc", version.pk],
                ["abc", "abc"],
                [self.alice_patient.pk, "1.5"],
            ):
                with self.subTest(model=model_name, args=args):
                    url = reverse(f"admin:clinic_{model_name}_simple_history", args=args)
                    self.assertEqual(self.client.get(url).status_code, 404)

    def test_it_answers_a_version_of_another_patient_with_404(self):
        self.login(self.operator)
        url = reverse(
            "admin:clinic_patient_simple_history",
            args=[self.alice_patient.pk, self.other_patient.history.latest().pk],
        )
        self.assertEqual(self.client.get(url).status_code, 404)

    def test_it_answers_a_hidden_patient_as_missing(self):
        self.login(self.bob)
        hidden = self.version_url("patient", self.alice_patient)
        missing = reverse(
            "admin:clinic_patient_simple_history",
            args=[987654, self.alice_patient.history.latest().pk],
        )
        for url in (hidden, missing):
            self.assertRedirects(
                self.client.get(url), reverse("admin:index"), fetch_redirect_response=False
            )
        # A POST is refused before the object is looked up: hidden and missing alike.
        self.assertEqual(
            [self.client.post(url).status_code for url in (hidden, missing)], [405, 405]
        )


class DoctorVersionPageTests(HistoryPageTestCase):
    def test_it_refuses_a_doctor_relinking_doctor_logins(self):
        before = self.snapshot()
        self.login(self.alice)
        # Unlink her own doctor record, then link Dr. Bob's record to her login.
        first = self.client.post(
            self.version_url("doctor", self.dr_alice), doctor_form_data(self.dr_alice, user="")
        )
        second = self.client.post(
            self.version_url("doctor", self.dr_bob),
            doctor_form_data(self.dr_bob, user=self.alice.pk),
        )
        self.assertRefused(first)
        self.assertRefused(second)
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(Doctor.objects.get(pk=self.dr_alice.pk).user, self.alice)
        self.assertEqual(Doctor.objects.get(pk=self.dr_bob.pk).user, self.bob)
        self.assertFalse(Patient.objects.visible_to(self.alice).filter(pk=self.bob_patient.pk))
        response = self.client.get(reverse("admin:clinic_patient_changelist"))
        self.assertNotContains(response, "Bobson")

    def test_it_refuses_a_superuser_posting_a_doctor_version(self):
        before = self.snapshot()
        self.login(self.operator)
        response = self.client.post(
            self.version_url("doctor", self.dr_bob), doctor_form_data(self.dr_bob, user="")
        )
        self.assertRefused(response)
        self.assertEqual(self.snapshot(), before)

    def test_it_shows_the_doctor_version_without_inputs(self):
        self.login(self.alice)
        response = self.client.get(self.version_url("doctor", self.dr_bob))
        self.assertReadOnly(response, Doctor)
        self.assertContains(response, "Brown")
        self.assertContains(response, "bob@example.com")

    def test_it_answers_malformed_ids_with_404(self):
        version = self.dr_bob.history.latest()
        self.login(self.operator)
        for args in ([self.dr_bob.pk, "abc"], ["abc", version.pk]):
            with self.subTest(args=args):
                url = reverse("admin:clinic_doctor_simple_history", args=args)
                self.assertEqual(self.client.get(url).status_code, 404)


class WorkQueueHistoryTests(HistoryPageTestCase):
    def test_it_shows_a_queued_patients_history_and_versions(self):
        # simple-history's history page failed (500) on the work-queue proxies.
        archived = PatientFactory(first_name="Ada", last_name="Archer")
        services.patient_archive(patient=archived, actor=self.front_desk, reason="test")
        self.login(self.front_desk)
        for model_name, patient in (
            ("unassignedpatient", self.other_patient),
            ("archivedpatient", archived),
        ):
            with self.subTest(queue=model_name):
                response = self.client.get(
                    reverse(f"admin:clinic_{model_name}_history", args=[patient.pk])
                )
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, patient.last_name)
                response = self.client.get(self.version_url(model_name, patient))
                self.assertReadOnly(response, Patient)
                self.assertContains(response, patient.last_name)
        # A patient outside a queue reads as missing there.
        response = self.client.get(
            reverse("admin:clinic_archivedpatient_history", args=[self.other_patient.pk])
        )
        self.assertRedirects(response, reverse("admin:index"), fetch_redirect_response=False)
