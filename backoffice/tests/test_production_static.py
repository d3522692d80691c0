"""Production static files: collectstatic, WhiteNoise's manifest storage, jazzmin.

With ``DEBUG=False`` every ``{% static %}`` URL comes from the manifest that
``collectstatic`` writes. jazzmin 3.0.5 asks ``static`` for a directory
(``vendor/bootswatch``, issue #684), which the stock manifest storage cannot
resolve; ``backoffice.storage.ManifestStaticFilesStorage`` works around it.
"""

import re
import shutil
import tempfile

from django.contrib import admin
from django.core.management import call_command
from django.test import RequestFactory, TestCase, override_settings
from django.urls import reverse

from people.services import user_create
from people.two_factor.testing import sign_in

STOCK_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
OUR_STORAGE = "backoffice.storage.ManifestStaticFilesStorage"


def _storages(backend: str) -> dict:
    return {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": backend},
    }


class CollectedStaticTestCase(TestCase):
    """Runs ``collectstatic`` with the production storage into a temporary STATIC_ROOT.

    Tests run with ``DEBUG=False`` (Django's test runner forces it), so ``static``
    resolves names through the manifest exactly as in production.
    """

    storage_backend = OUR_STORAGE

    @classmethod
    def setUpClass(cls):
        cls.static_root = tempfile.mkdtemp(prefix="backoffice-static-")
        cls.addClassCleanup(shutil.rmtree, cls.static_root, ignore_errors=True)
        cls.enterClassContext(
            override_settings(
                STATIC_ROOT=cls.static_root,
                STORAGES=_storages(OUR_STORAGE),
                DEBUG=False,
            )
        )
        call_command("collectstatic", interactive=False, verbosity=0)
        if cls.storage_backend != OUR_STORAGE:
            cls.enterClassContext(override_settings(STORAGES=_storages(cls.storage_backend)))
        super().setUpClass()

    @classmethod
    def setUpTestData(cls):
        cls.operator = user_create(
            email="operator@example.com",
            password="password",
            actor=None,
            reason="test",
            is_superuser=True,
        )


class StockManifestStorageTests(CollectedStaticTestCase):
    """jazzmin issue #684, reproduced with the stock WhiteNoise storage.

    If this test starts failing after a jazzmin upgrade, the upstream bug is fixed
    and ``backoffice/storage.py`` can go back to the stock storage.
    """

    storage_backend = STOCK_STORAGE

    def test_it_fails_every_admin_page_on_jazzmins_directory_url(self):
        sign_in(self.client, self.operator)
        with self.assertRaisesMessage(
            ValueError, "Missing staticfiles manifest entry for 'vendor/bootswatch'"
        ):
            self.client.get(reverse("admin:index"))


class ProductionStaticTests(CollectedStaticTestCase):
    """With our storage the admin renders and its static URLs are served."""

    def test_it_serves_the_login_page(self):
        response = self.client.get(reverse("admin:login"))
        self.assertEqual(response.status_code, 200)

    def test_it_links_hashed_stylesheets(self):
        sign_in(self.client, self.operator)
        response = self.client.get(reverse("admin:index"))
        self.assertEqual(response.status_code, 200)
        # adminlte.min.css is linked under its content-hashed name (cacheable forever).
        self.assertRegex(
            response.content.decode(),
            r"/static/vendor/adminlte/css/adminlte\.min\.[0-9a-f]{12}\.css",
        )

    def test_it_serves_the_theme_that_jazzmins_theme_chooser_builds(self):
        sign_in(self.client, self.operator)
        page = self.client.get(reverse("admin:index")).content.decode()
        base = re.search(r'data-theme-base="([^"]+)"', page).group(1)
        self.assertEqual(base, "/static/vendor/bootswatch")
        # jazzmin's JavaScript appends "/<theme>/bootstrap.min.css" to the base.
        response = self.client.get(f"{base}/darkly/bootstrap.min.css")
        self.assertEqual(response.status_code, 200)
        self.assertIn("text/css", response["Content-Type"])

    def test_it_still_refuses_a_static_file_that_was_not_collected(self):
        from django.templatetags.static import static

        with self.assertRaisesMessage(ValueError, "no/such/file.css"):
            static("no/such/file.css")


class ProductionAdminPagesTests(CollectedStaticTestCase):
    """Every registered admin changelist and add page answers 200 for a superuser."""

    def _admin_urls(self):
        """Yield (URL name, URL) for each registered model's changelist and add page.

        The add page is skipped where the ModelAdmin itself refuses adding (the
        audit views are read-only), since that page is a 403 by design.
        """
        request = RequestFactory().get("/admin/")
        request.user = self.operator
        for model, model_admin in admin.site._registry.items():
            prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
            yield f"{prefix}_changelist", reverse(f"{prefix}_changelist")
            if model_admin.has_add_permission(request):
                yield f"{prefix}_add", reverse(f"{prefix}_add")

    def test_it_answers_200_on_every_changelist_and_add_page(self):
        sign_in(self.client, self.operator)
        urls = [("admin:index", reverse("admin:index")), *self._admin_urls()]
        self.assertGreater(len(urls), 5)
        for name, url in urls:
            with self.subTest(page=name):
                self.assertEqual(self.client.get(url).status_code, 200)
