"""The real production server, started the way ``make serve`` starts it, for tests.

``make serve`` is the deploy recipe: ``migrate``, ``collectstatic``, then gunicorn
(gthread) with ``DEBUG=false``. Tests that must see what production sends (headers,
cookies, redirects, lockouts, timeouts) run that very recipe here: the commands are
read from ``make -n serve`` with ``HOST``, ``PORT``, ``WORKERS=1``, ``VENV`` and ``PY``
overridden, so this module and the Makefile cannot drift apart. ``collectstatic``
runs once per test session into a temporary ``STATIC_ROOT``; every other command of
the recipe (``migrate``, gunicorn) runs per server.

Registered for the whole suite by the root ``conftest.py`` (``pytest_plugins``).
Fixtures:

- ``production_server``: a running server with the default environment below;
- ``serve``: a factory, ``serve(**env)``, for a server with extra or different
  environment variables, e.g. ``serve(AXES_FAILURE_LIMIT="3")``; every server it
  starts is stopped when the test ends;
- ``production_static`` (session): the collected ``STATIC_ROOT``.

A test that asks for any of them is skipped, with the reason, when gunicorn is not
installed.

Each server gets: ``DEBUG=false``, a generated ``SECRET_KEY``,
``ALLOWED_HOSTS=127.0.0.1,localhost``, a new SQLite database and ``MEDIA_ROOT`` under
the test's temporary directory, a free port on 127.0.0.1. ``SECURE_SSL_REDIRECT``
keeps its production default (on): a request that says it came through the TLS
proxy (``X-Forwarded-Proto: https``, see ``SECURE_PROXY_SSL_HEADER``) is served, any
other is redirected to https. The process group (gunicorn's master and workers) is
always killed at the end, pass or fail.

``ProductionServer`` (what the fixtures return):

- ``url``: ``http://127.0.0.1:<port>``;
- ``manage(*args)``: run ``manage.py`` with the server's environment (same database);
- ``create_user(email=..., password=..., role=..., is_superuser=...)``: through
  ``people.services.user_create``; ``personas()``: the personas of
  ``admin_ext.testing.ClinicTestCase`` (password ``admin_ext.testing.PASSWORD``);
- ``client(https=True)``: a ``Client`` with its own cookies that never follows
  redirects; with ``https`` it sends ``X-Forwarded-Proto: https`` and an ``Origin``
  (Django's CSRF check on a secure request) as the TLS proxy would, and returns
  ``Secure`` cookies over the plain connection to the proxy's back end;
  ``client.get(path)``, ``client.post(path, data)``, ``client.login(email, password)``
  return a ``Response`` (``status``, ``headers``, ``text``, ``cookie(name)``);
- ``log()``: what gunicorn has written so far (access log included).

Example::

    def test_it_sends_hsts(production_server):
        response = production_server.client().get("/admin/login/")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from email.message import Message
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
#: Seconds to wait for the server to answer its first request.
START_TIMEOUT = 60
#: Seconds each ``manage.py`` command or request may take.
COMMAND_TIMEOUT = 120


def serve_commands(*, host: str, port: int) -> list[list[str]]:
    """The ``make serve`` recipe as argument lists, read from ``make -n``.

    ``HOST``/``PORT`` are overridden, ``WORKERS=1`` (one process is enough for a test
    and keeps the 2-core machine free), and ``VENV``/``PY`` point at the interpreter
    running the tests. ``-o <venv>/.installed`` keeps make from reinstalling the
    virtualenv when a requirements file is newer. Leading ``NAME=value`` words stay in
    the list (``split_assignments`` separates them). Raises ``RuntimeError`` when make
    fails or the recipe has no gunicorn command.
    """
    venv = sys.prefix
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-n",
            "-o",
            f"{venv}/.installed",
            "serve",
            f"HOST={host}",
            f"PORT={port}",
            "WORKERS=1",
            f"VENV={venv}",
            f"PY={sys.executable}",
        ],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"make -n serve failed: {result.stderr}")
    # make echoes a continued recipe line with its backslash-newline and tab.
    script = re.sub(r"\\\n\t?", " ", result.stdout)
    commands = [shlex.split(line) for line in script.splitlines() if line.strip()]
    if not any(_is_gunicorn(command) for command in commands):
        raise RuntimeError(f"no gunicorn command in `make serve`:\n{result.stdout}")
    return commands


def split_assignments(command: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split ``["DEBUG=false", "python", ...]`` into ``({"DEBUG": "false"}, ["python", ...])``."""
    env = {}
    while command and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", command[0]):
        name, _, value = command[0].partition("=")
        env[name] = value
        command = command[1:]
    return env, command


