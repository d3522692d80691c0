"""Structured logs (backoffice.logs): one JSON object per line, request id and actor,
never a patient's data."""

import io
import json
import logging

from django.contrib.auth.tokens import default_token_generator
from django.test import Client, SimpleTestCase, override_settings
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from admin_ext.testing import ClinicTestCase
from backoffice.logs import JsonFormatter, RequestContextFilter
from backoffice.tests.test_settings import production_env, run_manage
from clinic.tests.factories import PatientFactory

#: A patient whose name appears nowhere else in the fixture or the code.
LAST_NAME = "Quackenbush"
SSN = "123-45-6789"


class StructuredLogTests(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.patient = PatientFactory(first_name="Zebulon", last_name=LAST_NAME, ssn=SSN)

    def setUp(self):
        # The production handler: the project's formatter and filter on the root logger.
        self.output = io.StringIO()
        handler = logging.StreamHandler(self.output)
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestContextFilter())
        root = logging.getLogger()
        root.addHandler(handler)
        self.addCleanup(root.removeHandler, handler)

    def records(self) -> list[dict]:
        """Every line written so far, each parsed as JSON (fails on a line that is not)."""
        return [json.loads(line) for line in self.output.getvalue().splitlines()]

    def access_lines(self) -> list[dict]:
        return [r for r in self.records() if r["logger"] == "backoffice.requests"]

    def test_it_writes_one_access_line_per_request_without_the_query_string(self):
        self.login(self.front_desk)
        url = reverse("admin:clinic_patient_changelist")
        response = self.client.get(url, {"q": LAST_NAME})
        self.assertEqual(response.status_code, 200)
        (line,) = self.access_lines()
        self.assertEqual(line["message"], f"GET {url} 200")
        self.assertEqual(
            {k: line[k] for k in ("level", "method", "path", "status", "request_id", "actor")},
            {
                "level": "INFO",
                "method": "GET",
                "path": url,
                "status": 200,
                "request_id": response["X-Request-ID"],
                "actor": self.front_desk.pk,
            },
        )
        self.assertGreater(line["duration_ms"], 0)
        self.assertRegex(line["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")
        self.assertNotIn(LAST_NAME, self.output.getvalue())
        self.assertNotIn(self.front_desk.email, self.output.getvalue())

    @override_settings(ROOT_URLCONF="backoffice.tests.failing_urls")
    def test_an_error_with_a_patients_data_in_hand_logs_none_of_it(self):
        client = Client(raise_request_exception=False)
        client.force_login(self.front_desk)
        response = client.post(
            f"/test-failure/?q={LAST_NAME}", {"last_name": LAST_NAME, "ssn": SSN}
        )
        self.assertEqual(response.status_code, 500)
        error = next(r for r in self.records() if r["logger"] == "django.request")
        self.assertEqual(error["message"], "Internal Server Error: /test-failure/")
        self.assertEqual(error["request_id"], response["X-Request-ID"])
        self.assertIn('in fail\n    raise ValueError(f"Cannot save', error["exc_info"])
        self.assertTrue(
            error["exc_info"].endswith("builtins.ValueError: [message withheld from logs]")
        )
        self.assertEqual(self.access_lines()[-1]["status"], 500)
        self.assertNotIn(LAST_NAME, self.output.getvalue())
        self.assertNotIn(SSN, self.output.getvalue())

    def test_a_missing_page_logs_its_request_id(self):
        response = self.client.get(f"/no-such-page/?q={LAST_NAME}")
        self.assertEqual(response.status_code, 404)
        warning = next(r for r in self.records() if r["logger"] == "django.request")
        self.assertEqual(
            (warning["message"], warning["request_id"]),
            ("Not Found: /no-such-page/", response["X-Request-ID"]),
        )
        self.assertNotIn(LAST_NAME, self.output.getvalue())

    def test_a_password_reset_token_never_reaches_the_log(self):
        uid = urlsafe_base64_encode(force_bytes(self.front_desk.pk))
        token = default_token_generator.make_token(self.front_desk)
        self.client.get(reverse("password_reset_confirm", args=[uid, token]))
        self.assertEqual(self.access_lines()[0]["path"], f"/reset/{uid}/********/")
        self.assertNotIn(token, self.output.getvalue())

    def test_a_healthy_probe_writes_no_line_and_a_failing_one_does(self):
        self.client.get(reverse("health_live"))
        self.client.get(reverse("health_ready"))
        self.assertEqual(self.access_lines(), [])
        with override_settings(
            CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
        ):
            self.client.get(reverse("health_ready"))
        self.assertEqual(
            [(r["path"], r["status"]) for r in self.access_lines()], [("/health/ready/", 503)]
        )


class ProductionLoggingTests(SimpleTestCase):
    def test_production_writes_json_lines_to_stderr(self):
        result = run_manage(
            "shell",
            "-c",
            "import logging; logging.getLogger('clinic').warning('Import of %s rows', 3)",
            **production_env(),
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        (line,) = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
        self.assertEqual(
            line,
            {
                "timestamp": line["timestamp"],
                "level": "WARNING",
                "logger": "clinic",
                "message": "Import of 3 rows",
                "request_id": None,
                "actor": None,
            },
        )
