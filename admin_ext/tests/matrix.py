"""Parts of the permission matrix (``test_permission_matrix.py``): pages, oracle, writes.

- The inventory: every URL pattern the project serves, from the root URL resolver,
  each one tied to its ``ModelAdmin`` through ``admin.site._registry``
  (:func:`endpoints`).
- The oracle: who may do what, from DESIGN.md ("Who uses it", "Permissions",
  "Audit") and ``people/roles.py`` (each role's model permissions), plus each
  persona's per-object grants as the fixture declares them (:class:`Persona`,
  :func:`may`). It never asks the admin's own ``has_*_permission`` hooks: those
  are what the matrix tests.
- The page's own form, read from its HTML the way a browser reads it
  (:func:`main_form`, :func:`submitted`).
- Writes: a snapshot of every table and the per-column difference between two
  snapshots (:func:`snapshot`, :func:`diff`).
- Answers: what a response means to a user (:func:`outcome`).
- The runner: :class:`MatrixCase` runs each cell (one request, or the few a
  form's steps take) in a transaction rolled back afterwards, checks it and
  collects every failing cell.
"""

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from unittest import mock
from urllib.parse import urlsplit

from django.apps import apps
from django.contrib import admin
from django.contrib.messages import get_messages
from django.db import connection, models, transaction
from django.http import StreamingHttpResponse
from django.template import Template
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from admin_ext.testing import ClinicTestCase
from people import roles
from people.two_factor.testing import sign_in

# -- the oracle ----------------------------------------------------------------------

#: Django's four model permissions: held on the admin's own model (a proxy has its own).
OBJECT_ACTIONS = ("view", "add", "change", "delete")

#: What nobody does through the admin, superusers included (DESIGN.md). Keys are
#: model labels; "tracked" stands for every model with simple-history records.
#: - "tracked": nothing is deleted ("archiving is the only delete staff get";
#:   writes go through services, none of which deletes).
#: - people.loginevent: audit rows are append-only ("nobody, superusers included,
#:   edits or deletes audit rows through the app").
POLICY_OFF = {
    "tracked": {"delete"},
    "people.loginevent": {"add", "change", "delete"},
    # Import jobs are records of what happened (issue 6): written by imports only.
    "imports.importjob": {"add", "change", "delete"},
    # The access log and the seals (issue 7): written by the app, read-only for all.
    "audit.accesslog": {"add", "change", "delete"},
    "audit.auditseal": {"add", "change", "delete"},
    # django-axes' failed sign-ins: counted by axes; deleting one is unlocking
    # (people.lockout_admin, through people.services.lockout_clear).
    "axes.accessattempt": {"add", "change"},
}

#: Columns a persona may not change even on a row they may change, with the rule's
#: source. Each entry: (model label, test on the persona, columns).
FIELD_RULES = [
    # Issue 5: a doctor (object-level access only) may not change a patient's
    # primary doctor, status or external ID.
    (
        "clinic.patient",
        lambda p: not p.has_model_perm("change", "clinic", "patient"),
        {"primary_doctor_id", "status", "external_id"},
    ),
    # DESIGN.md PHI rule and roles.py: the SSN of a patient on file is read and
    # written only with clinic.view_ssn (enter_ssn is for new patients).
    ("clinic.patient", lambda p: not p.has("clinic.view_ssn"), {"ssn"}),
    # "Superusers exist for operators only": nobody else makes one.
    ("people.user", lambda p: not p.superuser, {"is_superuser"}),
]


#: Action permissions that stand for a model-wide permission and never follow an
#: object grant. "manage" (archive, assign a primary doctor: moving patients between
#: people and queues) is the model-wide change permission: a doctor who may change
#: their own patients must not give them away (issue 5: a doctor may not change a
#: patient's primary doctor or status).
MODEL_WIDE = {"manage": "change"}

