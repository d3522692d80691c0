"""The load balancer's probes (backoffice.health): /health/live/ and /health/ready/."""

import json
from unittest import mock

from django.core import mail
from django.db import OperationalError, connections
from django.db.migrations.executor import MigrationExecutor
from django.test import TestCase, override_settings
from django.urls import reverse

HEALTHY = {"status": "ok", "checks": {"database": "ok", "cache": "ok", "migrations": "ok"}}


class LivenessTests(TestCase):
    def test_it_answers_anonymously_without_touching_the_database(self):
        with self.assertNumQueries(0):
            response = self.client.get(reverse("health_live"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok"})

    @override_settings(SECURE_SSL_REDIRECT=True)
    def test_it_answers_plain_http_where_every_other_page_redirects_to_https(self):
        self.assertEqual(self.client.get(reverse("health_live")).status_code, 200)
        self.assertEqual(self.client.get(reverse("health_ready")).status_code, 200)
        self.assertEqual(self.client.get(reverse("admin:login")).status_code, 301)

    def test_it_refuses_to_be_posted_to(self):
        self.assertEqual(self.client.post(reverse("health_live")).status_code, 405)

    @override_settings(
        ADMINS=[("Ops", "ops@example.org")], ALLOWED_HOSTS=["backoffice.example.com"]
    )
    def test_a_probe_with_a_host_not_allowed_is_refused_and_emails_nobody(self):
        # A load balancer probing by IP address: documented, and logged, not emailed.
        response = self.client.get(reverse("health_live"), headers={"host": "10.0.0.5"})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(mail.outbox, [])


class ReadinessTests(TestCase):
    def get(self, **headers):
        return self.client.get(reverse("health_ready"), headers=headers)

    def test_it_is_ready_when_database_cache_and_migrations_are(self):
        response = self.get()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), HEALTHY)
        self.assertIn("no-cache", response["Cache-Control"])

    def test_it_is_not_ready_while_a_migration_is_unapplied(self):
        plan = [(mock.Mock(name="clinic.0099_new_column"), False)]
        with mock.patch.object(MigrationExecutor, "migration_plan", return_value=plan):
            response = self.get()
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["status"], "unavailable")
        self.assertEqual(response.json()["checks"]["migrations"], "unavailable")
        self.assertEqual(response.json()["checks"]["database"], "ok")

    @override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    )
    def test_it_is_not_ready_when_the_cache_keeps_nothing(self):
        response = self.get()
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["checks"]["cache"], "unavailable")

    def test_it_is_not_ready_without_the_database_and_names_no_server(self):
        error = OperationalError('connection to server at "10.9.8.7", port 5432 failed')
        wrapper = type(connections["default"])
        with (
            mock.patch.object(wrapper, "temporary_connection", side_effect=error),
            self.assertLogs("health_check", "WARNING"),
        ):
            response = self.get()
        self.assertEqual(response.status_code, 503)
        self.assertEqual(
            response.json(),
            {
                "status": "unavailable",
                "checks": {"database": "unavailable", "cache": "ok", "migrations": "unavailable"},
            },
        )
        self.assertNotIn(b"10.9.8.7", response.content)
        self.assertNotIn(b"5432", response.content)

    def test_it_answers_the_same_json_whatever_format_is_asked_for(self):
        # django-health-check's own HTML, text and metrics pages show error texts.
        for headers in ({"accept": "text/html"}, {"accept": "text/plain"}, {}):
            with self.subTest(headers=headers):
                response = self.get(**headers)
                self.assertEqual(response["Content-Type"], "application/json")
                self.assertEqual(json.loads(response.content), HEALTHY)
        response = self.client.get(reverse("health_ready"), {"format": "openmetrics"})
        self.assertEqual(response.json(), HEALTHY)

    @override_settings(ADMINS=[("Ops", "ops@example.org")])
    def test_an_unhealthy_probe_emails_nobody(self):
        # Probes come every few seconds: an outage must not send one email each.
        with mock.patch.object(MigrationExecutor, "migration_plan", return_value=[("m", False)]):
            self.assertEqual(self.get().status_code, 503)
        self.assertEqual(mail.outbox, [])


def test_make_serve_answers_probes_over_plain_http_and_logs_json_without_queries(
    production_server,
):
    """The real recipe (gunicorn, DEBUG off): probes over http, one JSON line a request."""
    client = production_server.client(https=False)  # as a load balancer probes
    assert client.get("/health/live/").status == 200
    ready = client.get("/health/ready/")
    assert (ready.status, json.loads(ready.text)) == (200, HEALTHY)
    assert client.get("/admin/login/?q=Quackenbush").status == 301  # to https
    lines = [json.loads(x) for x in production_server.log().splitlines() if x.startswith("{")]
    access = [x for x in lines if x["logger"] == "backoffice.requests"]
    assert [(x["method"], x["path"], x["status"]) for x in access][-1:] == [
        ("GET", "/admin/login/", 301)
    ]
    assert not [x for x in access if x["path"].startswith("/health/")]
    assert "Quackenbush" not in production_server.log()
