"""The permission matrix (issue 5, item 10; STYLE.md point 12).

Every URL the project serves, found in the URL resolver and the admin registry, is
asked for by every persona (anonymous, a staff user without a role, each role, the
operator, Dr. Alice with her patient and Dr. Bob with none), with GET and with POST
of the page's own form, some field changed. Each cell checks:

- the answer the oracle gives (``admin_ext/tests/matrix.py``: DESIGN.md's role
  table, ``people/roles.py`` and the fixture's object grants, never the admin's
  own permission hooks);
- the writes: nothing is written without the matching permission (every table is
  compared), forbidden columns stay as they were, and a permitted save does write;
- a hidden object answers exactly as a missing id does;
- no page, file or JSON shows a patient the persona may not see, nor an SSN it
  may not read.

A URL, ModelAdmin or action registered later is covered as it comes: its kind of
page (``KINDS``) says how to fill and judge it. A URL of a new kind fails
``test_it_knows_how_to_fill_every_url`` with what to add here. Every failing cell is
listed in the failure message, one per line.
"""

import csv
import io
import re
import uuid
from urllib.parse import urlencode

from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from admin_ext.audit.chain import seal
from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access
from admin_ext.imports.services import job_finish, job_start
from admin_ext.imports.views import ImportProgress, progress_key
from admin_ext.testing import PASSWORD
from admin_ext.tests import matrix
from admin_ext.tests.matrix import (
    MatrixCase,
    Persona,
    Write,
    change_one,
    endpoints,
    filled,
    forbidden_columns,
    main_form,
    may,
    may_export,
    may_import,
    outcome,
    submitted,
)
from clinic import services
from clinic.models import PatientShare
from clinic.tests.factories import PatientFactory
from people import roles
from people.models import LoginEvent, Profile, User
from people.services import user_create
from people.tests.factories import UserFactory
from people.two_factor import authenticator

#: How a missing object may answer: Django's "doesn't exist" redirect to the index,
#: 403 (Django asks for the permission before looking the object up), 404, or 405
#: (a read-only page refuses a POST before looking).
MISSING_ANSWERS = {"index", "denied", "404", "405"}

#: Permissions of actions that declare none themselves (import-export adds "Export
#: selected" in get_actions, gated by has_export_permission). Every other action
#: must declare ``permissions=[...]`` (STYLE.md, Django).
ACTION_PERMISSIONS = {"export_admin_action": ("export",)}