#: Rows nobody may change or delete whatever their permissions. Each entry:
#: (model label, actions, test on the row and the persona).
OBJECT_RULES = [
    # "Superusers exist for operators only": only an operator changes one (else
    # anyone with change_user could set an operator's password and sign in as them).
    ("people.user", {"change", "delete"}, lambda obj, p: obj.is_superuser and not p.superuser),
    # "Roles are data in code (people/roles.py) ... re-applied by sync_roles": a
    # role's group is changed or deleted by nobody through the admin.
    ("auth.group", {"change", "delete"}, lambda obj, p: obj.name in roles.ROLES),
    # DESIGN.md roles: a data steward sees their own import jobs; auditors and
    # administrators all of them (imports.view_all_importjobs).
    (
        "imports.importjob",
        {"view"},
        lambda obj, p: not p.has("imports.view_all_importjobs")
        and (p.user is None or obj.actor_id != p.user.pk),
    ),
    # Issue 7: an access-log row is read with audit.view_all_accesslog, or by whoever
    # may see the record it is about (a doctor: her own patients'), never else.
    (
        "audit.accesslog",
        {"view"},
        lambda obj, p: not p.has("audit.view_all_accesslog") and not about_visible(obj, p),
    ),
]


def about_visible(entry, persona) -> bool:
    """Whether an access-log ``entry`` names a record ``persona`` may view (not an audit one)."""
    model = entry.content_type.model_class() if entry.content_type_id else None
    if model is None or model._meta.app_label == "audit" or not entry.object_id:
        return False
    record = model._base_manager.filter(pk=entry.object_id).first()
    return record is not None and may(persona, "view", model._meta, record)


@dataclass
class Persona:
    """Someone using the admin: a user (None for an anonymous visitor) and what they hold.

    ``perms`` are the role's model permissions as ``people.roles.ROLES`` lists them
    (``"clinic.view_patient"``); ``grants`` maps ``(model label, pk)`` to the object
    permissions the fixture gave (``{"view", "change"}``).
    """

    name: str
    user: object = None
    perms: frozenset = frozenset()
    superuser: bool = False
    grants: dict = field(default_factory=dict)

    def has(self, perm: str) -> bool:
        """Whether the role (or superuser status) gives ``perm`` ("clinic.view_ssn")."""
        return self.user is not None and (self.superuser or perm in self.perms)

    def has_model_perm(self, action: str, app_label: str, model_name: str) -> bool:
        """Whether the role (or superuser status) gives ``app_label.action_model_name``."""
        return self.has(f"{app_label}.{action}_{model_name}")


def is_tracked(opts) -> bool:
    """Whether the model (or the model a proxy stands for) keeps simple-history records."""
    return hasattr(opts.concrete_model._meta, "simple_history_manager_attribute")


def policy_off(action: str, opts) -> bool:
    """Whether DESIGN.md forbids ``action`` on this model to everyone (:data:`POLICY_OFF`)."""
    if action in POLICY_OFF.get(opts.label_lower, ()):
        return True
    if is_tracked(opts) and action in POLICY_OFF["tracked"]:
        return True
    # A work queue (a proxy of patients) lists rows; rows are added on the model's
    # own page (DESIGN.md: "proxy models for the admin's work queues").
    return action == "add" and opts.proxy


def may(persona: Persona, action: str, opts, obj=None) -> bool:
    """Whether ``persona`` may ``action`` ("view", "change", "share", ...) on the model.

    With ``obj``, on that row (unless :data:`OBJECT_RULES` protect it); without,
    on some row (Django's reading of ``has_change_permission(request)``). The
    role's model permission decides, then the persona's object grants (view
    follows from change, as in Django).
    Django's four actions are held on the admin's own model, so a grant on a
    patient opens no work queue; any other (export, share) is declared on the
    model a queue lists. Superusers hold everything but what :func:`policy_off`
    and :data:`OBJECT_RULES` forbid.
    """
    if persona.user is None or policy_off(action, opts):
        return False
    if obj is not None and any(
        label == opts.label_lower and action in actions and applies(obj, persona)
        for label, actions, applies in OBJECT_RULES
    ):
        return False
    if action in MODEL_WIDE:
        return persona.has_model_perm(MODEL_WIDE[action], opts.app_label, opts.model_name)
    target = opts if action in OBJECT_ACTIONS else opts.concrete_model._meta
    held = {action, "change"} if action == "view" else {action}
    if any(persona.has_model_perm(a, target.app_label, target.model_name) for a in held):
        return True
    grants = [
        actions
        for (label, pk), actions in persona.grants.items()
        if label == target.label_lower and (obj is None or pk == obj.pk)
    ]
    return any(held & actions for actions in grants)


