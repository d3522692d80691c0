"""Operations settings read from the environment: database connections, error reports
and log format (backoffice/settings.py, OPERATIONS), checked in a fresh process."""

import json

from django.test import SimpleTestCase

from backoffice.tests.test_settings import production_env, run_manage

SHOW = (
    "import json; from django.conf import settings as s; db = s.DATABASES['default']; "
    "print(json.dumps({'conn_max_age': db['CONN_MAX_AGE'], "
    "'conn_health_checks': db['CONN_HEALTH_CHECKS'], 'admins': s.ADMINS, "
    "'server_email': s.SERVER_EMAIL, 'log_format': s.LOG_FORMAT, "
    "'redirect_exempt': s.SECURE_REDIRECT_EXEMPT}))"
)


def settings_with(**env: str) -> dict:
    """The operations settings a process started with ``env`` reads."""
    result = run_manage("shell", "-c", SHOW, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


class OperationsSettingsTests(SimpleTestCase):
    def test_production_keeps_checked_database_connections_for_a_minute(self):
        got = settings_with(**production_env())
        self.assertEqual((got["conn_max_age"], got["conn_health_checks"]), (60, True))
        self.assertEqual((got["admins"], got["log_format"]), ([], "json"))
        self.assertEqual(got["redirect_exempt"], [r"^health/"])

    def test_development_opens_a_connection_per_request_and_logs_text(self):
        got = settings_with(DEBUG="true")
        self.assertEqual((got["conn_max_age"], got["log_format"]), (0, "text"))

    def test_the_environment_sets_connection_age_admins_and_sender(self):
        got = settings_with(
            **production_env(
                DB_CONN_MAX_AGE="300",
                ADMINS="Ops Team <ops@example.org>, oncall@example.org",
                SERVER_EMAIL="errors@example.org",
            )
        )
        self.assertEqual(got["conn_max_age"], 300)
        self.assertEqual(
            got["admins"], [["Ops Team", "ops@example.org"], ["", "oncall@example.org"]]
        )
        self.assertEqual(got["server_email"], "errors@example.org")

    def test_it_refuses_to_start_with_a_malformed_value(self):
        for env in (
            {"ADMINS": "Ops Team"},
            {"DB_CONN_MAX_AGE": "-1"},
            {"LOG_FORMAT": "xml"},
        ):
            with self.subTest(env=env):
                result = run_manage("check", **production_env(**env))
                self.assertNotEqual(result.returncode, 0)
                self.assertIn("ImproperlyConfigured", result.stderr)
