"""Project-wide pytest configuration."""

import pytest

# The browser tests' fixtures (browser, page, personas) for every app's test_browser_*.py,
# and the real `make serve` server (production_server, serve: backoffice/tests/server.py).
pytest_plugins = ["admin_ext.tests.browser", "backoffice.tests.server"]


def pytest_configure(config):
    from django.conf import settings

    # Hashing every persona's password with PBKDF2 costs about a second per test
    # class; the hasher is not what these tests are about (cookiecutter-django
    # does the same in its test settings).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def untracked_update_guard():
    """Fail any test in which ``QuerySet.update()`` writes a model with history outside a
    history-aware helper (``admin_ext.audit.guards``; DESIGN.md, "Writes: one path each")."""
    from admin_ext.audit.guards import install

    uninstall = install()
    yield
    uninstall()
