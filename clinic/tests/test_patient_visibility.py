"""Who reaches which patient admin page (STYLE.md point 12), and hidden reads as missing."""

from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic.models import Patient
from people.tests.factories import UserFactory

MISSING_ID = 987654


class PatientPermissionMatrixTests(ClinicTestCase):
    """Each page by URL name: anonymous, unpermitted, model and object permission."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.nobody = UserFactory(email="norole@example.com")  # staff, no role

    def pages(self, patient):
        return {
            "changelist": reverse("admin:clinic_patient_changelist"),
            "add": reverse("admin:clinic_patient_add"),
            "change": reverse("admin:clinic_patient_change", args=[patient.pk]),
            "history": reverse("admin:clinic_patient_history", args=[patient.pk]),
        }

    def status(self, user, patient):
        self.client.logout()
        if user is not None:
            self.login(user)
        return {name: self.client.get(url).status_code for name, url in self.pages(patient).items()}

    def test_it_sends_anonymous_visitors_to_the_login_page(self):
        for name, url in self.pages(self.alice_patient).items():
            with self.subTest(page=name):
                response = self.client.get(url)
                self.assertRedirects(
                    response, f"{reverse('admin:login')}?next={url}", fetch_redirect_response=False
                )

    def test_it_refuses_a_staff_user_without_a_role(self):
        self.assertEqual(
            self.status(self.nobody, self.alice_patient),
            # change and history answer "doesn't exist" (302 to the index), as for any
            # hidden or missing patient; the list and add pages are forbidden.
            {"changelist": 403, "add": 403, "change": 302, "history": 302},
        )

    def test_it_opens_every_page_to_a_model_permission_holder(self):
        for user in (self.front_desk, self.steward, self.admin, self.operator):
            with self.subTest(user=user.email):
                self.assertEqual(
                    self.status(user, self.other_patient),
                    {"changelist": 200, "add": 200, "change": 200, "history": 200},
                )

    def test_it_opens_the_granted_patient_to_a_doctor_but_not_add(self):
        self.assertEqual(
            self.status(self.alice, self.alice_patient),
            {"changelist": 200, "add": 403, "change": 200, "history": 200},
        )

    def test_it_hides_other_patients_from_a_doctor(self):
        self.assertEqual(
            self.status(self.alice, self.other_patient),
            {"changelist": 200, "add": 403, "change": 302, "history": 302},
        )

    def test_it_shows_the_auditor_everything_without_add(self):
        self.assertEqual(
            self.status(self.auditor, self.alice_patient),
            {"changelist": 200, "add": 403, "change": 200, "history": 200},
        )


class PatientChangelistListingTests(ClinicTestCase):
    def listed(self, user):
        self.login(user)
        response = self.client.get(reverse("admin:clinic_patient_changelist"))
        self.assertEqual(response.status_code, 200)
        return set(response.context["cl"].result_list)

    def test_it_lists_every_patient_for_model_permission_roles(self):
        everyone = {self.alice_patient, self.other_patient}
        for user in (self.operator, self.admin, self.front_desk, self.steward, self.auditor):
            with self.subTest(user=user.email):
                self.assertEqual(self.listed(user), everyone)

    def test_it_lists_only_alices_patients_for_alice(self):
        self.assertEqual(self.listed(self.alice), {self.alice_patient})

    def test_it_keeps_patients_from_a_doctor_without_any(self):
        self.login(self.bob)
        response = self.client.get(reverse("admin:clinic_patient_changelist"))
        self.assertEqual(response.status_code, 403)
        self.assertNotContains(response, "Patel", status_code=403)

    def test_it_hides_patients_from_a_doctors_search(self):
        self.login(self.alice)
        response = self.client.get(reverse("admin:clinic_patient_changelist"), {"q": "Other"})
        self.assertEqual(list(response.context["cl"].result_list), [])


class HiddenReadsAsMissingTests(ClinicTestCase):
    def answer(self, url):
        """The redirect and the messages shown after following it."""
        response = self.client.get(url, follow=True)
        self.assertEqual(response.status_code, 200)
        return response.redirect_chain, [str(m) for m in response.context["messages"]]

    def assert_same_as_missing(self, url_name):
        hidden_chain, hidden_messages = self.answer(reverse(url_name, args=[self.alice_patient.pk]))
        missing_chain, missing_messages = self.answer(reverse(url_name, args=[MISSING_ID]))

        self.assertEqual(hidden_chain, [(reverse("admin:index"), 302)])
        self.assertEqual(hidden_chain, missing_chain)
        self.assertEqual(len(hidden_messages), 1)
        self.assertIn("doesn’t exist", hidden_messages[0])
        self.assertEqual(
            hidden_messages[0].replace(f"“{self.alice_patient.pk}”", "“ID”"),
            missing_messages[0].replace(f"“{MISSING_ID}”", "“ID”"),
        )

    def test_it_answers_bob_on_alices_patient_as_for_a_missing_id(self):
        self.login(self.bob)
        for url_name in ("admin:clinic_patient_change", "admin:clinic_patient_history"):
            with self.subTest(page=url_name):
                self.assert_same_as_missing(url_name)

    def test_it_answers_bob_on_a_historical_version_as_missing(self):
        self.login(self.bob)
        version = self.alice_patient.history.latest()
        response = self.client.get(
            reverse("admin:clinic_patient_simple_history", args=[self.alice_patient.pk, version.pk])
        )
        self.assertRedirects(response, reverse("admin:index"), fetch_redirect_response=False)

    def test_it_refuses_bob_posting_to_alices_patient(self):
        self.login(self.bob)
        response = self.client.post(
            reverse("admin:clinic_patient_change", args=[self.alice_patient.pk]), {"city": "X"}
        )
        self.assertRedirects(response, reverse("admin:index"), fetch_redirect_response=False)
        self.assertEqual(Patient.objects.get(pk=self.alice_patient.pk).city, "")

    def test_it_answers_a_malformed_id_as_missing(self):
        self.login(self.alice)
        response = self.client.get(reverse("admin:clinic_patient_history", args=["not-a-number"]))
        self.assertRedirects(response, reverse("admin:index"), fetch_redirect_response=False)

    def test_it_hides_patients_from_the_doctor_page_inline(self):
        self.login(self.bob)
        response = self.client.get(reverse("admin:clinic_doctor_change", args=[self.dr_alice.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "Patel")


class NobodyDeletesTests(ClinicTestCase):
    def test_it_refuses_the_delete_page_to_everyone(self):
        for user in (self.operator, self.admin, self.front_desk):
            self.login(user)
            with self.subTest(user=user.email):
                response = self.client.get(
                    reverse("admin:clinic_patient_delete", args=[self.other_patient.pk])
                )
                self.assertEqual(response.status_code, 403)

    def test_it_offers_no_delete_action(self):
        self.login(self.operator)
        response = self.client.get(reverse("admin:clinic_patient_changelist"))
        choices = [value for value, _ in response.context["action_form"].fields["action"].choices]
        self.assertNotIn("delete_selected", choices)
        self.assertIn("archive_patients", choices)
