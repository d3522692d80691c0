"""Settings from the environment, checked in a fresh process as a deploy would start.

Each test runs ``manage.py`` in a subprocess with production-like variables, since
``backoffice.settings`` is read once per process.
"""

import os
import secrets
import subprocess
import sys

from django.conf import settings
from django.test import SimpleTestCase

MANAGE = str(settings.BASE_DIR / "manage.py")


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``manage.py *args`` with the current environment updated by ``env``.

    Returns the completed process (text output captured). The project's ``.env``
    is still read, but variables set here win over it (django-environ never
    overwrites a variable that is already set).
    """
    return subprocess.run(
        [sys.executable, MANAGE, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
    )


def production_env(**extra: str) -> dict[str, str]:
    """Variables of a minimal production deploy: DEBUG off, a long random key, one host."""
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "backoffice.example.com",
        **extra,
    }


class ProductionSettingsTests(SimpleTestCase):
    def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(self):
        # An empty value counts as unset (and keeps a developer's .env from filling it).
        result = run_manage("check", **production_env(SECRET_KEY=""))
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("ImproperlyConfigured", result.stderr)
        self.assertIn("SECRET_KEY is not set", result.stderr)

    def test_it_passes_the_deploy_checklist_without_warnings(self):
        result = run_manage("check", "--deploy", "--fail-level", "WARNING", **production_env())
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)
        self.assertIn("System check identified no issues (0 silenced).", result.stdout)
        self.assertNotIn("WARNING", result.stderr)

    def test_it_starts_with_a_development_key_when_debug_is_on(self):
        result = run_manage(
            "shell",
            "-c",
            "from django.conf import settings; print(settings.SECRET_KEY)",
            DEBUG="true",
            SECRET_KEY="",
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("django-insecure-", result.stdout)
