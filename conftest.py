"""Project-wide pytest configuration."""

import shutil
import tempfile
from pathlib import Path

import pytest

_TEST_DB_FOLDER = pytest.StashKey[Path]()

# The browser tests' fixtures (browser, page, personas) for every app's test_browser_*.py,
# and the real `make serve` server (production_server, serve: backoffice/tests/server.py).
pytest_plugins = ["admin_ext.tests.browser", "backoffice.tests.server"]


def pytest_configure(config):
    from django.conf import settings

    # Hashing every persona's password with PBKDF2 costs about a second per test
    # class; the hasher is not what these tests are about (cookiecutter-django
    # does the same in its test settings).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    # SQLite: a test database in a file, not Django's default shared-cache in-memory
    # one. The live server of the browser tests answers requests on several threads,
    # and every request saves its session (the idle timeout); in shared-cache memory
    # two writers fail at once with "database table is locked" (a 400 on a page's
    # script), while a file database makes the second wait (the busy timeout).
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        folder = Path(tempfile.mkdtemp(prefix="backoffice-test-db-"))
        database.setdefault("TEST", {})["NAME"] = str(folder / "test.sqlite3")
        config.stash[_TEST_DB_FOLDER] = folder


def pytest_unconfigure(config):
    # The folder of the SQLite test database; Django has deleted the file by now.
    folder = config.stash.get(_TEST_DB_FOLDER, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def untracked_update_guard():
    """Fail any test in which ``QuerySet.update()`` writes a model with history outside a
    history-aware helper (``admin_ext.audit.guards``; DESIGN.md, "Writes: one path each")."""
    from admin_ext.audit.guards import install

    uninstall = install()
    yield
    uninstall()


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache, as it starts with an empty database: counters
    kept there (the password-reset throttle, the dashboard's numbers) never leak from one
    test into the next."""
    from django.core.cache import cache

    cache.clear()
