"""Bad input never answers 500, and never half-writes (issue "Hardened for patient data").

A property-based test (Hypothesis; strategies and profile in ``admin_ext.tests.fuzz``)
posts random and malformed data to every page the project serves, found as the
permission matrix finds them (``matrix.endpoints()``: the URL resolver and
``admin.site._registry``), for each persona of ``admin_ext.testing`` that may use it:

- add and change forms, share and revoke pages, password and profile forms: the
  page's own form (its real field names, read from the HTML) with fields given
  garbage, mutated, repeated or left out, unknown fields added, inline counts
  crafted, stale or invalid versions, hidden rows' ids, random files;
- changelists: query strings with filters on unknown fields and ``o``/``p``/``q``/
  ``_changelist_filters`` garbage; every action with garbage ``_selected_action``
  (not numbers, hidden ids, thousands of ids) and its intermediate form fuzzed;
- imports: random bytes and malformed CSV/XLSX/ZIP uploads with the page's other
  fields fuzzed; the confirm step of a valid preview with its fields (kept upload
  name, token, format) crafted; the Synthea folder page likewise;
- every other page (history, versions, exports, audit trail, sign-in...): a
  crafted query string and a POST of garbage.

Each request runs in a transaction rolled back afterwards, and must:

- answer below 500 (a raised exception counts as a 500);
- write nothing when it refused the input (a 4xx, or a page showing form errors),
  beyond what the page writes by design on any outcome (sessions, the access
  log's read rows, sign-in events, an import's job record and kept upload);
- when it wrote, write whole: every row written of a model with history passes
  ``full_clean()`` and has a new history row naming the persona.

A page of a kind this module does not know fails ``test_it_knows_how_to_fuzz_every_url``
(add the kind to :data:`KINDS`). Every failure is listed with its falsifying example.
Run more examples with ``FUZZ_EXAMPLES=500`` (``admin_ext/tests/fuzz.py``).
"""

import csv
import io
import logging
import re
import tempfile
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import quote, urlencode

from django.apps import apps
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction
from django.db.models import Max
from django.test import Client, RequestFactory, override_settings
from django.urls import NoReverseMatch, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from hypothesis import given
from hypothesis import strategies as st

from admin_ext.audit.chain import seal
from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access
from admin_ext.audit.tests.test_write_history import history_marks
from admin_ext.imports.services import job_finish, job_start
from admin_ext.testing import PASSWORD
from admin_ext.tests import fuzz, matrix
from admin_ext.tests.matrix import (
    Cell,
    MatrixCase,
    Persona,
    diff,
    endpoints,
    filled,
    main_form,
    parse_forms,
    recording_writes,
    snapshot,
    submitted,
)
from clinic import services
from clinic.models import Patient, PatientShare
from clinic.tests.factories import PatientFactory
from people import roles
from people.models import LoginEvent

#: The personas of ``admin_ext.testing.ClinicTestCase`` and their roles.
PERSONAS = {
    "operator": roles.ADMINISTRATOR,
    "admin": roles.ADMINISTRATOR,
    "front_desk": roles.FRONT_DESK,
    "steward": roles.DATA_STEWARD,
    "auditor": roles.AUDITOR,
    "alice": roles.DOCTOR,
    "bob": roles.DOCTOR,
}

#: Access-log rows any request may write, whatever its outcome: reads (DESIGN.md,
#: "Audit"). An import, a grant or a revoke is written only by a request that succeeded.
READ_ACTIONS = {
    AccessLog.Action.VIEW,
    AccessLog.Action.VIEW_HISTORY,
    AccessLog.Action.SEARCH,
    AccessLog.Action.EXPORT,
    AccessLog.Action.SSN_REVEAL,
    AccessLog.Action.LOGIN,
    AccessLog.Action.LOGIN_FAILED,
    AccessLog.Action.LOGOUT,
}

