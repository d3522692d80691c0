"""Error reports to ADMINS (backoffice.errors): the traceback and the path, no patient data."""

import sys

from django.core import mail
from django.test import Client, RequestFactory, TestCase, override_settings

from backoffice.errors import PhiSafeExceptionReporter, PhiSafeExceptionReporterFilter
from backoffice.tests.failing_urls import fail

LAST_NAME = "Quackenbush"
SSN = "123-45-6789"


@override_settings(
    ADMINS=[("Ops", "ops@example.org")],
    ROOT_URLCONF="backoffice.tests.failing_urls",
)
class ErrorReportTests(TestCase):
    """Tests run with DEBUG off, as production does; the email goes to mail.outbox."""

    def fail_with_patient_data(self):
        client = Client(raise_request_exception=False)
        client.cookies["recent_search"] = LAST_NAME
        response = client.post(
            f"/test-failure/?q={LAST_NAME}&page=2",
            {"last_name": LAST_NAME, "ssn": SSN},
            headers={"referer": f"https://backoffice.example.com/admin/?q={LAST_NAME}"},
        )
        self.assertEqual(response.status_code, 500)
        (email,) = mail.outbox
        return email

    def test_it_emails_the_admins_the_traceback_and_the_path(self):
        email = self.fail_with_patient_data()
        self.assertEqual(email.to, ["ops@example.org"])
        self.assertIn("Internal Server Error: /test-failure/", email.subject)
        self.assertIn("Traceback (most recent call last):", email.body)
        self.assertIn(", in fail\n", email.body)
        self.assertIn("Exception Type: ValueError at /test-failure/", email.body)
        self.assertIn("Request URL: http://testserver/test-failure/\n", email.body)
        # Parameter names stay, so the report still says what was sent.
        for name in ("last_name", "ssn", "q", "page", "recent_search", "HTTP_REFERER"):
            self.assertIn(f"{name} = '********************'", email.body)

    def test_it_shows_no_value_the_request_or_the_code_held(self):
        email = self.fail_with_patient_data()
        for value in (LAST_NAME, SSN, "q=", "page=2"):
            self.assertNotIn(value, email.subject + email.body)
        self.assertEqual(email.alternatives, [])  # include_html is off

    def test_the_html_report_shows_no_local_variable_either(self):
        # The email is text only (include_html off); the HTML report lists every
        # frame's local variables, should someone switch it on.
        request = RequestFactory().post("/test-failure/", {"last_name": LAST_NAME, "ssn": SSN})
        try:
            fail(request)
        except ValueError:
            html = PhiSafeExceptionReporter(
                request, *sys.exc_info(), is_email=True
            ).get_traceback_html()
        self.assertIn("last_name", html)  # the variable's name, with stars for its value
        self.assertNotIn(LAST_NAME, html)
        self.assertNotIn(SSN, html)

    def test_the_settings_name_these_classes(self):
        from django.views.debug import (
            get_default_exception_reporter_filter,
            get_exception_reporter_class,
        )

        self.assertIsInstance(
            get_default_exception_reporter_filter(), PhiSafeExceptionReporterFilter
        )
        self.assertIs(get_exception_reporter_class(None), PhiSafeExceptionReporter)