def may_import(persona: Persona, opts) -> bool:
    """Import takes ``import_<model>`` with the model-wide add and change permissions.

    Rows are matched model-wide, so object grants never allow it (DESIGN.md "Import
    and export": the steward and administrator import). Work queues import nothing.
    """
    if opts.proxy:
        return False
    return all(
        persona.has_model_perm(a, opts.app_label, opts.model_name)
        for a in ("import", "add", "change")
    )


def may_export(persona: Persona, opts) -> bool:
    """Export takes ``export_<model>`` (of the model a work queue lists)."""
    concrete = opts.concrete_model._meta
    return persona.has_model_perm("export", concrete.app_label, concrete.model_name)


def forbidden_columns(persona: Persona, opts) -> set[str]:
    """Columns ``persona`` may not change on rows of this model (:data:`FIELD_RULES`)."""
    label = opts.concrete_model._meta.label_lower
    return set().union(
        *(columns for model, applies, columns in FIELD_RULES if model == label and applies(persona))
    )


# -- the inventory -------------------------------------------------------------------


@dataclass
class Endpoint:
    """One URL pattern: its name (None if unnamed), route text and ModelAdmin if any.

    ``kind`` is what the matrix calls it: the part of the name after
    ``<app>_<model>_`` for a ModelAdmin URL ("change", "simple_history"), the URL
    name for a site URL ("admin:login"), or the route for an unnamed one.
    """

    name: str | None
    route: str
    pattern: URLPattern
    model_admin: admin.ModelAdmin | None = None

    @property
    def kind(self) -> str:
        if self.model_admin is not None:
            opts = self.model_admin.opts
            local = (self.name or "").removeprefix("admin:")
            # Django's UserAdmin names its password page auth_user_password_change
            # whatever the user model is.
            for prefix in (f"{opts.app_label}_{opts.model_name}_", "auth_user_"):
                if local.startswith(prefix):
                    return local.removeprefix(prefix)
            return str(self.pattern.pattern)
        return self.name or self.route

    def reverse(self, *args, **kwargs) -> str:
        """The URL with these arguments (unnamed ModelAdmin patterns: from the route)."""
        if self.name:
            return reverse(self.name, args=args, kwargs=kwargs)
        if self.model_admin is not None:
            opts = self.model_admin.opts
            base = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            return base + "/".join(str(a) for a in args) + "/"
        raise ValueError(f"cannot build the unnamed URL {self.route!r}")

    def __str__(self):
        return self.name or self.route


def endpoints(site=admin.site) -> list[Endpoint]:
    """Every URL pattern of the root URLconf, in order, ModelAdmin URLs tied to their admin.

    A pattern under ``<admin root><app_label>/<model_name>/`` belongs to the
    ModelAdmin registered for that model (how ``AdminSite.get_urls`` mounts them).
    """
    admin_root = reverse(f"{site.name}:index").lstrip("/")
    by_prefix = {
        f"{admin_root}{model._meta.app_label}/{model._meta.model_name}/": model_admin
        for model, model_admin in site._registry.items()
    }
    found = []

    def walk(patterns, prefix, namespace, model_admin):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                ns = ":".join(filter(None, [namespace, pattern.namespace])) or None
                walk(pattern.url_patterns, route, ns, by_prefix.get(route, model_admin))
            else:
                name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
                found.append(Endpoint(name, route, pattern, model_admin))

    walk(get_resolver().url_patterns, "", None, None)
    return found


# -- the page's own form -------------------------------------------------------------


@dataclass
class Control:
    """One form control as the HTML gives it."""

    tag: str
    type: str
    name: str
    value: str = ""
    checked: bool = False
    disabled: bool = False
    required: bool = False
    options: list = field(default_factory=list)  # [value, selected] for a select