#: Tables a page writes by design whatever its answer: sign-in records (and a
#: lockout's, django-axes), an import's job record and its kept upload.
SIGN_IN_TABLES = re.compile(rf"^{LoginEvent._meta.db_table}$|^axes_")
IMPORT_TABLES = re.compile(r"^imports_")
NOTHING = re.compile(r"(?!)")


@dataclass(frozen=True)
class Kind:
    """How to fuzz one kind of page (``matrix.Endpoint.kind``).

    ``method``: the test method that fuzzes it; ``side``: tables it may write on any
    answer (:data:`NOTHING`: none); ``share``: the part of the profile's examples it
    gets (read-only pages fewer); ``anonymous``: fuzzed signed out (sign-in, reset).
    """

    method: str
    side: re.Pattern = NOTHING
    share: float = 1.0
    anonymous: bool = False


READ = Kind("fuzz_page", share=0.25)
FORM = Kind("fuzz_form")

#: Every kind of URL and how it is fuzzed. Unknown kinds fail the inventory test.
KINDS = {
    # ModelAdmin pages (Django, simple-history, import-export, UserAdmin, clinic).
    "changelist": Kind("fuzz_changelist"),
    "add": FORM,
    "change": FORM,
    "password_change": FORM,
    "share": FORM,
    "unshare": FORM,
    "import": Kind("fuzz_import", side=IMPORT_TABLES),
    "process_import": Kind("fuzz_process_import", side=IMPORT_TABLES),
    "synthea_import": Kind("fuzz_synthea_import", side=IMPORT_TABLES),
    "export": Kind("fuzz_form", share=0.5),
    "history": READ,
    "simple_history": READ,
    "delete": READ,
    "failed_rows": READ,
    "<path:object_id>/": READ,
    "verify": READ,
    "import_progress": READ,
    "permissions": READ,
    "permissions_manage_user": READ,
    "permissions_manage_group": READ,
    # Site pages.
    "": READ,
    "admin:index": READ,
    "admin:login": Kind("fuzz_form", side=SIGN_IN_TABLES, anonymous=True),
    "admin:logout": Kind("fuzz_page", side=SIGN_IN_TABLES, share=0.25),
    "admin:password_change": FORM,
    "admin_password_change": FORM,
    "admin:password_change_done": READ,
    "my_profile": FORM,
    "profile_photo": READ,
    "admin:jsi18n": READ,
    "admin:autocomplete": READ,
    "admin:view_on_site": READ,
    "admin:app_list": READ,
    "admin:audit_trail": Kind("fuzz_page", share=0.5),
    "admin:audit_trail_export": Kind("fuzz_page", share=0.5),
    "admin/(?P<url>.*)$": READ,
    "admin_password_reset": Kind("fuzz_form", anonymous=True),
    "password_reset_done": Kind("fuzz_page", share=0.25, anonymous=True),
    "password_reset_complete": Kind("fuzz_page", share=0.25, anonymous=True),
    "password_reset_confirm": Kind("fuzz_form", side=NOTHING, anonymous=True),
    # Health checks (GET for load balancers) and two-factor sign-in (django-otp).
    "health_live": READ,
    "health_ready": READ,
    "two_factor": READ,
    "two_factor_verify": Kind("fuzz_form", side=SIGN_IN_TABLES),
    "two_factor_setup": Kind("fuzz_form", side=SIGN_IN_TABLES),
    "reset_two_factor": FORM,
}

#: Site URLs with arguments: how to build a good one for ``user`` (the fuzz varies it).
SITE_ARGS = {
    "admin:app_list": lambda case, user: ("clinic",),
    "admin:view_on_site": lambda case, user: (
        ContentType.objects.get_for_model(Patient).pk,
        case.alice_patient.pk,
    ),
    "profile_photo": lambda case, user: ((user or case.operator).pk,),
    "import_progress": lambda case, user: ("fuzz-progress",),
    "admin/(?P<url>.*)$": lambda case, user: ("no-such-page/",),
    "password_reset_confirm": lambda case, user: (
        urlsafe_base64_encode(force_bytes(case.front_desk.pk)),
        "set-password",
    ),
}