class PermissionMatrixTests(MatrixCase):
    """Who gets what on every page, and who writes what, for every persona."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.nobody = UserFactory(email="matrix-norole@example.com")  # staff, no role
        cls.archived_patient = PatientFactory(first_name="Ava", last_name="Archer")
        services.patient_archive(patient=cls.archived_patient, actor=cls.admin, reason="test")
        cls.carol = UserFactory(email="carol@example.com")  # a covering colleague
        cls.share = services.patient_share(
            patient=cls.alice_patient, actor=cls.admin, reason="Covering", user=cls.carol
        )
        cls.login_event = LoginEvent.objects.create(kind="failure", email="someone@example.com")
        # A sign-in lockout (django-axes) to see and unlock, and an invited user who has
        # not set a password yet (the "Send the invitation again" action).
        cls.attempt = AccessAttempt.objects.create(
            username="someone@example.com",
            ip_address="203.0.113.5",
            user_agent="Matrix",
            failures_since_start=5,
        )
        cls.invited = user_create(
            email="invited@example.com", password=None, actor=None, reason="test"
        )
        cls.team = Group.objects.create(name="Night shift")  # a group that is not a role
        cls.steward_job = cls._import_job(cls.steward)
        cls.admin_job = cls._import_job(cls.admin)
        # Issue 7: access-log rows about a patient Alice sees and one she does not,
        # and a seal over everything so far.
        cls.access_rows = [
            log_access(action=AccessLog.Action.VIEW, actor=cls.admin, obj=patient)
            for patient in (cls.alice_patient, cls.other_patient)
        ]
        (cls.seal,) = seal(trigger="matrix")

    @staticmethod
    def _import_job(actor):
        """A refused import job by ``actor`` with one failed row (for the job pages)."""
        job = job_start(actor=actor, source="admin", kind="Patients", files=[])
        return job_finish(
            job=job,
            status="refused",
            failed_rows=[
                {
                    "file": "p.csv",
                    "row": 2,
                    "headers": ["external_id", "ssn"],
                    "cells": ["x", "999-12-3456"],
                    "error": "Row 2: bad",
                }
            ],
        )

    # -- the personas and the fixture's rows ------------------------------------------

    def personas(self) -> dict[str, Persona]:
        def role(name):
            return frozenset(roles.ROLES[name])

        return {
            "anonymous": Persona("anonymous visitor"),
            "norole": Persona("staff without a role", self.nobody),
            "operator": Persona("operator (superuser)", self.operator, superuser=True),
            "admin": Persona("administrator", self.admin, role(roles.ADMINISTRATOR)),
            "front_desk": Persona("front desk", self.front_desk, role(roles.FRONT_DESK)),
            "steward": Persona("data steward", self.steward, role(roles.DATA_STEWARD)),
            "auditor": Persona("auditor", self.auditor, role(roles.AUDITOR)),
            # Alice is her patient's primary doctor: view and change it, and share
            # it with a colleague (DESIGN.md "Permissions", issue 5 item 11).
            "alice": Persona(
                "Dr. Alice",
                self.alice,
                role(roles.DOCTOR),
                grants={("clinic.patient", self.alice_patient.pk): {"view", "change", "share"}},
            ),
            "bob": Persona("Dr. Bob", self.bob, role(roles.DOCTOR)),
        }

    def memoized(self, key, compute):
        """``compute()`` once per persona."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    def representatives(self, opts) -> list:
        """The rows whose pages the matrix asks for, for a model (its first row if unknown)."""
        return self.memoized(("rows", opts.label), lambda: self._representatives(opts))

    def _representatives(self, opts) -> list:
        model = opts.concrete_model
        known = {
            "clinic.patient": [self.alice_patient, self.other_patient, self.archived_patient],
            "people.user": [self.front_desk, self.operator, self.invited],
            "auth.group": [Group.objects.get(name=roles.FRONT_DESK), self.team],
            "people.loginevent": [self.login_event],
            "axes.accessattempt": [self.attempt],
            "imports.importjob": [self.steward_job, self.admin_job],
            "audit.accesslog": self.access_rows,
            "audit.auditseal": [self.seal],
        }
        rows = known.get(model._meta.label_lower)
        if rows is None:
            first = model._default_manager.order_by("pk").first()
            rows = [first] if first else []
        return [model._base_manager.get(pk=row.pk) for row in rows]

    # -- the tests --------------------------------------------------------------------

    def test_it_knows_how_to_fill_every_url(self):
        self.persona = Persona("the inventory of URLs and actions")
        for endpoint in endpoints():
            if endpoint.kind not in KINDS:
                self.fail_cell(
                    f"{endpoint} ({endpoint.route}) is a URL the matrix cannot fill: add "
                    f"its kind {endpoint.kind!r} to KINDS in {__name__} with a method that "
                    "builds its URLs and says who gets what"
                )
        for model, model_admin in admin.site._registry.items():
            if not self.representatives(model._meta):
                self.fail_cell(f"{model._meta.label}: no row to ask for; add one in setUpTestData")
            for func, name in self.all_actions(model_admin):
                if self.action_permissions(func, name) is None:
                    self.fail_cell(
                        f"action {name} of {model._meta.label} declares no permissions: "
                        "declare them with @admin.action(permissions=[...])"
                    )
        self.report()

    def test_it_shows_a_row_each_writing_action_changes(self):
        # So that "a permitted action writes" can fail: each action that writes for
        # the operator must write on some row of the fixture.
        self.start(self.personas()["operator"])
        for model_admin in admin.site._registry.values():
            for func, name in self.all_actions(model_admin):
                perms = self.action_permissions(func, name) or ()
                if not set(perms) & {"add", "change", "delete"}:
                    continue
                if not all(may(self.persona, p, model_admin.opts) for p in perms):
                    continue  # nobody may (delete_selected): nothing to show
                if not any(
                    self.action_effect(model_admin, name, o) for o in self.population(model_admin)
                ):
                    self.fail_cell(
                        f"action {name} of {model_admin.opts.label} changed no row of the "
                        "fixture for the operator: add a row it applies to in setUpTestData"
                    )
        self.report()

    def test_it_answers_an_anonymous_visitor(self):
        self.run_matrix("anonymous")

    def test_it_answers_a_staff_user_without_a_role(self):
        self.run_matrix("norole")

    def test_it_answers_the_operator(self):
        self.run_matrix("operator")

    def test_it_answers_an_administrator(self):
        self.run_matrix("admin")

    def test_it_answers_the_front_desk(self):
        self.run_matrix("front_desk")

    def test_it_answers_a_data_steward(self):
        self.run_matrix("steward")

    def test_it_answers_an_auditor(self):
        self.run_matrix("auditor")

    def test_it_answers_a_doctor_with_a_patient(self):
        self.run_matrix("alice")

    def test_it_answers_a_doctor_without_patients(self):
        self.run_matrix("bob")

    def run_matrix(self, persona: str) -> None:
        self.start(self.personas()[persona])
        for endpoint in endpoints():
            method = KINDS.get(endpoint.kind)
            if method is not None:  # unknown kinds fail test_it_knows_how_to_fill_every_url
                getattr(self, method)(endpoint)
        self.report()

    # -- helpers ----------------------------------------------------------------------

    def population(self, model_admin) -> list:
        """The fixture's rows this admin lists to the operator (a work queue lists some)."""
        return self.memoized(
            ("population", model_admin.opts.label), lambda: self._population(model_admin)
        )

    def _population(self, model_admin) -> list:
        listed = self.reference(
            ("listed", model_admin.opts.label),
            lambda: self.listed(model_admin, self.reference_page(changelist_url(model_admin))),
        )
        return [o for o in self.representatives(model_admin.opts) if o.pk in listed]

    def listed(self, model_admin, html: str) -> set[int]:
        """The rows a changelist page shows: its action checkboxes and change links."""
        base = re.escape(changelist_url(model_admin))
        pks = re.findall(rf'href="{base}(\d+)/change/', html)
        pks += re.findall(r'name="_selected_action" value="(\d+)"', html)
        return {int(pk) for pk in pks}

    def targets(self, model_admin, prefer=None) -> list:
        """One row per distinct answer the oracle gives the persona on this admin.

        Within each, the first row ``prefer(row)`` accepts, if any.
        """
        groups = {}
        for obj in self.population(model_admin):
            key = tuple(
                may(self.persona, a, model_admin.opts, obj)
                for a in ("view", "change", "delete", "share")
            )
            groups.setdefault(key, []).append(obj)
        return [
            next((o for o in rows if prefer is not None and prefer(o)), rows[0])
            for rows in groups.values()
        ]

    def form_of(self, own_html, url: str, usable=bool):
        """The page's own form if the persona got one ``usable`` accepts, else the operator's."""
        form = main_form(own_html) if own_html else None
        if form is None or not usable(form):
            form = main_form(self.reference_page(url))
        return form

    def object_kind(
        self,
        endpoint,
        *,
        url=None,
        reachable=None,
        get_ok,
        post,
        missing_ok=MISSING_ANSWERS,
        only=None,
    ):
        """GET and POST each target row's page; unreachable rows answer as a missing id.

        ``url(obj)`` builds the URL (``obj`` None: a missing id); None, the usual
        one: the endpoint's URL with the row's id (``MISSING`` for a missing id),
        ``endpoint.reverse(obj.pk)``. ``reachable(obj)`` says whether the persona
        may reach the row at all; None, the usual one: whether it may view the row
        (``may(persona, "view", ...)``). ``get_ok(obj)`` the outcomes of a
        reachable row's GET; ``post(obj, own_html)`` returns the data to post, its
        outcomes and the writes it may make. ``only(obj)`` narrows the rows that
        have such a page at all.
        """
        if url is None:

            def url(obj):
                return endpoint.reverse(obj.pk if obj else self.MISSING)

        if reachable is None:

            def reachable(obj):
                return may(self.persona, "view", endpoint.model_admin.opts, obj)

        targets = [o for o in self.targets(endpoint.model_admin) if only is None or only(o)]
        hidden = [o for o in targets if not reachable(o)]
        sample = (hidden or targets or [None])[0]
        missing_data = post(sample, None)[0] if sample is not None else {}
        missing_url = url(None)
        missing = {}
        for method, data in (("get", None), ("post", missing_data)):
            with self.cell() as record:
                record.send(method, missing_url, data)
            self.verify(
                f"{method.upper()} {missing_url} (missing)", record, self.login_or(missing_ok)
            )
            missing[method] = record
        for obj in targets:
            page = url(obj)
            ids = set(re.findall(r"\d+", page + missing_url))
            if not reachable(obj):
                for method, data in (("get", None), ("post", missing_data)):
                    with self.cell() as record:
                        record.send(method, page, data)
                    self.same_answer(
                        f"{method.upper()} {page} ({obj}, hidden)", record, missing[method], ids
                    )
                continue
            with self.cell() as record:
                record.send("get", page)
            got = self.verify(f"GET {page} ({obj})", record, self.login_or(get_ok(obj)))
            own = record.response.text if got == "ok" else None
            data, expect, writes = post(obj, own)
            with self.cell() as record:
                record.send("post", page, data)
            self.verify(f"POST {page} ({obj})", record, self.login_or(expect), writes)

    def version_of(self, opts, obj) -> int | None:
        """The id of ``obj``'s latest history row."""
        model = opts.concrete_model
        return (
            getattr(model, model._meta.simple_history_manager_attribute)
            .filter(**{opts.pk.attname: obj.pk})
            .order_by("-history_id")
            .values_list("history_id", flat=True)
            .first()
        )

    # -- kinds: ModelAdmin pages --------------------------------------------------------

    def page_changelist(self, endpoint):
        model_admin, opts, persona = endpoint.model_admin, endpoint.model_admin.opts, self.persona
        url = endpoint.reverse()
        with self.cell() as record:
            record.send("get", url)
        got = self.verify(
            f"GET {url}",
            record,
            self.login_or({"ok"} if may(persona, "view", opts) else {"denied"}),
        )
        html = record.response.text if got == "ok" else ""
        if got == "ok":
            shown = self.listed(model_admin, html)
            expected = {o.pk for o in self.population(model_admin) if may(persona, "view", opts, o)}
            population = {o.pk for o in self.population(model_admin)}
            if shown & population != expected:
                self.fail_cell(
                    f"GET {url}: lists {sorted(shown & population)}, expected {sorted(expected)}"
                )
        self.check_actions(endpoint, html)

    def page_add(self, endpoint):
        opts, persona = endpoint.model_admin.opts, self.persona
        url = endpoint.reverse()
        allowed = may(persona, "add", opts)
        with self.cell() as record:
            record.send("get", url)
        got = self.verify(f"GET {url}", record, self.login_or({"ok"} if allowed else {"denied"}))
        form = self.form_of(record.response.text if got == "ok" else None, url)
        template = self.change_form_data(endpoint.model_admin)
        data = filled(form, opts=opts, template=template) if form else template
        writes = [Write(opts.concrete_model._meta.db_table, None, "insert")] if allowed else []
        with self.cell() as record:
            record.send("post", url, data)
        self.verify(
            f"POST {url}", record, self.login_or({"redirect"} if allowed else {"denied"}), writes
        )

    def change_form_data(self, model_admin) -> dict:
        """The operator's change form of the admin's first row: an add page's template."""
        population = self.population(model_admin) or self.representatives(model_admin.opts)
        if not population:
            return {}
        form = main_form(self.reference_page(change_url(model_admin, population[0])))
        return submitted(form) if form else {}

    def page_change(self, endpoint):
        opts, persona = endpoint.model_admin.opts, self.persona
        table = opts.concrete_model._meta.db_table

        def post(obj, own):
            url = endpoint.reverse(obj.pk)
            form = self.form_of(own, url, lambda f: change_one(f, opts)[1] is not None)
            data, column = change_one(form, opts) if form else ({}, None)
            if not may(persona, "change", opts, obj):
                return data, {"denied"}, []
            forbidden = frozenset(forbidden_columns(persona, opts))
            return data, {"redirect"}, [Write(table, obj.pk, "update", forbidden, column or True)]

        self.object_kind(endpoint, get_ok=lambda obj: {"ok"}, post=post)
        self.check_forged_fields(endpoint)

    def check_forged_fields(self, endpoint):
        """POST the operator's form with every column the persona may not change changed.

        The rows may be saved (other fields) or refused; those columns stay.
        """
        opts, persona = endpoint.model_admin.opts, self.persona
        forbidden = forbidden_columns(persona, opts)
        if persona.user is None or not forbidden:
            return
        for obj in self.targets(endpoint.model_admin):
            if not may(persona, "change", opts, obj):
                continue
            url = endpoint.reverse(obj.pk)
            form = main_form(self.reference_page(url))
            data = submitted(form) if form else {}
            for f in opts.concrete_model._meta.concrete_fields:
                if f.attname in forbidden:
                    data[f.name] = [self.other_value(form, f, obj)]
            table = opts.concrete_model._meta.db_table
            writes = [Write(table, obj.pk, "update", frozenset(forbidden), required=False)]
            with self.cell() as record:
                record.send("post", url, data)
            self.verify(
                f"POST {url} ({obj}, forging {', '.join(sorted(forbidden))})",
                record,
                {"redirect", "ok", "denied"},
                writes,
            )

    def other_value(self, form, f, obj) -> str:
        """A valid value of field ``f`` other than ``obj``'s: another option or row's."""
        current = str(f.value_from_object(obj) if f.is_relation else getattr(obj, f.attname))
        control = next((c for c in (form.controls if form else []) if c.name == f.name), None)
        if control is not None and control.type == "checkbox":
            return "" if control.checked else "on"
        if control is not None and control.tag == "select":
            options = [v for v, _ in control.options if v and v != current]
            if options:
                return options[-1]
        if f.is_relation:
            other = f.related_model._base_manager.exclude(pk=current or None).first()
            return str(other.pk) if other else ""
        if f.unique:
            return f"matrix-{current}"[: f.max_length]
        values = f.model._base_manager.exclude(**{f.attname: current}).exclude(**{f.attname: ""})
        other = values.values_list(f.attname, flat=True).first()
        return other if other is not None else "Matrix"

    def page_history(self, endpoint):
        self.object_kind(
            endpoint,
            get_ok=lambda obj: {"ok"},
            # A history list has no form; a POST to it writes nothing, for anyone.
            post=lambda obj, own: ({}, {"ok", "denied", "405"}, []),
        )

    def page_import_progress(self, endpoint):
        """The import progress poll (admin_ext.imports.views): the signed-in user's own
        figures only; every other persona's id names nothing (404), and it never writes."""
        progress_id = "matrix-progress-0001"
        url = endpoint.reverse(progress_id)
        own = self.persona.user is not None and self.persona.user.is_staff
        if own:
            ImportProgress(progress_key(self.persona.user, progress_id)).finish()
        with self.cell() as record:
            record.send("get", url)
        self.verify(f"GET {url}", record, {"ok"} if own else {"404"})
        other = self.operator if self.persona.user != self.operator else self.admin
        others_id = f"matrix-{uuid.uuid4().hex}"  # recorded for ``other`` only, ever
        ImportProgress(progress_key(other, others_id)).finish()
        with self.cell() as record:
            record.send("get", endpoint.reverse(others_id))
        self.verify(f"GET {url} (another user's)", record, {"404"})
        with self.cell() as record:
            record.send("post", url, {})
        self.verify(f"POST {url}", record, {"405"})

    def page_failed_rows(self, endpoint):
        """An import job's failed rows as CSV: whoever may view the job downloads it."""
        self.object_kind(
            endpoint,
            get_ok=lambda obj: {"file"},
            post=lambda obj, own: ({}, {"405"}, []),
        )

    def page_version(self, endpoint):
        """simple-history's page of one historical version: shown, never saved (it used to
        save its form on POST, a revert nobody is meant to have)."""
        opts = endpoint.model_admin.opts

        def url(obj):
            return endpoint.reverse(
                *((obj.pk, self.version_of(opts, obj)) if obj else (self.MISSING,) * 2)
            )

        def post(obj, own):
            # The version page's own form if it has one, else the change form: what
            # simple-history's revert would take.
            usable = lambda f: change_one(f, opts)[1] is not None  # noqa: E731
            form = self.form_of(own, url(obj), usable)
            if form is None or not usable(form):
                form = main_form(self.reference_page(change_url(endpoint.model_admin, obj)))
            data = change_one(form, opts)[0] if form else {}
            return data, {"denied", "405"}, []

        self.object_kind(
            endpoint,
            url=url,
            get_ok=lambda obj: {"ok"},
            post=post,
        )
        # Another row's version id under a row the persona sees answers as a missing one.
        self.check_foreign_id(
            endpoint,
            lambda obj: may(self.persona, "view", opts, obj),
            lambda obj: self.version_of(opts, obj),
        )

    def check_foreign_id(self, endpoint, reachable, id_of):
        """``<row>/<sub>/<sub id>/`` with another row's sub id answers as a missing sub id."""
        population = self.population(endpoint.model_admin)
        rows = [o for o in self.targets(endpoint.model_admin) if reachable(o)]
        others = [(o, id_of(o)) for o in population if rows and o.pk != rows[0].pk]
        others = [(o, sub) for o, sub in others if sub is not None]
        if not others:
            return
        foreign = endpoint.reverse(rows[0].pk, others[0][1])
        absent = endpoint.reverse(rows[0].pk, self.MISSING)
        cells = []
        for page in (foreign, absent):
            with self.cell() as record:
                record.send("get", page)
            cells.append(record)
        ids = set(re.findall(r"\d+", foreign + absent))
        self.same_answer(f"GET {foreign} (another row's id)", *cells, ids)

    def page_delete(self, endpoint):
        opts, persona = endpoint.model_admin.opts, self.persona
        table = opts.concrete_model._meta.db_table

        def post(obj, own):
            form = self.form_of(own, endpoint.reverse(obj.pk))
            # Django's delete confirmation posts post=yes.
            data = submitted(form) if form else {"post": ["yes"]}
            if may(persona, "delete", opts, obj):
                return data, {"redirect"}, [Write(table, obj.pk, "delete")]
            return data, {"denied"}, []

        self.object_kind(
            endpoint,
            get_ok=lambda obj: {"ok"} if may(persona, "delete", opts, obj) else {"denied"},
            post=post,
        )

    def page_password(self, endpoint):
        """Django's page setting another user's password (UserAdmin)."""
        opts, persona = endpoint.model_admin.opts, self.persona
        table = opts.concrete_model._meta.db_table

        def post(obj, own):
            form = self.form_of(own, endpoint.reverse(obj.pk))
            data = filled(form) if form else {}
            if may(persona, "change", opts, obj):
                return data, {"redirect"}, [Write(table, obj.pk, "update", required="password")]
            return data, {"denied"}, []

        self.object_kind(
            endpoint,
            get_ok=lambda obj: {"ok"} if may(persona, "change", opts, obj) else {"denied"},
            post=post,
        )

    def page_reset_two_factor(self, endpoint):
        """ "Reset two-factor" of a user (people.two_factor.admin): whoever may change the
        user; deletes their devices (django-otp's tables) and nothing else."""
        opts, persona = endpoint.model_admin.opts, self.persona

        def post(obj, own):
            if may(persona, "change", opts, obj):
                deletes = [
                    Write(m._meta.db_table, None, "delete", required=False)
                    for m in (TOTPDevice, StaticDevice, StaticToken)
                ]
                return {"reason": "Matrix reset"}, {"redirect"}, deletes
            return {"reason": "Matrix reset"}, {"denied"}, []

        self.object_kind(
            endpoint,
            get_ok=lambda obj: {"ok"} if may(persona, "change", opts, obj) else {"denied"},
            post=post,
        )

    def page_old_change_url(self, endpoint):
        """``<id>/``: Django's redirect to ``<id>/change/``, the same for any id."""
        self.object_kind(
            endpoint,
            get_ok=lambda obj: {"redirect"},
            post=lambda obj, own: ({}, {"redirect"}, []),
            missing_ok={"redirect"},
        )

    def page_share(self, endpoint):
        """``<id>/share/``: share one patient (issue 5 item 11); others answer as missing."""
        opts, persona = endpoint.model_admin.opts, self.persona

        def post(obj, own):
            form = self.form_of(own, endpoint.reverse(obj.pk))
            data = filled(form) if form else {}
            return data, {"redirect"}, [Write(PatientShare._meta.db_table, None, "insert")]

        self.object_kind(
            endpoint,
            reachable=lambda obj: may(persona, "share", opts, obj),
            get_ok=lambda obj: {"ok"},
            post=post,
        )

    def page_unshare(self, endpoint):
        """``<id>/shares/<share id>/revoke/``: end a live share of a patient one may share."""
        opts, persona = endpoint.model_admin.opts, self.persona

        def share_of(obj):
            return (
                PatientShare.objects.filter(patient=obj, revoked_at=None)
                .values_list("pk", flat=True)
                .first()
            )

        def url(obj):
            return endpoint.reverse(
                *((obj.pk, share_of(obj) or self.MISSING) if obj else (self.MISSING,) * 2)
            )

        def post(obj, own):
            form = self.form_of(own, url(obj))
            data = filled(form) if form else {}
            return data, {"redirect"}, [Write(PatientShare._meta.db_table, share_of(obj), "update")]

        self.object_kind(
            endpoint,
            url=url,
            reachable=lambda obj: may(persona, "share", opts, obj),
            get_ok=lambda obj: {"ok"},
            post=post,
            only=lambda obj: share_of(obj) is not None,
        )
        self.check_foreign_id(endpoint, lambda obj: may(persona, "share", opts, obj), share_of)

    def page_object_permissions(self, endpoint):
        """django-guardian's object-permission pages (``GuardedModelAdminMixin``).

        Object permissions come from the services, with a reason and history
        (DESIGN.md "Permissions"): these pages may show grants to whoever may change
        the row, and write none, for anyone. The form is posted with every
        permission ticked, for a colleague (Bob) or a team.
        """
        opts, persona = endpoint.model_admin.opts, self.persona
        holder = {"permissions_manage_user": self.bob, "permissions_manage_group": self.team}
        holder = holder.get(endpoint.kind)

        def url(obj):
            args = [obj.pk if obj else self.MISSING] + ([holder.pk] if holder else [])
            return endpoint.reverse(*args)

        def post(obj, own):
            form = self.form_of(own, url(obj))
            data = filled(form) if form else {}
            for c in form.controls if form else []:
                if c.type == "select-multiple":
                    data[c.name] = [v for v, _ in c.options]
            return data, {"ok", "redirect", "denied"}, []

        self.object_kind(
            endpoint,
            url=url,
            get_ok=lambda obj: {"ok", "denied"}
            if may(persona, "change", opts, obj)
            else {"denied"},
            post=post,
        )

    # -- kinds: import and export --------------------------------------------------------

    def page_import(self, endpoint):
        opts = endpoint.model_admin.opts
        allowed = may_import(self.persona, opts)
        url = endpoint.reverse()
        with self.cell() as record:
            record.send("get", url)
        got = self.verify(f"GET {url}", record, self.login_or({"ok"} if allowed else {"denied"}))
        form = self.form_of(record.response.text if got == "ok" else None, url)
        with self.cell() as record:
            preview = record.send("post", url, self.import_data(endpoint.model_admin, form))
        # The upload waits for the confirm in the database (admin_ext.imports.storage).
        upload = [Write("imports_importupload", None, "insert", required=False)]
        got = self.verify(
            f"POST {url} (preview)",
            record,
            self.login_or({"ok"} if allowed else {"denied"}),
            upload if allowed else (),
        )
        if got == "ok" and allowed and not self.confirm_form(preview.text, endpoint.model_admin):
            self.fail_cell(
                f"POST {url} (preview): no confirm form [{matrix.page_errors(preview.text)}]"
            )

    def page_process_import(self, endpoint):
        model_admin = endpoint.model_admin
        opts = model_admin.opts
        allowed = may_import(self.persona, opts)
        url = endpoint.reverse()
        with self.cell() as record:
            record.send("get", url)
        # The confirm step is a POST; it may refuse a GET outright.
        self.verify(
            f"GET {url}", record, self.login_or({"ok", "405"} if allowed else {"denied", "405"})
        )
        import_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_import")
        row, column = self.import_row(model_admin)
        if allowed and row is None:
            self.fail_cell(f"{import_url}: the operator's export gave no row to import back")
        writes = []
        if allowed and row is not None:
            table = opts.concrete_model._meta.db_table
            writes = [
                Write(
                    table,
                    row.pk,
                    "update",
                    frozenset(forbidden_columns(self.persona, opts)),
                    column,
                ),
                # The import job record (issue 6) and its upload, gone after the confirm.
                Write("imports_importjob", None, "insert"),
                Write("imports_importjob", None, "update", required=False),
                Write("imports_importupload", None, "delete", required=False),
            ]
        with self.cell() as record:
            if allowed:
                form = main_form(self.reference_page(import_url))
                preview = record.send("post", import_url, self.import_data(model_admin, form))
                confirm = self.confirm_form(preview.text if preview else "", model_admin)
            else:
                confirm = self.reference(
                    ("confirm", opts.label), lambda: self.operator_confirm(model_admin)
                )
            record.send("post", url, submitted(confirm) if confirm else {})
        self.verify(
            f"POST {url} (confirm)",
            record,
            self.login_or({"redirect"} if allowed else {"denied"}),
            writes,
        )

    def confirm_form(self, html: str, model_admin):
        opts = model_admin.opts
        target = reverse(f"admin:{opts.app_label}_{opts.model_name}_process_import")
        forms = [f for f in matrix.parse_forms(html) if f.action.split("?")[0] == target]
        return forms[0] if forms else None

    def operator_confirm(self, model_admin):
        """The confirm form the operator's preview gives (the import of a model; a work
        queue imports nothing, so its patients' form stands in)."""
        opts = model_admin.opts.concrete_model._meta
        import_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_import")
        concrete_admin = admin.site._registry.get(opts.model, model_admin)
        form = main_form(self.reference_page(import_url))
        with self.cell(self.ref_client) as record:
            preview = record.send("post", import_url, self.import_data(concrete_admin, form))
        return self.confirm_form(preview.text if preview else "", concrete_admin)

    def import_file(self, model_admin) -> tuple:
        """The operator's export of one row with one cell changed: (CSV text, row, column)."""
        return self.reference(
            ("import", model_admin.opts.label), lambda: self._import_file(model_admin)
        )

    def import_row(self, model_admin):
        """The row the import file changes and the column it changes."""
        return self.import_file(model_admin)[1:]

    def import_data(self, model_admin, form) -> dict:
        """The import page's form with :meth:`import_file` attached."""
        text = self.import_file(model_admin)[0]
        data = filled(form) if form else {}
        data["import_file"] = SimpleUploadedFile(
            "matrix.csv", text.encode(), content_type="text/csv"
        )
        return data

    def _import_file(self, model_admin):
        opts = model_admin.opts.concrete_model._meta
        export_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_export")
        form = main_form(self.reference_page(export_url))
        with self.cell(self.ref_client) as record:
            response = record.send("post", export_url, filled(form) if form else {})
        if response is None or outcome(response) != "file":
            return "", None, None
        rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
        header, rows = rows[0], rows[1:]
        for obj in self.representatives(opts):
            keys = {
                str(getattr(obj, f.attname))
                for f in opts.concrete_fields
                if f.unique and f.attname != "id"
            }
            for row in rows:
                if keys & set(row):
                    for i, name in enumerate(header):
                        f = matrix.plain_char_field(opts, name)
                        if f is not None and not f.unique:
                            row[i] = matrix.new_text(f, row[i])
                            out = io.StringIO()
                            csv.writer(out, lineterminator="\n").writerows([header, row])
                            return out.getvalue(), obj, f.attname
        return "", None, None

    def page_synthea_import(self, endpoint):
        """The Synthea folder import (clinic/admin_synthea.py): one page, GET the upload
        form, POST an upload (the preview) or ``step=confirm`` with a stored upload's
        token. It takes the patient import (``may_import``) and the model-wide add and
        change of doctors and organizations: a folder writes all three."""
        opts = endpoint.model_admin.opts
        allowed = may_import(self.persona, opts) and all(
            self.persona.has_model_perm(action, "clinic", model)
            for model in ("doctor", "organization")
            for action in ("add", "change")
        )
        url = endpoint.reverse()
        organization = b"Id,NAME\norg-matrix,Matrix Clinic\n"

        def upload_data(html):
            form = self.form_of(html, url)
            data = filled(form) if form else {}
            data["files"] = SimpleUploadedFile(
                "organizations.csv", organization, content_type="text/csv"
            )
            return data

        def confirm_of(html):
            forms = [
                f
                for f in matrix.parse_forms(html or "")
                if any(c.name == "token" for c in f.controls)
            ]
            return forms[0] if forms else None

        with self.cell() as record:
            record.send("get", url)
        got = self.verify(f"GET {url}", record, self.login_or({"ok"} if allowed else {"denied"}))
        own = record.response.text if got == "ok" else None
        with self.cell() as record:
            preview = record.send("post", url, upload_data(own))
        got = self.verify(
            f"POST {url} (preview)",
            record,
            self.login_or({"ok"} if allowed else {"denied"}),
            [Write("imports_importupload", None, "insert")] if allowed else (),
        )
        if got == "ok" and allowed and confirm_of(preview.text) is None:
            self.fail_cell(
                f"POST {url} (preview): no confirm form [{matrix.page_errors(preview.text)}]"
            )

        def operator_confirm():
            with self.cell(self.ref_client) as record:
                response = record.send("post", url, upload_data(self.reference_page(url)))
            return confirm_of(response.text if response else "")

        with self.cell() as record:
            if allowed:
                response = record.send("post", url, upload_data(own))
                confirm = confirm_of(response.text if response else "")
            else:
                # Another user's token (the operator's, rolled back with its cell):
                # refused before it is looked up.
                confirm = self.reference(("synthea confirm",), operator_confirm)
            record.send("post", url, submitted(confirm) if confirm else {"step": ["confirm"]})
        writes = (
            [
                Write("clinic_organization", None, "insert"),
                Write("imports_importjob", None, "insert"),
                Write("imports_importupload", None, "insert", required=False),
                Write("imports_importupload", None, "delete", required=False),
            ]
            if allowed
            else ()
        )
        self.verify(
            f"POST {url} (confirm)",
            record,
            self.login_or({"redirect"} if allowed else {"denied"}),
            writes,
        )

    def page_export(self, endpoint):
        opts = endpoint.model_admin.opts
        allowed = may_export(self.persona, opts)
        url = endpoint.reverse()
        with self.cell() as record:
            record.send("get", url)
        got = self.verify(f"GET {url}", record, self.login_or({"ok"} if allowed else {"denied"}))
        form = self.form_of(record.response.text if got == "ok" else None, url)
        with self.cell() as record:
            record.send("post", url, filled(form) if form else {})
        self.verify(f"POST {url}", record, self.login_or({"file"} if allowed else {"denied"}))

    # -- actions -----------------------------------------------------------------------

    def all_actions(self, model_admin):
        """Every action of the admin, whoever may run it: (function, name)."""
        request = RequestFactory().get("/")
        request.user = self.operator
        found = {name: func for func, name, _ in model_admin._get_base_actions()}
        found.update(
            {name: func for name, (func, _, _) in model_admin.get_actions(request).items()}
        )
        return [(func, name) for name, func in sorted(found.items())]

    def action_permissions(self, func, name):
        """What an action declares it takes (``permissions=[...]``), or None."""
        return getattr(func, "allowed_permissions", None) or ACTION_PERMISSIONS.get(name)

    def offers(self, model_admin, func, name) -> bool:
        """Whether the persona should be offered the action: it holds what it declares."""
        declared = self.action_permissions(func, name) or ()
        return all(self.may_act(perm, model_admin.opts) for perm in declared)

    def run_action(self, record, model_admin, name, pk):
        """POST the action from the changelist; fill and send an intermediate page's form."""
        url = changelist_url(model_admin)
        data = {
            "action": [name],
            "_selected_action": [str(pk)],
            "index": ["0"],
            "select_across": ["0"],
        }
        response = record.send("post", url, data)
        if response is None or outcome(response) != "ok":
            return
        form = main_form(response.text)
        if form is None or any(c.name == "action" and c.tag == "select" for c in form.controls):
            return  # the changelist again, not an intermediate page
        record.send("post", form.action or url, filled(form))

    def action_effect(self, model_admin, name, obj) -> list:
        """What the action writes on ``obj``'s rows when the operator runs it."""

        def compute():
            with self.cell(self.ref_client) as record:
                self.run_action(record, model_admin, name, obj.pk)
            tables = matrix.registered_tables() | {PatientShare._meta.db_table}
            return [c for c in record.changes if c.table in tables]

        return self.reference(("effect", model_admin.opts.label, name, obj.pk), compute)

    def check_actions(self, endpoint, changelist_html: str):
        model_admin, persona = endpoint.model_admin, self.persona
        opts = model_admin.opts
        actions = self.all_actions(model_admin)
        if changelist_html:
            form = main_form(changelist_html)
            select = next((c for c in (form.controls if form else []) if c.name == "action"), None)
            shown = {v for v, _ in select.options if v} if select else set()
            expected = {name for func, name in actions if self.offers(model_admin, func, name)}
            if shown != expected:
                self.fail_cell(
                    f"GET {endpoint.reverse()}: offers actions {sorted(shown)}, expected {sorted(expected)}"
                )
        for func, name in actions:
            offered = self.offers(model_admin, func, name)
            declared = self.action_permissions(func, name) or ()
            # One row per answer the oracle gives, one the action changes if any; an
            # action not offered answers alike for every row: the first (a row the
            # persona sees, one it changes, if any) stands for all.
            targets = self.targets(
                model_admin, lambda o, name=name: self.action_effect(model_admin, name, o)
            )
            for obj in targets if offered else targets[:1]:
                visible = may(persona, "view", opts, obj)
                effect = self.action_effect(model_admin, name, obj) if offered and visible else []
                writes = []
                if all(self.may_act(perm, opts, obj) for perm in declared) and all(
                    self.may_write(change, opts, obj) for change in effect
                ):
                    # A new row's id is the database's choice: any new row matches.
                    writes = [
                        Write(c.table, None if c.kind == "insert" else c.pk, c.kind) for c in effect
                    ]
                expect = {"ok", "redirect", "file"} if may(persona, "view", opts) else {"denied"}
                what = f"POST {changelist_url(model_admin)} action {name} on {obj}"
                with self.cell() as record:
                    self.run_action(record, model_admin, name, obj.pk)
                if offered and not visible:
                    with self.cell() as missing:
                        self.run_action(missing, model_admin, name, self.MISSING)
                    self.same_answer(f"{what} (hidden)", record, missing, {obj.pk, self.MISSING})
                else:
                    self.verify(what, record, self.login_or(expect), writes)

    def may_act(self, perm: str, opts, obj=None) -> bool:
        """Whether the persona holds an action's declared permission (for this row)."""
        if perm == "export":
            return may_export(self.persona, opts)
        if perm == "import":
            return may_import(self.persona, opts)
        return may(self.persona, perm, opts, obj)

    def may_write(self, change, opts, obj) -> bool:
        """Whether the persona may make this change to a row of an edited model:
        change (or delete) permission on it, and none of its forbidden columns."""
        if change.table not in matrix.registered_tables() or change.kind == "insert":
            return True
        action = "delete" if change.kind == "delete" else "change"
        return may(self.persona, action, opts, obj) and not (
            change.columns & forbidden_columns(self.persona, opts)
        )

    # -- kinds: site pages --------------------------------------------------------------

    def simple_page(self, url: str, get, post, writes=(), data=None):
        """GET and POST a page without an object: ``get``/``post`` are the outcomes."""
        with self.cell() as record:
            record.send("get", url)
        got = self.verify(f"GET {url}", record, get)
        if data is None:
            form = main_form(record.response.text) if got == "ok" else None
            data = filled(form) if form else {}
        with self.cell() as record:
            record.send("post", url, data)
        self.verify(f"POST {url}", record, post, writes)

    def page_root(self, endpoint):
        self.simple_page("/", {"index"}, {"index"})

    def page_index(self, endpoint):
        self.simple_page(endpoint.reverse(), self.login_or({"ok"}), self.login_or({"ok"}))

    def page_login(self, endpoint):
        # Signed in, the login page sends you on to the index; a failed sign-in is
        # recorded in the login events (DESIGN.md "Apps", people).
        # django-axes counts the failure towards a lockout (axes.AccessAttempt).
        writes = [
            Write(LoginEvent._meta.db_table, None, "insert", required=False),
            Write(AccessAttempt._meta.db_table, None, "insert", required=False),
        ]
        get = {"ok"} if self.persona.user is None else {"index"}
        data = {"username": "nobody@example.com", "password": "wrong", "next": "/admin/"}
        self.simple_page(endpoint.reverse(), get, {"ok"}, writes, data=data)

    def page_logout(self, endpoint):
        signed_in = self.persona.user is not None
        writes = [Write(LoginEvent._meta.db_table, None, "insert", required=False)]
        self.simple_page(
            endpoint.reverse(),
            {"405"} if signed_in else {"index"},
            {"ok"} if signed_in else {"index"},
            writes,
            data={},
        )

    def page_own_password(self, endpoint):
        """Everyone signed in changes their own password, and nothing else."""
        url = endpoint.reverse()
        user = self.persona.user
        writes = (
            [Write(User._meta.db_table, user.pk, "update", required="password")] if user else []
        )
        data = {"old_password": PASSWORD, "new_password1": matrix.NEW_PASSWORD}
        data["new_password2"] = matrix.NEW_PASSWORD
        self.simple_page(url, self.login_or({"ok"}), self.login_or({"redirect"}), writes, data=data)

    def page_my_profile(self, endpoint):
        """My profile: everyone signed in changes their own title, phone and photo; the
        page has no user id to point at anyone else's."""
        url = endpoint.reverse()
        user = self.persona.user
        writes = (
            [Write(Profile._meta.db_table, user.profile.pk, "update", required="title")]
            if user
            else []
        )
        data = {"title": "Matrix title", "phone": ""}
        self.simple_page(url, self.login_or({"ok"}), self.login_or({"redirect"}), writes, data=data)

    def page_profile_photo(self, endpoint):
        """Profile photos: one's own for everyone signed in, anyone's for those who may
        view users; someone else's for the others answers as a missing user does."""
        sees_others = self.persona.has("people.view_user")
        own = self.persona.user.pk if self.persona.user else None
        for owner in (self.front_desk, self.alice):
            url = endpoint.reverse(owner.pk)
            get = {"redirect"} if sees_others or owner.pk == own else {"404"}
            self.simple_page(url, self.login_or(get), self.login_or({"405"}), data={})
        missing = endpoint.reverse(self.MISSING)
        self.simple_page(missing, self.login_or({"404"}), self.login_or({"405"}), data={})

    # Two-factor sign-in (people.two_factor.views): every signed-in persona here has
    # given the second factor where it has or needs an authenticator (sign_in), so the
    # verify page sends them on, enrolled ones have nothing to set up, and a wrong code
    # changes only the device's throttling.
    def page_two_factor_verify(self, endpoint):
        expect = self.login_or({"index"})
        self.simple_page(endpoint.reverse(), expect, expect, data={"code": "000000"})

    def enrolled(self) -> bool:
        return self.persona.user is not None and authenticator(self.persona.user) is not None

    def page_two_factor_setup(self, endpoint):
        expect = self.login_or({"redirect"} if self.enrolled() else {"ok"})
        self.simple_page(endpoint.reverse(), expect, expect, data={"code": "000000"})

    def page_two_factor(self, endpoint):
        throttled = [Write(TOTPDevice._meta.db_table, None, "update", required=self.enrolled())]
        self.simple_page(
            endpoint.reverse(),
            self.login_or({"ok"}),
            self.login_or({"ok"}),
            throttled if self.enrolled() else (),
            data={"action": "regenerate", "code": "000000"},
        )

    def page_signed_in_done(self, endpoint):
        self.simple_page(endpoint.reverse(), self.login_or({"ok"}), self.login_or({"405"}))

    def page_jsi18n(self, endpoint):
        self.simple_page(endpoint.reverse(), self.login_or({"ok"}), self.login_or({"405"}))

    def page_public(self, endpoint):
        """Password reset pages: open to anyone, written to by nobody."""
        post = {"redirect"} if endpoint.name == "admin_password_reset" else {"405"}
        self.simple_page(endpoint.reverse(), {"ok"}, post)

    def page_health(self, endpoint):
        """Load-balancer probes (backoffice.health): open to anyone, signed in or not,
        read-only (a POST answers 405), writing nothing."""
        self.simple_page(endpoint.reverse(), {"ok"}, {"405"}, data={})

    def page_reset_confirm(self, endpoint):
        # A link with a token that does not match shows "invalid link" and writes nothing.
        uid = urlsafe_base64_encode(force_bytes(self.front_desk.pk))
        url = endpoint.reverse(uidb64=uid, token="bad-token")
        self.simple_page(url, {"ok"}, {"ok"})

    def page_app_index(self, endpoint):
        for app_label in sorted({m._meta.app_label for m in admin.site._registry}):
            url = reverse("admin:app_list", kwargs={"app_label": app_label})
            models = [m for m in admin.site._registry if m._meta.app_label == app_label]
            sees = any(may(self.persona, "view", m._meta) for m in models)
            expect = self.login_or({"ok"} if sees else {"404"})
            self.simple_page(url, expect, expect, data={})

    def page_audit_trail(self, endpoint):
        """The audit trail (issue 7): audit.view_accesslog opens it, GET only; filtered by
        a patient, a hidden one answers as a missing one and shows nothing of it."""
        sees = self.persona.has("audit.view_accesslog")
        url = endpoint.reverse()
        self.simple_page(
            url, self.login_or({"ok"} if sees else {"denied"}), self.login_or({"405"}), data={}
        )
        self.trail_by_patient(url, self.login_or({"ok"} if sees else {"denied"}))

    def page_audit_trail_export(self, endpoint):
        """The trail's CSV: audit.export_audit besides the trail's own permission."""
        may_export = all(
            self.persona.has(p) for p in ("audit.view_accesslog", "audit.export_audit")
        )
        url = endpoint.reverse()
        expect = self.login_or({"file"} if may_export else {"denied"})
        self.simple_page(url, expect, self.login_or({"405"}), data={})
        self.trail_by_patient(url, expect)

    def page_audit_verify(self, endpoint):
        """Audit seals › Verify the chain: audit.view_auditseal, GET only; it reads only."""
        sees = self.persona.has("audit.view_auditseal")
        url = endpoint.reverse() + "?scope=all"
        self.simple_page(
            url, self.login_or({"ok"} if sees else {"denied"}), self.login_or({"405"}), data={}
        )

    def trail_by_patient(self, url, expect):
        """``url`` filtered by each patient: as ``expect`` says, a hidden one as a missing one."""
        patient_opts = PatientFactory._meta.model._meta

        def by(pk):
            return f"{url}?{urlencode({'model': 'clinic.patient', 'object': pk})}"

        with self.cell() as missing:
            missing.send("get", by(self.MISSING))
        self.verify(f"GET {by(self.MISSING)} (missing)", missing, expect)
        for patient in (self.alice_patient, self.other_patient, self.archived_patient):
            with self.cell() as record:
                record.send("get", by(patient.pk))
            # An anonymous visitor's sign-in link names the URL asked for.
            if self.persona.user is None or may(self.persona, "view", patient_opts, patient):
                self.verify(f"GET {by(patient.pk)} ({patient})", record, expect)
            else:
                ids = {str(patient.pk), str(self.MISSING)}
                self.same_answer(f"GET {by(patient.pk)} ({patient}, hidden)", record, missing, ids)

    def page_catch_all(self, endpoint):
        url = reverse("admin:index") + "matrix-no-such-page/"
        self.simple_page(url, self.login_or({"404"}), self.login_or({"404"}), data={})

    def page_autocomplete(self, endpoint):
        """The select2 lookups of every autocomplete field: only rows the persona sees."""
        url = endpoint.reverse()
        for model, model_admin in admin.site._registry.items():
            for field_name in model_admin.get_autocomplete_fields(RequestFactory().get("/")):
                remote = model._meta.get_field(field_name).remote_field.model
                query = {"app_label": model._meta.app_label, "model_name": model._meta.model_name}
                query.update(field_name=field_name, term="")
                page = f"{url}?{urlencode(query)}"
                sees = may(self.persona, "view", remote._meta)
                with self.cell() as record:
                    response = record.send("get", page)
                got = self.verify(
                    f"GET {page}", record, self.login_or({"ok"} if sees else {"denied"})
                )
                if got == "ok":
                    ids = {int(r["id"]) for r in response.json()["results"]}
                    rows = remote._base_manager.filter(pk__in=ids)
                    shown = [r for r in rows if not may(self.persona, "view", remote._meta, r)]
                    if shown:
                        self.fail_cell(f"GET {page}: offers {shown}, which it may not see")
                with self.cell() as record:
                    record.send("post", page, {})
                self.verify(f"POST {page}", record, self.login_or({"405"}))

    def page_view_on_site(self, endpoint):
        """Django's "view on site" redirect: a hidden row answers as a missing one."""
        for model, model_admin in admin.site._registry.items():
            ct = ContentType.objects.get_for_model(model, for_concrete_model=False)
            missing_url = endpoint.reverse(ct.pk, self.MISSING)
            with self.cell() as missing:
                missing.send("get", missing_url)
            self.verify(f"GET {missing_url} (missing)", missing, self.login_or({"404"}))
            for obj in self.targets(model_admin):
                url = endpoint.reverse(ct.pk, obj.pk)
                with self.cell() as record:
                    record.send("get", url)
                if may(self.persona, "view", model._meta, obj):
                    self.verify(f"GET {url} ({obj})", record, self.login_or({"404", "redirect"}))
                else:
                    ids = set(re.findall(r"\d+", url + missing_url)) - {str(ct.pk)}
                    self.same_answer(f"GET {url} ({obj}, hidden)", record, missing, ids)