@dataclass
class Form:
    """A ``<form>``: where it posts, how, and its controls in document order."""

    action: str
    method: str
    controls: list = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms, self.form, self.select, self.option, self.textarea = [], None, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.form = Form(a.get("action") or "", (a.get("method") or "get").lower())
            self.forms.append(self.form)
            return
        if self.form is None:
            return
        common = {
            "name": a.get("name") or "",
            "disabled": "disabled" in a,
            "required": "required" in a,
        }
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            default = "on" if kind in ("checkbox", "radio") else ""
            control = Control(tag, kind, **common, value=a.get("value", default))
            control.checked = "checked" in a
        elif tag == "button":
            kind = (a.get("type") or "submit").lower()
            control = Control(tag, kind, **common, value=a.get("value", ""))
        elif tag == "select":
            control = Control(tag, "select-multiple" if "multiple" in a else "select-one", **common)
            self.select = control
        elif tag == "textarea":
            control = Control(tag, "textarea", **common)
            self.textarea = control
        elif tag == "option" and self.select is not None:
            # An option without a value attribute submits its text.
            self.option = [a.get("value"), "selected" in a, ""]
            self.select.options.append(self.option)
            return
        else:
            return
        self.form.controls.append(control)

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None
        if tag in ("option", "select") and self.option is not None:
            if self.option[0] is None:
                self.option[0] = self.option[2].strip()
            self.option = None

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea.value += data
        if self.option is not None:
            self.option[2] += data


_FORM_HTML = re.compile(r"<form\b.*?</form>", re.S | re.I)


def parse_forms(html: str) -> list[Form]:
    """Every ``<form>`` of a page (forms do not nest in HTML)."""
    parser = _FormParser()
    for part in _FORM_HTML.findall(html):  # the rest of an admin page is most of it
        parser.feed(part)
    parser.close()
    for form in parser.forms:
        for control in form.controls:
            if control.tag == "select":
                control.options = [(o[0], o[1]) for o in control.options]
    return parser.forms


def main_form(html: str) -> Form | None:
    """The page's own POST form: the largest one that is not the header's logout form."""
    forms = [
        f
        for f in parse_forms(html)
        if f.method == "post" and not urlsplit(f.action).path.endswith("/logout/")
    ]
    return max(forms, key=lambda f: len(f.controls), default=None)


def selected(control: Control) -> list[str]:
    """The values a select submits: the selected options, else a single select's first."""
    values = [value for value, chosen in control.options if chosen]
    if not values and control.type == "select-one" and control.options:
        values = [control.options[0][0]]
    return values


def submitted(form: Form) -> dict[str, list[str]]:
    """What a browser submits for ``form`` as it stands, with its first named submit button.

    Files are left out (the caller adds them). Returns ``{name: [values]}``.
    """
    data: dict[str, list[str]] = {}
    button = None
    for c in form.controls:
        if not c.name or c.disabled:
            continue
        if c.type in ("submit", "image"):
            button = button or c
        elif c.type in ("checkbox", "radio"):
            if c.checked:
                data.setdefault(c.name, []).append(c.value)
        elif c.tag == "select":
            data.setdefault(c.name, []).extend(selected(c))
        elif c.type not in ("file", "button", "reset"):
            data.setdefault(c.name, []).append(c.value)
    if button is not None:
        data.setdefault(button.name, []).append(button.value)
    return data


def plain_char_field(opts, name: str):
    """The model's CharField called ``name`` if a free text value is valid in it, else None.

    Free text: no choices and no validators beyond Django's own length and null
    character checks (so not an e-mail, SSN, ZIP or state).
    """
    try:
        f = opts.get_field(name)
    except Exception:
        return None
    if not isinstance(f, models.CharField) or f.choices or not f.editable:
        return None
    stock = {"MaxLengthValidator", "ProhibitNullCharactersValidator"}
    if any(type(v).__name__ not in stock for v in f.validators):
        return None
    return f


def new_text(f, old: str) -> str:
    """A changed value for free-text field ``f`` (unique fields keep their old text in it)."""
    value = f"Matrix {old}" if f.unique else "Matrix"
    if value == old:
        value = "Matrixed"
    return value[: f.max_length] if f.max_length else value


