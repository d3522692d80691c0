"""Enrolling an authenticator app and signing in with it or with a recovery code
(NIST SP 800-63B 5.1.4 and 5.1.2; throttling: 5.2.2)."""

from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from admin_ext.audit.models import AccessLog
from admin_ext.testing import ClinicTestCase
from people.services import MSG_OTP_BAD_CODE
from people.tests.two_factor_steps import enrol, recovery_codes, verify
from people.two_factor import authenticator
from people.two_factor.testing import code_for_key


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


class EnrolmentTests(ClinicTestCase):
    def setUp(self):
        self.client.force_login(self.admin)

    def test_it_shows_a_qr_code_and_the_key_to_type(self):
        page = self.client.get(reverse("two_factor_setup"))
        self.assertContains(page, "<svg")
        key = self.client.session["two_factor_pending_key"]
        self.assertContains(page, page.context["secret"])
        self.assertEqual(page.context["secret"].replace(" ", ""), _b32(key))
        self.assertFalse(TOTPDevice.objects.filter(user=self.admin).exists())

    def test_a_wrong_code_enrols_nothing(self):
        page = self.client.get(reverse("two_factor_setup"))
        key = self.client.session["two_factor_pending_key"]
        self.assertEqual(page.status_code, 200)
        _, response, _ = enrol(self.client, code=wrong(code_for_key(key)))
        self.assertContains(response, MSG_OTP_BAD_CODE)
        self.assertIsNone(authenticator(self.admin))
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 302)

    def test_the_right_code_enrols_and_shows_the_recovery_codes_once(self):
        _, response, _ = enrol(self.client)
        self.assertContains(response, "Store these recovery codes now.")
        codes = recovery_codes(response)
        self.assertEqual(len(codes), settings.OTP_RECOVERY_CODE_COUNT)
        for code in codes:
            self.assertContains(response, code)
        self.assertIn("no-store", response["Cache-Control"])
        self.assertTrue(authenticator(self.admin).confirmed)
        entry = AccessLog.objects.get(action=AccessLog.Action.OTP_ENROLL)
        self.assertEqual((entry.actor, entry.object_id), (self.admin, str(self.admin.pk)))

        again = self.client.get(reverse("two_factor_setup"), follow=True)
        self.assertRedirects(again, reverse("two_factor"))
        for code in codes:
            self.assertNotContains(again, code)

    def test_the_enrolment_code_cannot_sign_in_again(self):
        _, _, key = enrol(self.client)
        code = code_for_key(key)
        self.client.logout()
        self.client.force_login(self.admin)
        response = verify(self.client, self.admin, code=code)
        self.assertContains(response, MSG_OTP_BAD_CODE)


class VerifyTests(ClinicTestCase):
    def setUp(self):
        self.client.force_login(self.auditor)
        self.codes = recovery_codes(enrol(self.client)[1])
        self.client.logout()
        self.client.force_login(self.auditor)  # the next sign-in, password step done

    def test_a_wrong_code_is_refused_and_logged(self):
        code = wrong(_current(self.auditor))
        response = verify(self.client, self.auditor, code=code)
        self.assertContains(response, MSG_OTP_BAD_CODE)
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 302)
        entry = AccessLog.objects.get(action=AccessLog.Action.OTP_FAILED)
        self.assertEqual(entry.actor, self.auditor)
        self.assertEqual(entry.detail["kind"], "authenticator")

    def test_the_right_code_goes_on_to_next(self):
        target = reverse("admin:clinic_patient_changelist")
        response = verify(self.client, self.auditor, next_url=target)
        self.assertRedirects(response, target)

    def test_it_never_goes_on_to_another_site(self):
        response = verify(self.client, self.auditor, next_url="https://evil.example/")
        self.assertRedirects(response, reverse("admin:index"))

    def test_it_gives_the_session_a_new_id(self):
        before = self.client.session.session_key
        verify(self.client, self.auditor)
        self.assertNotEqual(self.client.session.session_key, before)

    def test_a_recovery_code_signs_in_once_only(self):
        code = self.codes[0]
        response = verify(self.client, self.auditor, code=code.upper())
        self.assertRedirects(response, reverse("admin:index"))
        entry = AccessLog.objects.get(action=AccessLog.Action.OTP_RECOVERY_USED)
        self.assertEqual(entry.detail["left"], settings.OTP_RECOVERY_CODE_COUNT - 1)
        self.assertFalse(StaticToken.objects.filter(token=code).exists())

        self.client.logout()
        self.client.force_login(self.auditor)
        self.assertContains(verify(self.client, self.auditor, code=code), MSG_OTP_BAD_CODE)
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 302)

    def test_repeated_wrong_codes_are_throttled(self):
        right = _current(self.auditor)
        verify(self.client, self.auditor, code=wrong(right))
        verify(self.client, self.auditor, code=wrong(right))
        # Now even the right code waits (1 s, then 2 s, 4 s...: OTP_TOTP_THROTTLE_FACTOR).
        response = verify(self.client, self.auditor, code=right)
        self.assertContains(response, "Too many wrong codes. Wait")
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 302)
        self.assertTrue(
            AccessLog.objects.filter(
                action=AccessLog.Action.OTP_FAILED, detail__throttled=True
            ).exists()
        )
        # Once the wait is over, the right code works.
        device = authenticator(self.auditor)
        TOTPDevice.objects.filter(pk=device.pk).update(
            throttling_failure_timestamp=device.throttling_failure_timestamp - timedelta(minutes=5)
        )
        self.assertRedirects(verify(self.client, self.auditor, code=right), reverse("admin:index"))


def _current(user) -> str:
    from people.two_factor.testing import current_code

    return current_code(authenticator(user))


def _b32(key_hex: str) -> str:
    from base64 import b32encode
    from binascii import unhexlify

    return b32encode(unhexlify(key_hex)).decode()
