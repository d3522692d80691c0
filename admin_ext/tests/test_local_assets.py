"""Every asset a page loads is ours (issue 8, item 1): no font, script, style or image
from a third party, which would leak staff activity to it and break offline; and the
login page and the changelist's selection counter read right."""

import re

from django.contrib.staticfiles import finders
from django.test import TestCase
from django.urls import reverse

from admin_ext.testing import ClinicTestCase
from clinic.tests.factories import PatientFactory

#: Attributes that make the browser fetch something, in the tags that carry them.
ASSET = re.compile(
    r"<(link|script|img|iframe|source)\b[^>]*?\b(href|src|srcset)=\"([^\"]*)\"", re.I
)


def third_party_assets(html: str) -> list[str]:
    """The asset URLs of a page that point away from this site (absolute or scheme-relative)."""
    return [
        f"<{tag} {attr}={url}>"
        for tag, attr, url in ASSET.findall(html)
        if re.match(r"^(https?:)?//", url.strip(), re.I)
    ]


class LocalAssetsTests(ClinicTestCase):
    def pages_of(self, user) -> list[str]:
        pages = [
            reverse("admin:index"),
            reverse("my_profile"),
            reverse("admin:password_change"),
            reverse("admin:clinic_doctor_changelist"),
        ]
        if user.has_perm("clinic.view_patient") or user == self.alice:
            pages.append(reverse("admin:clinic_patient_changelist"))
        if user.has_perm("clinic.add_patient"):
            pages.append(reverse("admin:clinic_patient_add"))
        if user.has_perm("clinic.export_patient"):
            pages.append(reverse("admin:clinic_patient_export"))
        if user == self.alice or user.has_perm("clinic.view_patient"):
            pages.append(reverse("admin:clinic_patient_change", args=[self.alice_patient.pk]))
        if user.has_perm("audit.view_accesslog"):
            pages.append(reverse("admin:audit_trail"))
        if user.has_perm("people.view_user"):
            pages.append(reverse("admin:people_user_change", args=[user.pk]))
        return pages

    def test_it_loads_nothing_from_a_third_party_on_any_role_page(self):
        for user in (self.front_desk, self.alice, self.steward, self.auditor, self.admin):
            self.login(user)
            for url in self.pages_of(user):
                with self.subTest(user=user.email, url=url):
                    response = self.client.get(url)
                    self.assertEqual(response.status_code, 200)
                    html = response.content.decode()
                    self.assertEqual(third_party_assets(html), [])
                    self.assertNotIn("fonts.googleapis.com", html)
                    self.assertIn("/static/admin_ext/backoffice.css", html)

    def test_it_loads_nothing_from_a_third_party_before_sign_in(self):
        for url in (reverse("admin:login"), reverse("admin_password_reset")):
            with self.subTest(url=url):
                html = self.client.get(url).content.decode()
                self.assertEqual(third_party_assets(html), [])
                self.assertNotIn("fonts.googleapis.com", html)

    def test_its_policy_lets_the_browser_fetch_from_no_other_host(self):
        # What the HTML scan above might miss (a URL built by a script, a CSS import),
        # the browser refuses: every fetch directive names only this site or data:.
        self.login(self.admin)
        for url in (reverse("admin:login"), *self.pages_of(self.admin)):
            with self.subTest(url=url):
                header = self.client.get(url)["Content-Security-Policy"]
                sources = {s for part in header.split(";") for s in part.split()[1:]}
                self.assertIn("'self'", sources)
                allowed = {"'self'", "'none'", "'unsafe-inline'", "data:"}
                self.assertEqual(
                    {s for s in sources if not s.startswith("'nonce-")} - allowed, set()
                )

    def test_it_finds_a_third_party_asset_when_there_is_one(self):
        # The check itself: a CDN font link is caught, a local one is not.
        html = (
            '<link href="https://fonts.googleapis.com/css?family=X" rel="stylesheet">'
            '<script src="//cdn.example.com/x.js"></script><img src="/static/a.svg">'
        )
        self.assertEqual(len(third_party_assets(html)), 2)

    def test_it_uses_a_system_font_stack_from_its_own_stylesheet(self):
        path = finders.find("admin_ext/backoffice.css")
        self.assertIsNotNone(path)
        with open(path, encoding="utf-8") as css:
            text = css.read()
        self.assertIn("--bs-font-sans-serif: system-ui", text)
        self.assertIsNone(re.search(r"url\(\s*['\"]?(https?:)?//", text))


class LoginPageTests(TestCase):
    def test_it_offers_a_password_reset_without_mentioning_a_username(self):
        response = self.client.get(reverse("admin:login"))
        self.assertContains(response, "Forgotten your password?")
        self.assertNotContains(response, "or username")
        self.assertContains(response, f'href="{reverse("admin_password_reset")}"')

    def test_it_asks_for_the_email_address(self):
        response = self.client.get(reverse("admin:login"))
        self.assertContains(response, 'type="email" name="username"')
        self.assertContains(response, 'placeholder="Email address"')
        self.assertContains(response, 'autocomplete="username"')

    def test_it_keeps_the_typed_email_after_a_failed_sign_in(self):
        response = self.client.post(
            reverse("admin:login"), {"username": "someone@example.com", "password": "wrong"}
        )
        self.assertContains(response, 'value="someone@example.com"')


class SelectionCounterTests(ClinicTestCase):
    def test_it_hides_the_select_all_parts_until_the_page_is_ticked(self):
        # Django's actions.js shows "All N selected" and "Select all N" by removing the
        # class "hidden"; the stylesheet hides that class (jazzmin's CSS does not).
        PatientFactory.create_batch(50)  # more than a page
        self.login(self.front_desk)
        html = self.client.get(reverse("admin:clinic_patient_changelist")).content.decode()
        self.assertRegex(html, r'<span class="action-counter"[^>]*>0 of 50 selected</span>')
        self.assertIn('<span class="all hidden">', html)
        self.assertIn('<span class="question hidden">', html)
        with open(finders.find("admin_ext/backoffice.css"), encoding="utf-8") as css:
            self.assertRegex(css.read(), r"\.hidden\s*\{\s*display:\s*none\s*!important;")