def _is_gunicorn(command: list[str]) -> bool:
    return any(Path(word).name == "gunicorn" for word in split_assignments(command)[1][:1])


def _is_collectstatic(command: list[str]) -> bool:
    return "collectstatic" in command


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(tmp_dir: Path, static_root: Path, **extra: str) -> dict[str, str]:
    """The environment of a test server: production defaults, then ``extra``.

    The test process's own ``DATABASE_URL`` (PostgreSQL in CI) is replaced by a SQLite
    file in ``tmp_dir``; ``DJANGO_ALLOW_ASYNC_UNSAFE`` (set by the browser fixture) is
    dropped, since production never has it.
    """
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=f"sqlite:///{tmp_dir / 'db.sqlite3'}",
        STATIC_ROOT=str(static_root),
        MEDIA_ROOT=str(tmp_dir / "media"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    assignments, argv = split_assignments(command)
    result = subprocess.run(
        argv,
        cwd=BASE_DIR,
        env={**env, **assignments},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@dataclass
class Response:
    """One answer of the server: ``status``, ``headers`` (every ``Set-Cookie`` is in
    ``headers.get_all("Set-Cookie")``), the body as ``text``, and the ``url`` asked."""

    status: int
    headers: Message
    text: str
    url: str

    def cookie(self, name: str) -> str | None:
        """The ``Set-Cookie`` header that sets ``name`` (with its flags), or None."""
        for header in self.headers.get_all("Set-Cookie") or []:
            if header.split("=", 1)[0].strip() == name:
                return header
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class _BehindProxyPolicy(DefaultCookiePolicy):
    """Returns ``Secure`` cookies over http: the TLS proxy talks plain http to us."""

    def return_ok_secure(self, cookie: Cookie, request) -> bool:
        return True


class Client:
    """A cookie-keeping HTTP client for a ``ProductionServer``; never follows redirects.

    With ``https`` (the default) every request carries ``X-Forwarded-Proto: https``, as
    from the TLS proxy, and unsafe methods an ``Origin`` of ``https://<host>``.
    """

    def __init__(self, url: str, *, https: bool = True):
        self.url = url
        self.https = https
        self.cookies = CookieJar(policy=_BehindProxyPolicy() if https else DefaultCookiePolicy())
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(
        self, method: str, path: str, *, data: dict | None = None, headers: dict | None = None
    ) -> Response:
        """Send ``method path`` (form-encoded ``data``); returns the ``Response``,
        whatever its status."""
        all_headers = {}
        if self.https:
            all_headers["X-Forwarded-Proto"] = "https"
            if method not in ("GET", "HEAD"):
                all_headers["Origin"] = "https://" + urllib.parse.urlsplit(self.url).netloc
        all_headers.update(headers or {})
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(
            self.url + path, data=body, headers=all_headers, method=method
        )
        try:
            answer = self._opener.open(request, timeout=COMMAND_TIMEOUT)
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx, 5xx
            answer = error
        with answer:
            text = answer.read().decode("utf-8", "replace")
        return Response(answer.status, answer.headers, text, self.url + path)

    def get(self, path: str, **kwargs) -> Response:
        """``GET path``; see ``request``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> Response:
        """``POST path`` with the CSRF token of this client's cookie added to ``data``."""
        token = next((c.value for c in self.cookies if c.name == "csrftoken"), None)
        if token is None:
            raise AssertionError(f"no csrftoken cookie yet: GET a form before POST {path}")
        return self.request("POST", path, data={"csrfmiddlewaretoken": token, **data}, **kwargs)

    def login(self, email: str, password: str, path: str = "/admin/login/") -> Response:
        """Sign in through the admin login form; returns the answer to the POST (a 302
        to the dashboard on success, the form again with its error otherwise)."""
        form = self.get(path)
        if form.status != 200:
            raise AssertionError(f"GET {path} answered {form.status}")
        return self.post(path, {"username": email, "password": password, "next": "/admin/"})


class ProductionServer:
    """A running ``make serve`` (see the module docstring); ``url`` is its base URL."""

    def __init__(self, url: str, env: dict[str, str], log_path: Path):
        self.url = url
        self.env = env
        self.log_path = log_path

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        """Run ``manage.py *args`` against this server's database and settings.
        Returns the completed process; raises ``RuntimeError`` when it fails."""
        return _run([sys.executable, "manage.py", *args], self.env)

    def create_user(self, **kwargs) -> None:
        """Create a user through ``people.services.user_create(**kwargs)``
        (``email``, ``password``, ``role``, ``is_superuser``...; JSON values)."""
        kwargs = {"actor": None, "reason": "test server", **kwargs}
        self.manage(
            "shell",
            "-c",
            "import json; from people.services import user_create; "
            f"user_create(**json.loads({json.dumps(json.dumps(kwargs))}))",
        )

    def personas(self) -> None:
        """Create ``admin_ext.testing.ClinicTestCase``'s personas and patients."""
        self.manage(
            "shell",
            "-c",
            "from types import SimpleNamespace; from admin_ext.testing import ClinicTestCase; "
            "ClinicTestCase.setUpTestData.__func__(SimpleNamespace())",
        )

    def client(self, *, https: bool = True) -> Client:
        """A new ``Client`` (no cookies) for this server."""
        return Client(self.url, https=https)

    def log(self) -> str:
        """gunicorn's output so far (error log and access log)."""
        return self.log_path.read_text(errors="replace")


def collect_static(static_root: Path) -> None:
    """Run the recipe's ``collectstatic`` into ``static_root``."""
    commands = serve_commands(host="127.0.0.1", port=0)
    env = base_env(static_root.parent, static_root)
    for command in filter(_is_collectstatic, commands):
        _run(command, env)


@contextmanager
def running_server(tmp_dir: Path, static_root: Path, **extra_env: str):
    """Start ``make serve``'s recipe (without ``collectstatic``) with its database in
    ``tmp_dir`` and ``static_root`` already collected; yield a ``ProductionServer``
    once it answers; kill its process group on exit. Raises ``RuntimeError`` with
    gunicorn's output when it does not start within ``START_TIMEOUT`` seconds."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = base_env(tmp_dir, static_root, **extra_env)
    commands = serve_commands(host="127.0.0.1", port=port)
    server_command = next(filter(_is_gunicorn, commands))
    for command in commands[: commands.index(server_command)]:
        if not _is_collectstatic(command):
            _run(command, env)
    assignments, argv = split_assignments(server_command)
    log_path = tmp_dir / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=BASE_DIR,
            env={**env, **assignments},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: master and workers
        )
    server = ProductionServer(url, env, log_path)
    try:
        _wait_until_answering(process, server)
        yield server
    finally:
        _stop(process)


def _wait_until_answering(process: subprocess.Popen, server: ProductionServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{server.log()}")
        try:
            server.client().get("/admin/login/")
            return
        except OSError:  # refused or reset: not listening yet
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT} s:\n{server.log()}")


def _stop(process: subprocess.Popen) -> None:
    """SIGINT (gunicorn's quick shutdown) to the whole group, SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def _require_gunicorn() -> None:
    if importlib.util.find_spec("gunicorn") is None:
        pytest.skip("gunicorn is not installed (pip install -r requirements.txt)")


@pytest.fixture(scope="session")
def production_static(tmp_path_factory) -> Path:
    """``STATIC_ROOT`` collected once per session by the recipe's ``collectstatic``."""
    _require_gunicorn()
    static_root = tmp_path_factory.mktemp("production") / "static"
    collect_static(static_root)
    return static_root


@pytest.fixture
def serve(tmp_path, production_static):
    """Factory: ``serve(**env)`` starts a ``ProductionServer`` with ``env`` added to its
    environment (values are strings); each server gets its own database. All are
    stopped at the end of the test."""
    with ExitStack() as stack:
        numbers = itertools.count()

        def start(**env: str) -> ProductionServer:
            tmp_dir = tmp_path / f"server{next(numbers)}"
            return stack.enter_context(running_server(tmp_dir, production_static, **env))

        yield start


@pytest.fixture
def production_server(serve) -> ProductionServer:
    """A ``ProductionServer`` with the default production environment."""
    return serve()