#: The password the matrix types wherever a form asks for a new one.
NEW_PASSWORD = "Matrix-pass-8271!"

_SKIPPED_TYPES = {"hidden", "submit", "button", "checkbox", "radio", "file", "image", "reset"}


def typed_value(control: Control) -> str:
    """What a user types into an empty ``control`` that must be filled."""
    if "email" in control.name:  # some themes draw an e-mail box as type="text"
        return "nobody@example.com"
    return {
        "email": "nobody@example.com",
        "password": NEW_PASSWORD,
        "date": "2000-01-01",
        "number": "1",
    }.get(control.type, "Matrix")


def filled(form: Form, *, opts=None, template=None) -> dict[str, list[str]]:
    """``form`` as a user completes it: what it holds, with its empty fields filled.

    - a required select with nothing chosen gets its first non-empty option, and
      so does the first optional one (forms often ask for one of several: a
      colleague or a team);
    - a password box gets :data:`NEW_PASSWORD`;
    - a required field gets a typed value: with ``template`` (another row's form
      data, for an add page) the row's value, free text of ``opts``'s model
      changed so the new row is nobody's duplicate, unique values made unique.
    """
    data = submitted(form)
    optional_select_filled = False
    for c in form.controls:
        if not c.name or c.disabled or c.type in _SKIPPED_TYPES or any(data.get(c.name, [])):
            continue
        value = None
        if c.required and template and any(template.get(c.name, [])):
            value = template_value(opts, c.name, template[c.name][0])
        elif c.type == "select-one" and (c.required or not optional_select_filled):
            value = next((v for v, _ in c.options if v), None)
            optional_select_filled |= not c.required
        elif c.required or c.type == "password":
            value = typed_value(c)
        if value is not None:
            data[c.name] = [value]
    return data


def template_value(opts, name: str, value: str) -> str:
    """``value`` of another row's field ``name``, fit for a new row (see :func:`filled`)."""
    try:
        f = opts.get_field(name)
    except Exception:
        return value
    if isinstance(f, models.EmailField):
        return f"matrix-{value}" if f.unique else value
    if plain_char_field(opts, name) is not None:
        return new_text(f, value)
    return f"matrix-{value}"[: f.max_length] if f.unique else value


def change_one(form: Form, opts) -> tuple[dict[str, list[str]], str | None]:
    """``form``'s data with its first free-text field of ``opts``'s model changed.

    Returns the data and the changed column (None if the form has no such field).
    """
    data = submitted(form)
    for c in form.controls:
        f = plain_char_field(opts, c.name) if c.type == "text" and not c.disabled else None
        if f is not None:
            data[c.name] = [new_text(f, c.value)]
            return data, f.attname
    return data, None


# -- writes --------------------------------------------------------------------------

#: Tables written by design on reads or sign-ins, never by a form: sessions, and
#: the access log DESIGN.md asks for ("one row per view ... per export").
IGNORED_TABLES = re.compile(r"^django_session$|access_?log", re.I)


def snapshot_models() -> list[type[models.Model]]:
    """Every concrete model with a table (auto-created many-to-many tables included)."""
    return [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy and not IGNORED_TABLES.search(m._meta.db_table)
    ]


def snapshot(tables=None) -> dict[str, dict]:
    """Every row of every table (or of ``tables``): ``{db_table: {pk: {column: value}}}``."""
    return {
        m._meta.db_table: {row["pk"]: row for row in m._base_manager.values("pk", *columns(m))}
        for m in snapshot_models()
        if tables is None or m._meta.db_table in tables
    }


def columns(model) -> list[str]:
    """The model's column names (attnames)."""
    return [f.attname for f in model._meta.concrete_fields]


@dataclass(frozen=True)
class Change:
    """One row written: ``kind`` is "insert", "update" or "delete"; ``columns`` for updates."""

    table: str
    pk: object
    kind: str
    columns: frozenset = frozenset()

    def __str__(self):
        what = f" ({', '.join(sorted(self.columns))})" if self.columns else ""
        return f"{self.kind} {self.table} #{self.pk}{what}"


