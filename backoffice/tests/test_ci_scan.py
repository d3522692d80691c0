"""``.ci/scan``: how its pip-audit step decides, with stand-in tools.

The real pip-audit needs a vulnerability service this machine may not reach, so the
virtualenv ``.ci/scan`` uses (``VENV``) is a temporary one whose ``pip-audit`` plays
a service that is unreachable, or reachable with one known vulnerability, and whose
``bandit`` passes.
"""

import os
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

SCAN = settings.BASE_DIR / ".ci" / "scan"

#: pip-audit as the scan calls it: a one-package JSON probe, then the real audit.
FAKE_PIP_AUDIT = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys
    args = sys.argv[1:]
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(" ".join(args) + "\\n")
    reachable = os.environ["FAKE_SERVICE"] == "reachable"
    if "--format" in args:  # the probe
        dep = {{"name": "django", "version": "5.2.19", "vulns": []}} if reachable else {{
            "name": "django", "skip_reason": "Dependency not found on PyPI"}}
        print(json.dumps({{"dependencies": [dep], "fixes": []}}))
        sys.exit(0)
    if "GHSA-test-0001" in args:
        print("No known vulnerabilities found, 1 ignored")
        sys.exit(0)
    print("Found 1 known vulnerability in 1 package")
    sys.exit(1)
    """
)


class ScanTests(SimpleTestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(subprocess.run, ["rm", "-rf", str(self.tmp)], check=False)
        bin_dir = self.tmp / "venv" / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "python").symlink_to(sys.executable)
        for name, text in (
            ("pip-audit", FAKE_PIP_AUDIT.format(python=sys.executable)),
            ("bandit", "#!/bin/sh\nexit 0\n"),
        ):
            path = bin_dir / name
            path.write_text(text)
            path.chmod(path.stat().st_mode | stat.S_IEXEC)
        self.ignore_file = self.tmp / "ignore.txt"
        self.ignore_file.write_text("# nothing accepted\n")
        self.log = self.tmp / "calls.txt"

    def scan(self, service: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SCAN)],
            env={
                **os.environ,
                "VENV": str(self.tmp / "venv"),
                "PIP_AUDIT_IGNORE_FILE": str(self.ignore_file),
                "FAKE_SERVICE": service,
                "FAKE_LOG": str(self.log),
                **env,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )

    def audit_calls(self) -> list[str]:
        return [c for c in self.log.read_text().splitlines() if "--format" not in c]

    def test_it_reports_blocked_and_passes_when_no_service_answers(self):
        result = self.scan("unreachable")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("pip-audit: BLOCKED: no vulnerability service reachable", result.stderr)
        self.assertEqual(self.audit_calls(), [])

    def test_blocked_fails_when_an_audit_is_required(self):
        result = self.scan("unreachable", PIP_AUDIT_REQUIRED="1")
        self.assertEqual(result.returncode, 1)
        self.assertIn("pip-audit: BLOCKED", result.stderr)

    def test_a_known_vulnerability_fails_the_scan(self):
        result = self.scan("reachable")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Found 1 known vulnerability", result.stdout)
        (call,) = self.audit_calls()
        self.assertIn("--strict", call.split())
        self.assertIn("-r requirements.txt -r requirements-dev.txt", call)

    def test_an_accepted_vulnerability_passes_with_its_reason(self):
        self.ignore_file.write_text("GHSA-test-0001  # not our code path; Ops, 2026-11-21\n")
        result = self.scan("reachable")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("--ignore-vuln GHSA-test-0001", self.audit_calls()[0])

    def test_an_accepted_vulnerability_without_a_reason_fails(self):
        self.ignore_file.write_text("GHSA-test-0001\n")
        result = self.scan("reachable")
        self.assertEqual(result.returncode, 1)
        self.assertIn("has no '# reason'", result.stderr)
