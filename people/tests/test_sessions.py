"""Sessions end after SESSION_IDLE_TIMEOUT of inactivity and when the browser closes."""

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import SimpleTestCase
from django.urls import reverse
from django.utils import timezone

from admin_ext.testing import ClinicTestCase
from backoffice.tests.test_settings import production_env, run_manage


class IdleTimeoutTests(ClinicTestCase):
    def session(self) -> Session:
        return Session.objects.get(pk=self.client.session.session_key)

    def set_expiry(self, delta: timedelta) -> None:
        Session.objects.filter(pk=self.client.session.session_key).update(
            expire_date=timezone.now() + delta
        )

    def test_it_sends_a_session_idle_past_the_timeout_to_the_login_page(self):
        self.login(self.front_desk)
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 200)
        self.set_expiry(timedelta(seconds=-1))
        response = self.client.get(reverse("admin:index"))
        self.assertRedirects(response, f"{reverse('admin:login')}?next={reverse('admin:index')}")

    def test_each_request_within_the_timeout_extends_it(self):
        self.assertEqual(settings.SESSION_COOKIE_AGE, 30 * 60)
        self.login(self.front_desk)
        self.set_expiry(timedelta(seconds=60))  # a minute left
        self.assertEqual(self.client.get(reverse("admin:index")).status_code, 200)
        left = self.session().expire_date - timezone.now()
        self.assertGreater(left, timedelta(minutes=29))
        self.assertLessEqual(left, timedelta(minutes=30))

    def test_the_cookie_ends_with_the_browser(self):
        self.login(self.front_desk)
        response = self.client.get(reverse("admin:index"))
        cookie = response.cookies[settings.SESSION_COOKIE_NAME]
        self.assertEqual(cookie["max-age"], "")
        self.assertEqual(cookie["expires"], "")


class IdleTimeoutSettingTests(SimpleTestCase):
    def test_it_reads_the_timeout_and_the_lockout_figures_from_the_environment(self):
        script = (
            "from django.conf import settings as s; "
            "print(s.SESSION_COOKIE_AGE, s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.seconds)"
        )
        env = production_env(SESSION_IDLE_TIMEOUT="120", AXES_FAILURE_LIMIT="3")
        result = run_manage("shell", "-c", script, AXES_COOLOFF_MINUTES="2", **env)
        self.assertEqual(result.returncode, 0, result.stderr)
        # The last line: `shell` may print its automatic imports first.
        self.assertEqual(result.stdout.strip().splitlines()[-1].split(), ["120", "3", "120"])