def diff(before: dict, after: dict) -> list[Change]:
    """The rows that differ between two snapshots (``after`` may hold some tables only)."""
    changes = []
    for table, rows in after.items():
        old = before.get(table, {})
        for pk, row in rows.items():
            if pk not in old:
                changes.append(Change(table, pk, "insert"))
            elif row != old[pk]:
                changed = frozenset(c for c in row if row[c] != old[pk].get(c))
                changes.append(Change(table, pk, "update", changed))
        changes += [Change(table, pk, "delete") for pk in old.keys() - rows.keys()]
    return changes


WRITE_SQL = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+[`"]?(\w+)', re.I)


@contextmanager
def recording_writes():
    """Yield a set that fills with the tables each SQL statement run meanwhile writes to.

    A statement rolled back later counts too. (Django's CaptureQueriesContext
    stops seeing queries once a test has run 9,000 of them.)
    """
    tables = set()

    def record(execute, sql, params, many, context):
        if match := WRITE_SQL.match(sql):
            tables.add(match.group(1))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield tables


# -- answers -------------------------------------------------------------------------


class _ReadStream(StreamingHttpResponse):
    """A streamed response (a CSV export) the matrix has read: ``text`` is plain data."""

    text = None


def body(response) -> str:
    """The response's text (a streamed or binary export too)."""
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
        response.streaming_content = [content]  # readable again
    else:
        content = response.content
    return content.decode("utf-8", errors="replace")


def outcome(response) -> str:
    """What the response is to a user.

    "login" (sent to sign in), "index" (sent to the admin index: Django's "doesn't
    exist" answer), "redirect" (elsewhere: a save went through), "file" (a
    download), "ok" (a page), "denied" (403), or the status code ("404", "405").
    """
    status = response.status_code
    if status in (301, 302, 303):
        path = urlsplit(response["Location"]).path
        if path == reverse("admin:login"):
            return "login"
        return "index" if path == reverse("admin:index") else "redirect"
    if status == 200:
        return "file" if "attachment" in response.get("Content-Disposition", "") else "ok"
    return "denied" if status == 403 else str(status)


def answer(response, ids) -> tuple:
    """Status, redirect target and messages, each given id replaced by ``<id>``.

    Two answers are equal when a user could not tell the requests apart.
    """

    def norm(text):
        for value in ids:
            text = re.sub(rf"(?<![\w-]){re.escape(str(value))}(?![\w-])", "<id>", text)
        return text

    location = response.get("Location", "")
    messages = [norm(str(m)) for m in get_messages(response.wsgi_request)]
    return response.status_code, norm(location), tuple(messages)


def page_errors(html: str) -> str:
    """The form errors a page shows (Django's errornote and errorlist), for failure text."""
    found = re.findall(r'class="(?:errornote|errorlist)[^"]*"[^>]*>(.*?)</(?:p|ul)>', html, re.S)
    text = " ".join(re.sub(r"<[^>]+>", " ", f) for f in found)
    return re.sub(r"\s+", " ", text).strip()[:300]


# -- the runner ----------------------------------------------------------------------


class _Rollback(Exception):
    pass


def _render_without_capture(self, context):
    # Django's own Template._render. The test environment swaps in a version that
    # sends template_rendered, and the test client then copies every context of
    # every template for response.context: half the time of a jazzmin page. The
    # matrix reads pages as HTML, as a browser does, and never needs the copies.
    return self.nodelist.render(context)


@dataclass(frozen=True)
class Write:
    """A write a cell may make: a row of ``table`` (``pk`` None: a new row).

    ``kind`` is "insert", "update" or "delete"; ``forbidden`` columns must not
    change; ``required`` says whether the write must happen (True), must change one
    column (its name), or may (False).
    """

    table: str
    pk: object = None
    kind: str = "update"
    forbidden: frozenset = frozenset()
    required: bool | str = True

    def matches(self, change: Change) -> bool:
        return (
            change.table == self.table
            and change.kind == self.kind
            and (self.pk is None or change.pk == self.pk)
        )


class Cell:
    """The requests of one matrix cell, run in a transaction rolled back afterwards."""

    def __init__(self, client):
        self.client = client
        self.responses, self.posted, self.changes, self.error = [], [], [], None

    def send(self, method: str, url: str, data=None):
        """GET or POST ``url``; returns the response (``.text`` set), or None if it raised."""
        if method == "post":
            self.posted.append(data or {})
        try:
            send = self.client.get if method == "get" else self.client.post
            response = send(url, data or {})
        except Exception as exc:  # a server error is a cell's result, not the test's end
            self.error = f"{method.upper()} {url} raised {type(exc).__name__}: {exc}"
            return None
        if getattr(response, "streaming", False):
            # Django's streamed responses have a read-only ``text``; keep ours.
            response.__class__ = _ReadStream
        response.text = body(response)
        self.responses.append(response)
        return response

    @property
    def response(self):
        return self.responses[-1] if self.responses else None

    def posted_text(self) -> str:
        return " ".join(str(v) for data in self.posted for vs in data.values() for v in _list(vs))


def _list(value):
    return value if isinstance(value, list | tuple) else [value]


def registered_tables(site=admin.site) -> set[str]:
    """Tables of the models with a ModelAdmin: the rows a user edits."""
    return {model._meta.concrete_model._meta.db_table for model in site._registry}


class MatrixCase(ClinicTestCase):
    """Runs cells for one persona at a time and collects every failing cell.

    Subclasses set the fixture and the kinds of page; each test calls
    :meth:`start` with a persona, runs its cells and ends with :meth:`report`.
    """

    MISSING = 987654321

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # What the operator's pages give (forms, lists, files), shared by every
        # test of the class: the fixture is the same in each.
        cls.reference_cache = {}

    def setUp(self):
        super().setUp()
        patcher = mock.patch.object(Template, "_render", _render_without_capture)
        patcher.start()
        self.addCleanup(patcher.stop)
        # Django logs each 403 and 404 with its traceback: thousands here, by design.
        logger = logging.getLogger("django.request")
        self.addCleanup(logger.setLevel, logger.level)
        logger.setLevel(logging.ERROR)
        self.failures, self.memo = [], {}
        self.ref_client = Client()
        sign_in(self.ref_client, self.operator)

    # -- one persona ----------------------------------------------------------------

    def start(self, persona: Persona) -> None:
        """Sign in as ``persona`` and take the snapshot every cell is compared with."""
        self.persona = persona
        self.memo = {}  # per persona: rows and targets of each admin
        self.client = Client()
        if persona.user is not None:
            sign_in(self.client, persona.user)
        self.base = snapshot()
        patient_opts = apps.get_model("clinic", "Patient")._meta
        patients = patient_opts.model._base_manager.all()
        self.hidden_tokens = [
            (str(p), token)
            for p in patients
            if not may(persona, "view", patient_opts, p)
            for token in (p.external_id, p.mrn)
            if token
        ]
        self.ssns = [] if persona.has("clinic.view_ssn") else [p.ssn for p in patients if p.ssn]

    def report(self) -> None:
        """Fail with every failing cell of the persona, one per line."""
        if self.failures:
            self.fail(
                f"{len(self.failures)} failing cell(s) for {self.persona.name}:\n"
                + "\n".join(self.failures)
            )

    def fail_cell(self, text: str) -> None:
        self.failures.append(text)

    @contextmanager
    def cell(self, client=None):
        """Run the requests of one cell in a transaction rolled back afterwards.

        The client's cookies are put back too, so a sign-out or a message in one
        cell does not reach the next. Writes are found by comparing the tables the
        cell's SQL wrote to (a write the view rolled back, as an import's dry run
        does, is no write) with the persona's snapshot.
        """
        client = client or self.client
        cookies = {key: morsel.copy() for key, morsel in client.cookies.items()}
        record = Cell(client)
        try:
            with transaction.atomic():
                with recording_writes() as tables:
                    yield record
                if record.error is None and tables:
                    record.changes = diff(self.base, snapshot(tables))
                raise _Rollback
        except _Rollback:
            pass
        finally:
            client.cookies = SimpleCookie()
            dict.update(client.cookies, cookies)

    def login_or(self, expect) -> set[str]:
        """``expect`` for a signed-in persona; an anonymous visitor is sent to sign in."""
        return {"login"} if self.persona.user is None else set(expect)

    # -- checks ---------------------------------------------------------------------

    def verify(self, what: str, record: Cell, expect, writes=()) -> str | None:
        """Check a cell's outcome, writes and leaks; return its outcome (None if it raised)."""
        if record.error:
            self.fail_cell(f"{what}: {record.error}")
            return None
        got = outcome(record.response)
        if got not in expect:
            detail = page_errors(record.response.text) if got == "ok" else ""
            where = record.response.get("Location", "")
            self.fail_cell(
                f"{what}: expected {'/'.join(sorted(expect))}, got {got}"
                + (f" ({where})" if where else "")
                + (f" [{detail}]" if detail else "")
            )
        self.check_writes(what, record, writes)
        self.check_leaks(what, record)
        return got

    def check_writes(self, what: str, record: Cell, writes) -> None:
        """Every row written is one of ``writes`` (rows of edited models; others follow
        them: history, grants, log entries), forbidden columns kept, required writes made.
        """
        if not writes:
            if record.changes:
                self.fail_cell(f"{what}: wrote {', '.join(map(str, record.changes[:5]))}")
            return
        edited = registered_tables() | {w.table for w in writes}
        for change in record.changes:
            if change.table not in edited:
                continue
            allowed = [w for w in writes if w.matches(change)]
            if not allowed:
                self.fail_cell(f"{what}: wrote {change}, which it may not")
            elif change.columns & allowed[0].forbidden:
                forbidden = ", ".join(sorted(change.columns & allowed[0].forbidden))
                self.fail_cell(f"{what}: changed {forbidden} of {change.table} #{change.pk}")
        for w in writes:
            done = [c for c in record.changes if w.matches(c)]
            if w.required is True and not done:
                self.fail_cell(f"{what}: did not {w.kind} {w.table} #{w.pk or 'new'}")
            elif isinstance(w.required, str) and not any(w.required in c.columns for c in done):
                self.fail_cell(f"{what}: did not change {w.table} #{w.pk}.{w.required}")

    def check_leaks(self, what: str, record: Cell) -> None:
        """No response shows a patient the persona may not see, nor an SSN it may not read."""
        posted = record.posted_text()
        for response in record.responses:
            text = response.text
            for name, token in self.hidden_tokens:
                if token not in posted and re.search(
                    rf"(?<![\w-]){re.escape(token)}(?![\w-])", text
                ):
                    self.fail_cell(f"{what}: shows hidden patient {name} ({token})")
            for ssn in self.ssns:
                if ssn not in posted and ssn in text:
                    self.fail_cell(f"{what}: shows an unmasked SSN ({ssn})")

    def same_answer(self, what: str, hidden: Cell, missing: Cell, ids) -> None:
        """A hidden object answers as a missing one, writes nothing, shows nothing."""
        if hidden.error or missing.error:
            self.fail_cell(f"{what}: {hidden.error or missing.error}")
            return
        a, b = answer(hidden.response, ids), answer(missing.response, ids)
        if a != b:
            self.fail_cell(f"{what}: a hidden object answers {a}, a missing one {b}")
        self.check_writes(what, hidden, ())
        self.check_leaks(what, hidden)

    # -- the operator's pages -------------------------------------------------------

    def reference(self, key, compute):
        """``compute()`` once per class (the operator's view of a page), then cached."""
        if key not in self.reference_cache:
            self.reference_cache[key] = compute()
        return self.reference_cache[key]

    def reference_page(self, url: str, method: str = "get", data=None) -> str:
        """The HTML the operator gets for ``url`` (nothing kept of what it writes)."""

        def compute():
            with self.cell(self.ref_client) as record:
                response = record.send(method, url, data)
            return response.text if response is not None and response.status_code == 200 else ""

        return self.reference((method, url, repr(data)), compute)
