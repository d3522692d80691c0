"""The "Audit" section of the side menu, per role (issue 7, item 6).

"The Auditor role ... its menu shows an 'Audit' section (trail, access log, import
jobs, seals). Doctors see the history and access log of their own patients only":
a doctor's Audit section holds the trail alone. Read from the rendered admin index,
as a user sees it.
"""

import re

from django.urls import reverse

from admin_ext.testing import ClinicTestCase

TRAIL = reverse("admin:audit_trail")
ACCESS_LOG = reverse("admin:audit_accesslog_changelist")
IMPORT_JOBS = reverse("admin:imports_importjob_changelist")
SEALS = reverse("admin:audit_auditseal_changelist")


def sidebar(html: str) -> str:
    """The side menu's HTML (jazzmin's ``jazzy-navigation``, expanded: a heading per app)."""
    start = html.index('id="jazzy-navigation"')
    return html[start : html.index("</nav>", start)]


def audit_section(html: str) -> list[str]:
    """The links under the side menu's "Audit" heading, in order ([] without one)."""
    menu = sidebar(html)
    match = re.search(
        r'<li class="nav-header">\s*Audit\s*</li>(.*?)(?:<li class="nav-header">|$)', menu, re.S
    )
    return re.findall(r'href="([^"]+)"', match.group(1)) if match else []


class AuditMenuTests(ClinicTestCase):
    def menu(self, user) -> list[str]:
        self.login(user)
        response = self.client.get(reverse("admin:index"))
        assert response.status_code == 200
        return audit_section(response.content.decode())

    def test_an_auditor_has_the_whole_audit_section_in_order(self):
        assert self.menu(self.auditor) == [TRAIL, ACCESS_LOG, IMPORT_JOBS, SEALS]

    def test_an_administrator_and_the_operator_have_it_too(self):
        for user in (self.admin, self.operator):
            with self.subTest(user=user.email):
                assert self.menu(user) == [TRAIL, ACCESS_LOG, IMPORT_JOBS, SEALS]

    def test_a_doctor_has_the_trail_only(self):
        for user in (self.alice, self.bob):
            with self.subTest(user=user.email):
                assert self.menu(user) == [TRAIL]

    def test_front_desk_and_stewards_have_no_audit_section(self):
        for user in (self.front_desk, self.steward):
            with self.subTest(user=user.email):
                assert self.menu(user) == []

    def test_a_steward_keeps_her_import_jobs(self):
        self.login(self.steward)
        html = sidebar(self.client.get(reverse("admin:index")).content.decode())
        assert f'href="{IMPORT_JOBS}"' in html
        assert f'href="{TRAIL}"' not in html and f'href="{ACCESS_LOG}"' not in html

    def test_every_menu_link_opens_for_whoever_sees_it(self):
        for user in (self.auditor, self.admin, self.alice, self.steward):
            for url in self.menu(user):
                with self.subTest(user=user.email, url=url):
                    assert self.client.get(url).status_code == 200
