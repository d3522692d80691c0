"""Before the second factor, a signed-in user reaches nothing but the two-factor pages
(OWASP ASVS 4.0 2.7/2.8; HIPAA 164.312(d)): a required role without an authenticator
is sent to enrol, an enrolled user to verify, and no POST or JSON request gets through."""

from django.contrib import admin
from django.test import override_settings
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from admin_ext.audit.models import AccessLog
from admin_ext.testing import ClinicTestCase
from clinic.models import Patient
from people import roles
from people.models import Profile
from people.tests.two_factor_steps import enrol, verify
from people.two_factor import check_required_roles
from people.two_factor.testing import enrol as enrol_device


class TwoFactorGateTests(ClinicTestCase):
    def blocked_answers(self):
        """What each kind of request answers: {description: response}."""
        change = reverse("admin:clinic_patient_change", args=[self.alice_patient.pk])
        return {
            "changelist": self.client.get(reverse("admin:clinic_patient_changelist")),
            "index": self.client.get(reverse("admin:index")),
            "export": self.client.get(reverse("admin:clinic_patient_export")),
            "photo": self.client.get(reverse("profile_photo", args=[self.admin.pk])),
            "my profile": self.client.get(reverse("my_profile")),
            "import progress (JSON)": self.client.get(
                reverse("import_progress", args=["a" * 32]), headers={"accept": "application/json"}
            ),
            "change form POST": self.client.post(
                change, {"first_name": "Changed", "last_name": "Patel"}
            ),
            "my profile POST": self.client.post(reverse("my_profile"), {"title": "Dr. Who"}),
        }

    def test_it_sends_an_administrator_without_an_authenticator_to_enrol(self):
        self.client.force_login(self.admin)  # the password step only
        url = reverse("admin:clinic_patient_changelist")
        response = self.client.get(url)
        self.assertRedirects(
            response, f"{reverse('two_factor_setup')}?next={url.replace('/', '%2F')}"
        )

    def test_it_lets_nothing_else_through_before_enrolment(self):
        for user in (self.admin, self.auditor, self.operator):
            with self.subTest(user=user.email):
                self.client.force_login(user)
                for what, response in self.blocked_answers().items():
                    with self.subTest(what=what):
                        if what.endswith("POST") or "JSON" in what:
                            self.assertEqual(response.status_code, 403)
                        else:
                            self.assertEqual(response.status_code, 302)
                            self.assertTrue(response["Location"].startswith("/admin/2fa/setup/"))
        self.alice_patient.refresh_from_db()
        self.assertEqual(self.alice_patient.first_name, "Ann")
        self.assertFalse(Profile.objects.filter(title="Dr. Who").exists())
        self.assertFalse(AccessLog.objects.filter(action=AccessLog.Action.EXPORT).exists())

    def test_it_sends_an_enrolled_user_to_verify_and_lets_nothing_through(self):
        enrol_device(self.front_desk)
        self.client.force_login(self.front_desk)
        for what, response in self.blocked_answers().items():
            with self.subTest(what=what):
                if what.endswith("POST") or "JSON" in what:
                    self.assertEqual(response.status_code, 403)
                else:
                    self.assertTrue(response["Location"].startswith("/admin/2fa/verify/"))
        self.assertEqual(Patient.objects.get(pk=self.alice_patient.pk).first_name, "Ann")

    def test_it_opens_sign_out_and_the_two_factor_pages(self):
        self.client.force_login(self.admin)
        self.assertEqual(self.client.get(reverse("two_factor_setup")).status_code, 200)
        self.assertRedirects(
            self.client.get(reverse("two_factor_verify")),
            f"{reverse('two_factor_setup')}?",
            fetch_redirect_response=False,
        )
        self.assertEqual(self.client.get(reverse("admin_password_reset")).status_code, 200)
        self.client.post(reverse("admin:logout"))
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_it_opens_everything_once_enrolled_and_after_the_code_at_the_next_sign_in(self):
        self.client.force_login(self.admin)
        enrol(self.client)
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 200)

        self.client.logout()
        self.client.force_login(self.admin)
        index = reverse("admin:index")
        self.assertRedirects(
            self.client.get(index),
            f"{reverse('two_factor_verify')}?next=%2Fadmin%2F",
            fetch_redirect_response=False,
        )
        self.assertRedirects(verify(self.client, self.admin, next_url=index), index)
        self.assertEqual(
            self.client.get(reverse("admin:clinic_patient_changelist")).status_code, 200
        )

    def test_it_does_not_force_an_optional_role(self):
        for user in (self.front_desk, self.steward, self.alice):
            with self.subTest(user=user.email):
                self.client.force_login(user)
                self.assertEqual(self.client.get(reverse("admin:index")).status_code, 200)


class RequiredRolesSettingTests(ClinicTestCase):
    @override_settings(OTP_REQUIRED_ROLES=[roles.FRONT_DESK])
    def test_the_setting_says_which_roles_must_enrol(self):
        self.client.force_login(self.front_desk)
        self.assertTrue(
            self.client.get(reverse("admin:index"))["Location"].startswith("/admin/2fa/")
        )
        self.client.force_login(self.auditor)
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 200)
        self.client.force_login(self.operator)  # superusers always
        self.assertTrue(
            self.client.get(reverse("admin:index"))["Location"].startswith("/admin/2fa/")
        )

    @override_settings(OTP_REQUIRED_ROLES=["Administrators"])
    def test_a_name_that_is_not_a_role_fails_the_system_check(self):
        errors = check_required_roles()
        self.assertEqual([e.id for e in errors], ["people.E010"])

    def test_nobody_reads_or_adds_devices_through_the_admin(self):
        # django-otp's own device admins would show secrets and recovery codes.
        self.assertFalse(admin.site.is_registered(TOTPDevice))
        self.assertFalse(admin.site.is_registered(StaticDevice))