def changelist_url(model_admin) -> str:
    return reverse(f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_changelist")


def change_url(model_admin, obj) -> str:
    return reverse(
        f"admin:{model_admin.opts.app_label}_{model_admin.opts.model_name}_change", args=[obj.pk]
    )


#: Each kind of URL (``matrix.Endpoint.kind``) and the method that asks for it.
KINDS = {
    # ModelAdmin URLs, by the end of their name (Django, simple-history,
    # import-export, UserAdmin, clinic.admin_sharing) or their route if unnamed.
    "changelist": "page_changelist",
    "add": "page_add",
    "change": "page_change",
    "history": "page_history",
    "failed_rows": "page_failed_rows",
    "import_progress": "page_import_progress",
    "synthea_import": "page_synthea_import",
    "delete": "page_delete",
    "simple_history": "page_version",
    "password_change": "page_password",
    "<path:object_id>/": "page_old_change_url",
    "import": "page_import",
    "process_import": "page_process_import",
    "export": "page_export",
    "share": "page_share",
    "unshare": "page_unshare",
    "permissions": "page_object_permissions",
    "permissions_manage_user": "page_object_permissions",
    "permissions_manage_group": "page_object_permissions",
    "verify": "page_audit_verify",
    "reset_two_factor": "page_reset_two_factor",
    # Site URLs, by name (or route if unnamed).
    "": "page_root",
    "admin:index": "page_index",
    "admin:login": "page_login",
    "admin:logout": "page_logout",
    "admin:password_change": "page_own_password",
    # people.views.password_change, mounted ahead of the admin's own at the same path.
    "admin_password_change": "page_own_password",
    "admin:password_change_done": "page_signed_in_done",
    # people.views: the signed-in user's own profile, and the profile photos.
    "my_profile": "page_my_profile",
    "profile_photo": "page_profile_photo",
    "admin:jsi18n": "page_jsi18n",
    "admin:autocomplete": "page_autocomplete",
    "admin:view_on_site": "page_view_on_site",
    "admin:app_list": "page_app_index",
    "admin:audit_trail": "page_audit_trail",
    "admin:audit_trail_export": "page_audit_trail_export",
    "admin/(?P<url>.*)$": "page_catch_all",
    "admin_password_reset": "page_public",
    "password_reset_done": "page_public",
    "password_reset_complete": "page_public",
    "password_reset_confirm": "page_reset_confirm",
    "two_factor_verify": "page_two_factor_verify",
    "two_factor_setup": "page_two_factor_setup",
    "two_factor": "page_two_factor",
    # backoffice.health: the load balancer's probes.
    "health_live": "page_health",
    "health_ready": "page_health",
}
