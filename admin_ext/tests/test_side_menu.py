"""The side menu, top menu and user menu per role (issue 8, item 1).

The side menu is the admin's app list regrouped into sections (``admin_ext.site``,
``admin_ext.jazzmin.SECTIONS``): each role sees the sections and entries it may
use, and every entry it sees opens for it.
"""

import re

from django.urls import reverse

from admin_ext.testing import ClinicTestCase

FRONT_DESK_MENU = {
    "Patients": ["Patients", "Unassigned patients", "Archived patients"],
    "Doctors and sites": ["Doctors", "Organizations"],
}
IMPORT_LINKS = [
    "Import Synthea folder",
    "Import patients",
    "Import doctors",
    "Import organizations",
]
AUDIT_ALL = ["Audit trail", "Access log", "Import jobs", "Audit seals"]


def side_menu(html: str) -> dict[str, list[tuple[str, str, str]]]:
    """The sidebar's sections: ``{section: [(entry, url, icon classes), ...]}``."""
    start = html.index('id="jazzy-navigation"')
    nav = html[start : html.index("</nav>", start)]
    menu, section = {}, None
    pattern = (
        r'<li class="nav-header">(?P<header>[^<]+)</li>'
        r'|<a href="(?P<url>[^"]+)" class="nav-link">\s*<i class="nav-icon (?P<icon>[^"]+)">'
        r"</i>\s*<p>(?P<name>[^<]+)</p>"
    )
    for match in re.finditer(pattern, nav):
        if match["header"]:
            section = match["header"].strip()
            menu[section] = []
        elif section is not None:
            menu[section].append((match["name"].strip(), match["url"], match["icon"]))
    return menu


def names(menu) -> dict[str, list[str]]:
    return {section: [name for name, _url, _icon in entries] for section, entries in menu.items()}


class SideMenuTests(ClinicTestCase):
    def menu_of(self, user):
        self.login(user)
        response = self.client.get(reverse("admin:index"))
        self.assertEqual(response.status_code, 200)
        return side_menu(response.content.decode())

    def assert_every_entry_opens(self, user, menu):
        for section, entries in menu.items():
            for name, url, _icon in entries:
                with self.subTest(section=section, entry=name):
                    self.assertEqual(self.client.get(url).status_code, 200, url)

    def test_it_gives_the_front_desk_patients_and_doctors(self):
        menu = self.menu_of(self.front_desk)
        self.assertEqual(names(menu), FRONT_DESK_MENU)
        self.assert_every_entry_opens(self.front_desk, menu)

    def test_it_gives_a_doctor_their_patients_and_their_audit_trail(self):
        menu = self.menu_of(self.alice)
        self.assertEqual(
            names(menu),
            {
                "Patients": ["Patients"],
                "Doctors and sites": ["Doctors", "Organizations"],
                "Audit": ["Audit trail"],
            },
        )
        self.assert_every_entry_opens(self.alice, menu)

    def test_it_leaves_patients_out_for_a_doctor_without_any(self):
        self.assertNotIn("Patients", self.menu_of(self.bob))

    def test_it_gives_the_steward_imports_but_no_audit_or_administration(self):
        menu = self.menu_of(self.steward)
        self.assertEqual(
            names(menu),
            {**FRONT_DESK_MENU, "Imports": ["Import jobs", *IMPORT_LINKS]},
        )
        self.assert_every_entry_opens(self.steward, menu)

    def test_it_gives_the_auditor_audit_and_administration_but_no_import_links(self):
        menu = self.menu_of(self.auditor)
        self.assertEqual(
            names(menu),
            {
                **FRONT_DESK_MENU,
                "Imports": ["Import jobs"],
                "Audit": AUDIT_ALL,
                # Access attempts: django-axes' sign-in lockouts (people.lockout_admin).
                "Administration": ["Users", "Groups", "Login events", "Access attempts"],
            },
        )
        self.assert_every_entry_opens(self.auditor, menu)

    def test_it_gives_the_administrator_every_section(self):
        menu = self.menu_of(self.admin)
        self.assertEqual(
            list(menu), ["Patients", "Doctors and sites", "Imports", "Audit", "Administration"]
        )
        self.assertEqual(names(menu)["Imports"], ["Import jobs", *IMPORT_LINKS])
        self.assertEqual(names(menu)["Audit"], AUDIT_ALL)
        self.assertEqual(
            names(menu)["Administration"], ["Users", "Groups", "Login events", "Access attempts"]
        )
        self.assert_every_entry_opens(self.admin, menu)

    def test_it_draws_each_entry_with_its_icon(self):
        icons = {
            name: icon
            for entries in self.menu_of(self.admin).values()
            for name, _u, icon in entries
        }
        self.assertEqual(icons["Patients"], "fas fa-user-injured")
        self.assertEqual(icons["Unassigned patients"], "fas fa-user-clock")
        self.assertEqual(icons["Organizations"], "fas fa-hospital")
        self.assertEqual(icons["Users"], "fas fa-user")
        self.assertEqual(icons["Audit trail"], "fas fa-stream")

    def test_it_keeps_an_app_page_to_its_own_app(self):
        # The sections regroup the menu only; /admin/clinic/ still lists the clinic app.
        self.login(self.admin)
        response = self.client.get(reverse("admin:app_list", args=["clinic"]))
        self.assertEqual(response.status_code, 200)
        self.assertEqual([app["app_label"] for app in response.context["app_list"]], ["clinic"])


