"""What every benchmark shares: its own databases, the child process's settings, output.

A benchmark runs its measurements in child processes (one per size or per case) on
a database of its own, never ``db.sqlite3`` nor a test database:

- SQLite (the default): ``var/bench/<sqlite_stem>.sqlite3``;
- PostgreSQL, when ``DATABASE_URL`` (environment or ``.env``) names a server: a
  database ``<name>_bench_<key>`` on that server, or ``<name>_<key>`` when the name
  already contains "bench".

Results go to stdout as one JSON line per record (:func:`emit`); progress goes to
stderr (:func:`progress`), so ``> results.jsonl`` keeps only the records.
"""

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
SQLITE_DIR = BASE_DIR / "var" / "bench"


def base_database_url() -> str:
    """``DATABASE_URL`` from the environment or ``.env`` ('' when neither sets it)."""
    import environ

    env = environ.Env()
    if (BASE_DIR / ".env").is_file():
        env.read_env(BASE_DIR / ".env")
    return env.str("DATABASE_URL", default="")


def bench_database(base_url: str, key: str, *, sqlite_stem: str, reseed: bool) -> str:
    """The DATABASE_URL of a bench database, created when missing (see the module docstring).

    ``key`` names the PostgreSQL database (``<name>_bench_<key>``), ``sqlite_stem``
    the SQLite file. ``reseed`` drops the database (deletes the file) first, so the
    caller starts from an empty one. Raises ``SystemExit`` for a server other than
    SQLite or PostgreSQL.
    """
    if not base_url or base_url.startswith("sqlite"):
        SQLITE_DIR.mkdir(parents=True, exist_ok=True)
        path = SQLITE_DIR / f"{sqlite_stem}.sqlite3"
        if reseed:
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    parts = urlsplit(base_url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit(f"bench: SQLite or PostgreSQL only, not {parts.scheme}")
    name = parts.path.lstrip("/") or "postgres"
    name = f"{name}_{key}" if "bench" in name else f"{name}_bench_{key}"

    import environ
    import psycopg2

    config = environ.Env.db_url_config(base_url)
    server = psycopg2.connect(
        dbname="postgres",
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
    )
    server.autocommit = True
    with server.cursor() as cursor:
        if reseed:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    server.close()
    return urlunsplit(parts._replace(path=f"/{name}"))


def child_environment(database_url: str) -> dict[str, str]:
    """The environment of a measuring child: its database and production-like settings.

    DEBUG off (no template debug, no query log), without a deploy: a throwaway
    SECRET_KEY, the test client's host, no HTTPS redirect.
    """
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-not-a-secret-" + "x" * 40,
        "ALLOWED_HOSTS": "testserver",
        "SECURE_SSL_REDIRECT": "false",
        "PYTHONWARNINGS": "ignore",
    }


def setup_django() -> None:
    """``django.setup()`` in a child started with :func:`child_environment`.

    DEBUG off selects the manifest static storage, which needs collectstatic; the
    plain storage renders the same pages, so the child uses it.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings

    override_settings(
        STORAGES={
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
    ).enable()


def emit(**record) -> None:
    """Print ``record`` as one JSON line on stdout."""
    print(json.dumps(record), flush=True)


def progress(message: str) -> None:
    """Print ``bench: <message>`` on stderr."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def seed_and_measure(size: int, *, is_seeded, seed, measurements) -> int:
    """A bench child's body: set Django up, migrate, seed when ``is_seeded(size)`` says
    the database lacks it (one ``seed`` line with the seconds it took), then one line
    per record ``measurements()`` yields, each with ``db`` and ``rows`` (= ``size``).
    Returns 0, the child's exit status."""
    from time import perf_counter

    setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    db = connection.vendor
    if not is_seeded(size):
        started = perf_counter()
        seed(size)
        emit(case="seed", db=db, rows=size, seconds=round(perf_counter() - started, 1))
    for record in measurements():
        emit(db=db, rows=size, **record)
    return 0