class _Rollback(Exception):
    pass


def refusal(response) -> str:
    """How ``response`` refused the input ("403", "a form error: ..."), or "" if it did not.

    A refusal is a 4xx answer or a page showing Django's form errors (``errornote``,
    ``errorlist``); anything else (a redirect after a save, a popup's answer, a file,
    a page without errors) is not.
    """
    if response.status_code >= 400:
        return str(response.status_code)
    if response.status_code == 200 and not getattr(response, "streaming", False):
        errors = matrix.page_errors(response.text)
        if errors:
            return f"a form error ({errors[:120]})"
    return ""


def _flat(data: dict) -> str:
    """The posted data, short, for a failure message."""
    parts = []
    for name, values in data.items():
        for value in values if isinstance(values, list) else [values]:
            text = value.name if hasattr(value, "name") else str(value)
            parts.append(f"{name}={text[:60]!r}")
    return ", ".join(parts)[:600]


@override_settings(IMPORT_MAX_UPLOAD_BYTES=64 * 1024)
class FuzzAdminTests(MatrixCase):
    """Random and malformed input to every page: no 500, no partial write."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.archived_patient = services.patient_archive(
            patient=PatientFactory(first_name="Ava", last_name="Archer"),
            actor=cls.admin,
            reason="test",
        )
        cls.share = services.patient_share(
            patient=cls.alice_patient, actor=cls.admin, reason="Covering", user=cls.bob
        )
        cls.team = Group.objects.create(name="Night shift")
        LoginEvent.objects.create(kind="failure", email="someone@example.com")
        job = job_start(actor=cls.steward, source="admin", kind="Patients", files=[])
        row = {"file": "p.csv", "row": 2, "headers": ["ssn"], "cells": ["x"], "error": "Row 2"}
        job_finish(job=job, status="refused", failed_rows=[row])
        log_access(action=AccessLog.Action.VIEW, actor=cls.admin, obj=cls.other_patient)
        seal(trigger="fuzz")

    def setUp(self):
        super().setUp()
        # Thousands of refused requests log warnings and security errors with their
        # tracebacks, by design; kept by pytest's log capture, each traceback keeps
        # its request (megabytes of posted data) alive: gigabytes by the end.
        logging.disable(logging.CRITICAL)
        self.addCleanup(logging.disable, logging.NOTSET)
        media = tempfile.TemporaryDirectory()
        self.addCleanup(media.cleanup)
        patcher = override_settings(MEDIA_ROOT=media.name)
        patcher.enable()
        self.addCleanup(patcher.disable)
        self.tables = {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}

    # -- personas -----------------------------------------------------------------

    def persona_named(self, name: str) -> Persona:
        user = getattr(self, name)
        grants = {}
        if name == "alice":
            grants = {("clinic.patient", self.alice_patient.pk): {"view", "change", "share"}}
        return Persona(
            name,
            user,
            frozenset(roles.ROLES[PERSONAS[name]]),
            superuser=user.is_superuser,
            grants=grants,
        )

    def start(self, persona: Persona) -> None:
        super().start(persona)  # signs in as admin_ext.testing does (second factor too)
        self.ids = sorted(
            {self.MISSING, 0}
            | set(Patient._base_manager.values_list("pk", flat=True))
            | set(type(self.operator)._base_manager.values_list("pk", flat=True))
            | set(PatientShare._base_manager.values_list("pk", flat=True))
        )

    def request_for(self, user):
        request = RequestFactory().get("/admin/")
        request.user = user
        return request

    # -- one request, judged ------------------------------------------------------

    def attempt(self, what: str, kind: Kind, send, client=None) -> list[str]:
        """Run ``send(record)`` in a transaction rolled back afterwards; return the problems.

        ``send`` makes the requests through ``record`` (``matrix.Cell``). The last
        response's status, the rows written (every table compared with the
        persona's snapshot) and the access-log rows are judged against ``kind``.
        """
        client = client or self.client
        cookies = {key: morsel.copy() for key, morsel in client.cookies.items()}
        problems = []
        try:
            with transaction.atomic():
                log_mark = AccessLog.objects.aggregate(m=Max("pk"))["m"] or 0
                marks = history_marks()
                with recording_writes() as tables:
                    record = Cell(client)
                    send(record)
                try:
                    changes = diff(self.base, snapshot(tables)) if tables else []
                    problems = self.judge(record, changes, kind, log_mark, marks)
                except DatabaseError as error:  # the view left its transaction broken
                    problems = [f"left the database transaction broken: {error}"]
                raise _Rollback
        except _Rollback:
            pass
        finally:
            client.cookies = SimpleCookie()
            dict.update(client.cookies, cookies)
        return [f"{what}: {p}" for p in problems]

    def judge(self, record, changes, kind: Kind, log_mark: int, marks: dict) -> list:
        """The problems of one attempt: a 500 (or an exception), rows written by a refused
        request outside ``kind.side``, rows written that are not whole (:meth:`whole`),
        access-log rows other than reads after a refusal. ``marks``: the history
        tables' last ids before the request."""
        if record.error:
            return [record.error]
        problems = []
        for response in record.responses:
            if response.status_code >= 500:
                problems.append(f"answered {response.status_code}")
        if problems:
            return problems
        response = record.response
        refused = refusal(response)
        data_changes = [c for c in changes if not kind.side.search(c.table)]
        if data_changes and refused:
            shown = ", ".join(map(str, data_changes[:4]))
            problems.append(f"answered {refused} but wrote {shown}")
        problems += self.whole(data_changes, marks)
        logged = AccessLog.objects.filter(pk__gt=log_mark).exclude(action__in=READ_ACTIONS)
        if refused and logged.exists():
            actions = sorted(set(logged.values_list("action", flat=True)))
            problems.append(f"answered {refused} but logged {actions}")
        return problems

    def whole(self, changes, marks: dict) -> list[str]:
        """Rows written by a successful request: each tracked row clean and in its history."""
        problems = []
        actor = self.persona.user
        for change in changes:
            model = self.tables.get(change.table)
            if model is None or change.kind == "delete" or model._meta.auto_created:
                continue
            if not matrix.is_tracked(model._meta):
                continue  # a history table itself, or a model without history
            obj = model._base_manager.filter(pk=change.pk).first()
            try:
                obj.full_clean()
            except ValidationError as error:
                problems.append(f"wrote {change}, which fails full_clean: {error.messages}")
            history = getattr(model, model._meta.simple_history_manager_attribute)
            rows = history.filter(
                **{model._meta.pk.attname: change.pk},
                history_id__gt=marks.get(history.model, 0),
            )
            if actor is not None and not rows.filter(history_user=actor).exists():
                problems.append(f"wrote {change} without a history row by {actor}")
        return problems

    # -- the hypothesis loop ------------------------------------------------------

    def explore(self, what: str, strategy, run, share: float = 1.0) -> None:
        """Draw examples of ``strategy`` and ``run`` each; a failure (after Hypothesis
        shrinks it) is collected with its example, and the next page goes on."""

        @fuzz.fuzz_settings(share)
        @given(strategy)
        def check(example):
            problems = run(example)
            assert not problems, "\n".join(problems)

        try:
            check()
        except AssertionError as error:
            self.fail_cell(f"{what}: {error}")

    def run_all(self, kinds: set[str]) -> None:
        """Fuzz every endpoint whose kind's method is in ``kinds``, for every persona."""
        selected = [e for e in endpoints() if e.kind in KINDS and KINDS[e.kind].method in kinds]
        self.persona = Persona("inventory")
        for name in PERSONAS:
            self.start(self.persona_named(name))
            for endpoint in selected:
                kind = KINDS[endpoint.kind]
                if kind.anonymous and name != "operator":
                    continue  # a signed-out page: once is enough
                getattr(self, kind.method)(endpoint, kind)
        self.persona = Persona("the personas")
        self.report()

    # -- URLs -----------------------------------------------------------------------

    def good_args(self, endpoint, user):
        """Arguments of a URL the persona may reach, or None (no row to show them)."""
        if endpoint.model_admin is None:
            build = SITE_ARGS.get(endpoint.name or endpoint.route)
            return build(self, user) if build else ()
        count = len(
            re.findall(
                r"<[^>]+>|\(",
                endpoint.route.split(endpoint.model_admin.opts.model_name + "/", 1)[-1],
            )
        )
        if count == 0:
            return ()
        model_admin = endpoint.model_admin
        rows = model_admin.get_queryset(self.request_for(user)).order_by("pk")
        if endpoint.kind == "unshare":
            share = PatientShare.objects.filter(patient__in=rows, revoked_at=None).first()
            return (share.patient_id, share.pk) if share else None
        obj = rows.first()
        if obj is None:
            return None
        if endpoint.kind == "simple_history":
            history = getattr(obj, obj._meta.concrete_model._meta.simple_history_manager_attribute)
            return (obj.pk, history.order_by("-history_id").first().history_id)
        return (obj.pk,)

    def url(self, endpoint, args) -> str:
        """The endpoint's URL with ``args`` ("" when they do not fit its pattern)."""
        if endpoint.name is None and endpoint.model_admin is None:
            # Unnamed site URLs: the root redirect and the admin's catch-all.
            return "/" + endpoint.route.split("(", 1)[0] + "".join(quote(str(a)) for a in args)
        try:
            return endpoint.reverse(*args)
        except NoReverseMatch:
            return ""

    @st.composite
    def fuzzed_args(draw, self, args):
        """``args`` with one of them, at times, replaced by garbage or another row's id."""
        args = list(args)
        if args and draw(st.integers(0, 3)) == 0:
            i = draw(st.integers(0, len(args) - 1))
            args[i] = draw(fuzz.garbage(self.ids))
        return tuple(args)

    # -- kinds ----------------------------------------------------------------------

    def page_client(self, kind: Kind):
        return Client() if kind.anonymous else self.client

    def own_page(self, endpoint, kind, args):
        """The persona's GET of the page: (url, html) when it answers a page, else None."""
        url = self.url(endpoint, args)
        client = self.page_client(kind)
        html = []

        def send(record):
            response = record.send("get", url)
            if response is not None and response.status_code == 200:
                html.append(response.text)

        problems = self.attempt(f"GET {url}", kind, send, client)
        for problem in problems:
            self.fail_cell(problem)
        return (url, html[0]) if html and not problems else None

    def fuzz_page(self, endpoint, kind):
        """A read-only page: GET with a crafted query string, POST garbage; nothing written."""
        user = None if kind.anonymous else self.persona.user
        args = self.good_args(endpoint, user)
        if args is None:
            return
        client = self.page_client(kind)
        fields = self.model_fields(endpoint)

        strategy = st.tuples(
            self.fuzzed_args(args),
            fuzz.query_strings(fields, self.ids),
            st.dictionaries(st.text(min_size=1, max_size=12), fuzz.garbage(self.ids), max_size=3),
        )

        def run(example):
            fuzzed, query, data = example
            url = self.url(endpoint, fuzzed) or self.url(endpoint, args)

            def send(record):
                record.send("get", f"{url}?{urlencode(query)}")
                record.send("post", url, data)

            return self.attempt(
                f"{url} ?{urlencode(query)[:200]} POST {_flat(data)}", kind, send, client
            )

        self.explore(f"{self.persona.name} {endpoint}", strategy, run, kind.share)

    def model_fields(self, endpoint) -> list[str]:
        if endpoint.model_admin is None:
            return ["actor", "model", "object", "action", "date_after", "date_before"]
        return [f.name for f in endpoint.model_admin.opts.get_fields()][:20]

    def base_data(self, endpoint, form) -> dict:
        """What the persona would post: the form as shown, empty required fields filled
        (an add page from the operator's first row, as the permission matrix does)."""
        opts = endpoint.model_admin.opts if endpoint.model_admin else None
        template = None
        if endpoint.kind == "add" and opts is not None:
            row = endpoint.model_admin.model._base_manager.order_by("pk").first()
            if row is not None:
                change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
                reference = main_form(self.reference_page(change))
                template = submitted(reference) if reference else None
        data = filled(form, opts=opts, template=template)
        for name in ("old_password", "password"):
            if name in data:
                data[name] = [PASSWORD]
        return data

    def with_files(self, form, data: dict, draw) -> dict:
        """``data`` with a drawn upload in each file input of ``form``."""
        for control in form.controls:
            if control.type == "file" and control.name:
                name, content = draw(fuzz.uploads(names=("photo.png", "photo.jpg")))
                data[control.name] = SimpleUploadedFile(name, content)
        return data

    def fuzz_form(self, endpoint, kind):
        """A page with a form: its own form, fuzzed; a write only with a success, whole."""
        user = None if kind.anonymous else self.persona.user
        args = self.good_args(endpoint, user)
        if args is None:
            return
        page = self.own_page(endpoint, kind, args)
        if page is None:
            return  # the persona may not use it (the permission matrix checks the refusal)
        url, html = page
        form = main_form(html)
        if form is None:
            return self.fuzz_page(endpoint, kind)
        base = self.base_data(endpoint, form)
        client = self.page_client(kind)

        @st.composite
        def examples(draw):
            fuzzed = draw(self.fuzzed_args(args))
            data = draw(fuzz.form_posts(form, base, self.ids))
            return fuzzed, self.with_files(form, data, draw)

        def run(example):
            fuzzed, data = example
            target = self.url(endpoint, fuzzed) or url

            def send(record):
                record.send("post", target, data)

            return self.attempt(f"POST {target} {_flat(data)}", kind, send, client)

        self.explore(f"{self.persona.name} {endpoint}", examples(), run, kind.share)

    def fuzz_changelist(self, endpoint, kind):
        """A changelist: crafted query strings, then every action with crafted selections
        and intermediate forms."""
        model_admin = endpoint.model_admin
        if not model_admin.has_view_permission(self.request_for(self.persona.user)):
            return
        self.fuzz_page(endpoint, Kind("fuzz_page", share=0.5))
        url = endpoint.reverse()
        actions = sorted(model_admin.get_actions(self.request_for(self.persona.user)))
        visible = list(
            model_admin.get_queryset(self.request_for(self.persona.user))
            .order_by("pk")
            .values_list("pk", flat=True)[:5]
        )
        selection = st.one_of(
            st.lists(st.sampled_from(visible or [self.MISSING]), min_size=1, max_size=3),
            st.lists(fuzz.garbage(self.ids), max_size=4),
            st.integers(900, 1500).map(lambda n: [str(i) for i in range(1, n)]),
        )
        for name in actions + ["no_such_action"]:
            intermediate = self.intermediate_form(url, name, visible)
            base = submitted(intermediate) if intermediate else {}
            if intermediate is not None:
                base = filled(intermediate)

            @st.composite
            def examples(draw, name=name, intermediate=intermediate, base=base):
                selected = [str(v) for v in draw(selection)]
                data = {
                    "action": [name],
                    "_selected_action": selected,
                    "index": [draw(st.sampled_from(["0", "1", "-1", "x"]))],
                    "select_across": [draw(st.sampled_from(["0", "1", "", "2"]))],
                }
                if intermediate is not None:
                    posted = draw(fuzz.form_posts(intermediate, base, self.ids))
                    posted["_selected_action"] = selected
                    data = posted
                return data

            def run(data, name=name):
                def send(record):
                    record.send("post", url, data)

                return self.attempt(f"POST {url} action {name} {_flat(data)}", kind, send)

            self.explore(f"{self.persona.name} {endpoint} action {name}", examples(), run)

    def intermediate_form(self, url, name, visible):
        """The action's own page (assign, share) as the persona gets it, or None."""
        if not visible:
            return None
        found = []

        def send(record):
            data = {"action": [name], "_selected_action": [str(visible[0])], "index": ["0"]}
            response = record.send("post", url, data)
            if response is not None and response.status_code == 200:
                form = main_form(response.text)
                if form and not any(
                    c.name == "action" and c.tag == "select" for c in form.controls
                ):
                    found.append(form)

        for problem in self.attempt(f"POST {url} action {name}", FORM, send):
            self.fail_cell(problem)
        return found[0] if found else None

    # -- imports --------------------------------------------------------------------

    def headers(self, endpoint) -> list[str]:
        """The column names of the admin's import formats (some uploads use them)."""
        names = []
        for resource in endpoint.model_admin.get_import_resource_classes(
            self.request_for(self.operator)
        ):
            names += [f.column_name for f in resource().get_import_fields()]
        return names

    def fuzz_import(self, endpoint, kind):
        """The import page: a malformed upload and its other fields fuzzed. Only the
        import's job record and kept upload may be written: nothing is imported here."""
        if not endpoint.model_admin.has_import_permission(self.request_for(self.persona.user)):
            return
        page = self.own_page(endpoint, kind, ())
        if page is None:
            return
        url, html = page
        form = main_form(html)
        base = filled(form)
        base.pop("import_file", None)
        headers = self.headers(endpoint)

        @st.composite
        def examples(draw):
            data = draw(fuzz.form_posts(form, base, self.ids))
            name, content = draw(fuzz.uploads(headers))
            data["import_file"] = SimpleUploadedFile(name, content)
            return data

        def run(data):
            def send(record):
                record.send("post", url, data)

            # The preview writes no data: nothing may change outside the import tables.
            return self.attempt(
                f"POST {url} {_flat(data)}", Kind("preview", side=IMPORT_TABLES), send
            )

        self.explore(f"{self.persona.name} {endpoint}", examples(), run)

    def valid_file(self, endpoint) -> bytes:
        """A file the import previews cleanly and whose confirm writes: the admin's export
        of its rows (CSV), one free-text cell of each row changed."""
        opts = endpoint.model_admin.opts
        export = reverse(f"admin:{opts.app_label}_{opts.model_name}_export")

        def compute():
            form = main_form(self.reference_page(export))
            with self.cell(self.ref_client) as record:
                response = record.send("post", export, filled(form) if form else {})
            if response is None:
                return b""
            header, *rows = csv.reader(io.StringIO(response.text.lstrip("\ufeff")))
            for row in rows:
                for i, name in enumerate(header):
                    field = matrix.plain_char_field(opts, name)
                    if field is not None and not field.unique:
                        row[i] = matrix.new_text(field, row[i])
                        break
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows([header, *rows])
            return out.getvalue().encode()

        return self.reference(("fuzz-export", opts.label), compute)

    def fuzz_process_import(self, endpoint, kind):
        """The confirm step: a valid preview, then its confirm form with fields crafted
        (kept upload name, token, format, resource, unknown fields)."""
        model_admin = endpoint.model_admin
        if not model_admin.has_import_permission(self.request_for(self.persona.user)):
            return
        opts = model_admin.opts
        import_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_import")
        upload_form = main_form(self.reference_page(import_url))
        content = self.valid_file(endpoint)
        url = endpoint.reverse()

        def preview(record):
            data = filled(upload_form)
            data["import_file"] = SimpleUploadedFile("fuzz.csv", content, content_type="text/csv")
            response = record.send("post", import_url, data)
            forms = [
                f
                for f in parse_forms(response.text if response is not None else "")
                if f.action.split("?")[0] == url
            ]
            return forms[0] if forms else None

        # The confirm form's field names, from one preview (rolled back).
        shape = []
        self.attempt(f"POST {import_url}", kind, lambda record: shape.append(preview(record)))
        confirm = shape[0] if shape else None
        if confirm is None:
            self.fail_cell(f"{self.persona.name} {import_url}: no confirm form for a valid file")
            return

        def run(fuzzed):
            def send(record):
                form = preview(record)
                data = submitted(form) if form else {}
                for name, values in fuzzed.items():
                    if name.startswith("-"):
                        data.pop(name[1:], None)
                    else:
                        data[name] = values
                record.send("post", url, data)

            return self.attempt(f"POST {url} {_flat(fuzzed)}", kind, send)

        @st.composite
        def examples(draw):
            # Only the changed fields: the live token is the preview's own, made per example.
            base = submitted(confirm)
            posted = draw(fuzz.form_posts(confirm, base, self.ids))
            changed = {k: v for k, v in posted.items() if base.get(k) != v}
            for name in base.keys() - posted.keys():
                changed["-" + name] = []
            return changed

        self.explore(f"{self.persona.name} {endpoint}", examples(), run)

    def fuzz_synthea_import(self, endpoint, kind):
        """The Synthea folder page: malformed folders (CSV, ZIP, random), and the confirm
        step with a crafted token."""
        page = self.own_page(endpoint, kind, ())
        if page is None:
            return
        url, html = page
        form = main_form(html)
        base = filled(form)
        names = (
            "patients.csv",
            "providers.csv",
            "organizations.csv",
            "encounters.csv",
            "synthea.zip",
        )

        @st.composite
        def examples(draw):
            data = draw(fuzz.form_posts(form, base, self.ids))
            files = draw(
                st.lists(fuzz.uploads(("Id", "NAME", "BIRTHDATE", "SSN"), names), max_size=3)
            )
            data["files"] = [SimpleUploadedFile(n, c) for n, c in files]
            if draw(st.integers(0, 3)) == 0:
                data.update(step=["confirm"], token=[draw(fuzz.garbage(self.ids))])
            return data

        def run(data):
            def send(record):
                record.send("post", url, data)

            return self.attempt(f"POST {url} {_flat(data)}", kind, send)

        self.explore(f"{self.persona.name} {endpoint}", examples(), run)

    # -- the tests --------------------------------------------------------------------

    def test_it_knows_how_to_fuzz_every_url(self):
        self.persona = Persona("the inventory of URLs")
        for endpoint in endpoints():
            if endpoint.kind not in KINDS:
                self.fail_cell(
                    f"{endpoint} ({endpoint.route}) is a URL this test cannot fuzz: add its "
                    f"kind {endpoint.kind!r} to KINDS in {__name__} with how to fuzz it"
                )
            elif (
                endpoint.model_admin is None
                and self.good_args(endpoint, None) == ()
                and (re.search(r"<|\(", endpoint.route))
            ):
                self.fail_cell(f"{endpoint}: add how to build its URL to SITE_ARGS")
        self.report()

    def test_add_and_change_forms_answer_bad_input_without_500_or_partial_write(self):
        self.run_all({"fuzz_form"})

    def test_changelists_and_actions_answer_bad_input_without_500_or_partial_write(self):
        self.run_all({"fuzz_changelist"})

    def test_imports_answer_bad_files_without_500_or_partial_write(self):
        self.run_all({"fuzz_import", "fuzz_process_import", "fuzz_synthea_import"})

    def test_other_pages_answer_bad_input_without_500_or_writes(self):
        self.run_all({"fuzz_page"})
