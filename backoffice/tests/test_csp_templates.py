"""Our templates run no script that CONTENT_SECURITY_POLICY refuses, and the library
templates copied whole to add a nonce still match the library.

The policy's script-src is ``'self'`` plus the response's nonce: an inline ``<script>``
must carry ``nonce="{{ request.csp_nonce }}"``, and an event-handler attribute
(``onclick="..."``) or a ``javascript:`` URL cannot run at all (a nonce cannot be put on
an attribute). The browser test (admin_ext/tests/test_browser_csp.py) sees what is
rendered; this one names the template line before anything is rendered.
"""

import re
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.test import SimpleTestCase

NONCE_ATTRIBUTE = ' nonce="{{ request.csp_nonce }}"'
#: An opening script tag without src (inline code); JSON data blocks do not run.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.I)
#: Library templates copied whole (their inline scripts are outside any block).
COPIED = ["admin/base.html", "registration/base.html"]
JAZZMIN_TEMPLATES = Path(apps.get_app_config("jazzmin").path) / "templates"


def project_templates() -> list[Path]:
    """Every template of this project: TEMPLATES' DIRS and our apps' templates/."""
    base = Path(settings.BASE_DIR)
    folders = [Path(folder) for folder in settings.TEMPLATES[0]["DIRS"]]
    folders += [
        Path(config.path) / "templates"
        for config in apps.get_app_configs()
        if Path(config.path).is_relative_to(base) and ".venv" not in Path(config.path).parts
    ]
    return sorted(path for folder in folders for path in folder.rglob("*.html"))


class InlineScriptTests(SimpleTestCase):
    def test_it_finds_the_project_templates(self):
        names = {path.relative_to(settings.BASE_DIR).as_posix() for path in project_templates()}
        self.assertIn("templates/admin/base.html", names)
        self.assertIn("admin_ext/templates/admin_ext/filterset_filter.html", names)

    def test_it_puts_the_nonce_on_every_inline_script(self):
        for path in project_templates():
            for tag in INLINE_SCRIPT.findall(path.read_text()):
                with self.subTest(template=str(path)):
                    self.assertIn(NONCE_ATTRIBUTE.strip(), tag)

    def test_it_has_no_event_handler_attribute_or_javascript_url(self):
        for path in project_templates():
            text = path.read_text()
            with self.subTest(template=str(path)):
                self.assertIsNone(EVENT_HANDLER.search(text))
                self.assertIsNone(JAVASCRIPT_URL.search(text))

    def test_its_patterns_catch_what_the_policy_refuses(self):
        self.assertTrue(INLINE_SCRIPT.search("<script>alert(1)</script>"))
        self.assertFalse(INLINE_SCRIPT.search('<script src="/static/a.js"></script>'))
        self.assertFalse(INLINE_SCRIPT.search('<script type="application/json">{}</script>'))
        self.assertTrue(EVENT_HANDLER.search('<input type="checkbox" onchange="go(event)">'))
        self.assertFalse(EVENT_HANDLER.search('<input name="online" data-on="1">'))
        self.assertTrue(JAVASCRIPT_URL.search('<a href="javascript:void(0)">'))


class CopiedTemplateTests(SimpleTestCase):
    """If one of these fails after a jazzmin upgrade, copy its new template again and
    put the nonce on each inline script (see the copy's first lines)."""

    def test_each_copy_is_jazzmins_template_plus_nonces(self):
        for name in COPIED:
            with self.subTest(template=name):
                ours = (Path(settings.BASE_DIR) / "templates" / name).read_text()
                self.assertIn(NONCE_ATTRIBUTE, ours)
                # The copy's own comment lines first, then jazzmin's text.
                body = re.sub(r"\A(\{#.*#\}\n)+", "", ours).replace(NONCE_ATTRIBUTE, "")
                self.assertEqual(body, (JAZZMIN_TEMPLATES / name).read_text())