class TopAndUserMenuTests(ClinicTestCase):
    def page(self, user):
        self.login(user)
        return self.client.get(reverse("admin:index")).content.decode()

    def top_menu(self, html):
        navbar = html[html.index('id="jazzy-navbar"') : html.index('id="jazzy-usermenu"')]
        return re.findall(r'<a href="([^"]+)" class="nav-link"\s*>([^<]+)</a>', navbar)

    def test_it_gives_a_doctor_a_patients_link_that_opens_their_list(self):
        links = dict((name.strip(), url) for url, name in self.top_menu(self.page(self.alice)))
        self.assertEqual(links["Patients"], reverse("admin:clinic_patient_changelist"))
        response = self.client.get(links["Patients"])
        self.assertContains(response, self.alice_patient.last_name)

    def test_it_searches_patients_from_the_top_bar(self):
        html = self.page(self.front_desk)
        forms = re.findall(r'<form action="([^"]+)" method="GET" class="d-flex ms-2">', html)
        self.assertEqual(forms, [reverse("admin:clinic_patient_changelist")])
        self.assertIn('placeholder="Search Patients..."', html)
        response = self.client.get(forms[0], {"q": self.other_patient.last_name})
        self.assertContains(response, self.other_patient.mrn)

    def test_it_offers_my_profile_and_password_change_to_every_role(self):
        for user in (self.front_desk, self.alice, self.steward, self.auditor, self.admin):
            with self.subTest(user=user.email):
                html = self.page(user)
                start = html.index('id="jazzy-usermenu"')
                menu = html[start : html.index("</li>", start)]
                self.assertIn(f'href="{reverse("my_profile")}"', menu)
                self.assertIn("My profile", menu)
                self.assertIn(f'href="{reverse("admin:password_change")}"', menu)

    def test_it_shows_the_users_photo_as_the_avatar(self):
        html = self.page(self.alice)
        self.assertIn(f'src="{reverse("profile_photo", args=[self.alice.pk])}"', html)

    def test_it_names_the_product_and_shows_its_logo(self):
        html = self.page(self.front_desk)
        self.assertIn('<span class="brand-text fw-light">Clinic back office</span>', html)
        self.assertIn("/static/admin_ext/logo.svg", html)
        self.assertNotIn("AdminLTELogo", html)
