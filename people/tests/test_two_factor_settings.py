"""A user's own two-factor settings: optional roles enrol and turn it off, required roles
cannot turn it off, anyone enrolled makes new recovery codes (each change re-proved
with a current code, OWASP ASVS 4.0 2.8)."""

from datetime import timedelta

from django.db.models import F
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from admin_ext.audit.models import AccessLog
from admin_ext.testing import ClinicTestCase
from people.services import MSG_OTP_BAD_CODE, MSG_OTP_REQUIRED
from people.tests.two_factor_steps import enrol, recovery_codes, verify
from people.two_factor import authenticator
from people.two_factor.testing import current_code
from people.two_factor.testing import enrol as enrol_device


class OwnSettingsTests(ClinicTestCase):
    def manage(self, action, code=None, user=None):
        user = user or self.front_desk
        code = code or current_code(authenticator(user))
        return self.client.post(reverse("two_factor"), {"action": action, "code": code})

    def test_an_optional_role_enrols_from_its_settings_page(self):
        self.login(self.front_desk)
        page = self.client.get(reverse("two_factor"))
        self.assertContains(page, "Set up two-factor sign-in")
        self.assertContains(self.client.get(reverse("my_profile")), reverse("two_factor"))
        enrol(self.client)
        self.assertIsNotNone(authenticator(self.front_desk))
        self.client.logout()
        self.client.force_login(self.front_desk)  # the next sign-in asks for the code
        self.assertEqual(
            self.client.get(reverse("admin:index"))["Location"][:18], "/admin/2fa/verify/"
        )

    def test_an_optional_role_turns_it_off_with_a_code(self):
        self.login(self.front_desk)
        enrol(self.client)
        self.assertContains(self.manage("disable", code="000000x"), "6-digit code")
        self.assertIsNotNone(authenticator(self.front_desk))
        self.assertRedirects(self.manage("disable"), reverse("two_factor"))
        self.assertIsNone(authenticator(self.front_desk))
        self.assertFalse(StaticToken.objects.filter(device__user=self.front_desk).exists())
        entry = AccessLog.objects.get(action=AccessLog.Action.OTP_DISABLE)
        self.assertEqual(entry.actor, self.front_desk)

    def test_a_required_role_cannot_turn_it_off(self):
        self.login(self.admin)
        page = self.client.get(reverse("two_factor"))
        self.assertContains(page, "cannot be turned off")
        self.assertNotContains(page, "Turn off two-factor sign-in")
        response = self.manage("disable", user=self.admin)
        self.assertContains(response, MSG_OTP_REQUIRED)
        self.assertIsNotNone(authenticator(self.admin))

    def test_new_recovery_codes_replace_the_old_ones(self):
        self.login(self.front_desk)
        old = recovery_codes(enrol(self.client)[1])
        self.assertContains(self.manage("regenerate", code="123456"), MSG_OTP_BAD_CODE)
        # The wrong code is throttled like one at sign-in; let the wait pass.
        TOTPDevice.objects.filter(user=self.front_desk).update(
            throttling_failure_timestamp=F("throttling_failure_timestamp") - timedelta(minutes=5)
        )
        response = self.manage("regenerate")
        new = recovery_codes(response)
        self.assertContains(response, "Store these recovery codes now.")
        self.assertEqual(len(new), len(old))
        self.assertFalse(set(new) & set(old))
        self.assertTrue(
            AccessLog.objects.filter(action=AccessLog.Action.OTP_CODES_RENEWED).exists()
        )
        self.client.logout()
        self.client.force_login(self.front_desk)
        self.assertContains(verify(self.client, self.front_desk, code=old[0]), MSG_OTP_BAD_CODE)
        StaticDevice.objects.filter(user=self.front_desk).update(throttling_failure_timestamp=None)
        self.assertRedirects(
            verify(self.client, self.front_desk, code=new[0]), reverse("admin:index")
        )

    def test_the_settings_page_is_only_ever_ones_own(self):
        enrol_device(self.alice)
        self.login(self.bob)
        page = self.client.get(reverse("two_factor"), {"user": self.alice.pk})
        self.assertContains(page, "Off.")  # Bob's, whatever the query says
        response = self.client.post(
            reverse("two_factor"), {"action": "disable", "code": "123456", "user": self.alice.pk}
        )
        self.assertEqual(response.status_code, 200)
        self.assertIsNotNone(authenticator(self.alice))
