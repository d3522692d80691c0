"""Every write path of the admin leaves a history row naming its actor (issue 7, item 1).

The inventory is explicit: :data:`FORMS` says how to drive each registered ModelAdmin's
add and change forms, :data:`ACTIONS` how to run each changelist action. A ModelAdmin or
an action that is not in them fails :meth:`WriteHistoryTests.test_it_knows_how_to_drive_every_admin_and_action`
with what to add, so no write path joins the admin without proof that it records who
did it (HIPAA 45 CFR 164.312(b); DESIGN.md, "Audit").

Each persona of ``admin_ext.testing`` drives every form and action the admin offers
them, through the Django test client, as a browser would: it reads the page's form,
types the table's values, posts, and follows an action's intermediate form. A write
must leave a new history row whose ``history_user`` is that persona and whose reason
is not empty; a read-only action (export) must leave none. ``auth.Group`` has no
simple-history records: its writes are proved by Django's admin log (``LogEntry``).

The module also proves the ``QuerySet.update()`` guard (``admin_ext.audit.guards``)
catches an offender, and that role (group) changes record the actor on every row.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from axes.models import AccessAttempt
from django.apps import apps
from django.contrib import admin
from django.contrib.admin import actions as django_actions
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db.models import Max
from django.test import RequestFactory
from django.urls import reverse
from simple_history.models import HistoricalChanges
from simple_history.utils import bulk_update_with_history

from admin_ext.audit.guards import UntrackedUpdateError, allow_untracked_update, is_tracked
from admin_ext.audit.models import AccessLog
from admin_ext.testing import ClinicTestCase
from admin_ext.tests.matrix import body, main_form, page_errors, submitted
from clinic import services
from clinic.models import (
    Doctor,
    Patient,
    PatientShare,
    PatientUserObjectPermission,
    Sequence,
    UnassignedPatient,
)
from clinic.tests.factories import PatientFactory
from people import roles
from people.models import Profile, User
from people.services import user_create, user_set_role

#: The personas of ``admin_ext.testing.ClinicTestCase`` (attribute names).
PERSONAS = ("operator", "admin", "front_desk", "steward", "auditor", "alice", "bob")

NEW_PASSWORD = "Write-History-4417"

#: Where a model's writes are recorded: its simple-history table, or (for a model
#: without one) Django's admin log.
HISTORY, ADMIN_LOG = "history", "admin log"


@dataclass(frozen=True)
class Forms:
    """How to drive one ModelAdmin's forms.

    ``add(tag)``: the values to type on the add page (``tag`` makes them unique per
    persona); None when nobody may add. ``change(tag)``: the values to change on a
    change page; None when nobody may change. ``target(case, user)``: the row to
    change (default: the first the persona may change). ``recorded``: :data:`HISTORY`
    or :data:`ADMIN_LOG`.
    """

    add: Callable[[str], dict] | None = None
    change: Callable[[str], dict] | None = None
    target: Callable | None = None
    recorded: str = HISTORY


#: Admins nobody adds to or changes through, superusers included.
READ_ONLY = Forms()


def _patient(tag: str) -> dict:
    return {
        "first_name": "Walk",
        "last_name": f"In{tag}",
        "birth_date": "1990-02-03",
        "gender": "F",
    }


FORMS: dict[str, Forms] = {
    "clinic.organization": Forms(
        add=lambda tag: {"name": f"Site {tag}", "external_id": f"org-{tag}"},
        change=lambda tag: {"name": f"Site renamed by {tag}"},
    ),
    "clinic.doctor": Forms(
        add=lambda tag: {"first_name": "Dana", "last_name": tag, "external_id": f"doc-{tag}"},
        change=lambda tag: {"specialty": f"Specialty of {tag}"},
    ),
    "clinic.patient": Forms(add=_patient, change=lambda tag: {"city": f"City of {tag}"}),
    "clinic.unassignedpatient": Forms(change=lambda tag: {"city": f"Queue city {tag}"}),
    "clinic.archivedpatient": Forms(change=lambda tag: {"city": f"Archive city {tag}"}),
    # The add form invites: no password (people.services.user_invite).
    "people.user": Forms(
        add=lambda tag: {"email": f"new-{tag}@example.com"},
        change=lambda tag: {"last_name": f"Renamed by {tag}"},
    ),
    "auth.group": Forms(
        add=lambda tag: {"name": f"Team of {tag}"},
        change=lambda tag: {"name": f"Team renamed by {tag}"},
        recorded=ADMIN_LOG,
    ),
    # Audit records: written by the app only, never through the admin (DESIGN.md, "Audit").
    "people.loginevent": READ_ONLY,
    "imports.importjob": READ_ONLY,
    "audit.accesslog": READ_ONLY,
    "audit.auditseal": READ_ONLY,
    # django-axes' failed sign-ins: counted by axes, only unlocked (deleted) here.
    "axes.accessattempt": READ_ONLY,
}


@dataclass(frozen=True)
class Action:
    """How to run one changelist action on one row.

    ``target(case, user)``: a row the persona sees, which the action applies to
    (None: the first row of the persona's changelist). ``form(case, user)``: the values to
    give the action's intermediate form ({}: it has none). ``writes``: the model
    whose history records the action (``Group``: the admin log, a deletion); None
    for a read-only action, which must write no history at all. ``creates``: the
    action adds rows of ``writes`` (a share) instead of changing the target.
    ``export``: the action answers with import-export's export form, whose file is
    then downloaded. ``logged``: the access-log action (``AccessLog.Action``) of the
    row that records an action on a model without history (an unlock).
    """

    target: Callable | None = None
    form: Callable[..., dict] = field(default=lambda case, user: {})
    writes: type | None = None
    creates: bool = False
    export: bool = False
    logged: str | None = None


def _new_patient(case, user):
    """A new active patient with no primary doctor (seen by model-permission holders)."""
    return PatientFactory()


def _sharable(case, user):
    """A patient ``user`` may share (a doctor: one they are primary doctor of)."""
    return Patient.objects.sharable_by(user).order_by("pk").first()


def _colleague(case, user):
    """Whom ``user`` shares with: Dr. Bob, or Dr. Alice when Bob shares."""
    return case.alice if user == case.bob else case.bob


def _archived(case, user):
    patient = PatientFactory()
    return services.patient_archive(patient=patient, actor=case.operator, reason="test")


#: import-export's "Export selected": reads only.
EXPORT = Action(export=True)

ACTIONS: dict[tuple[str, str], Action] = {
    ("clinic.patient", "archive_patients"): Action(target=_new_patient, writes=Patient),
    ("clinic.patient", "assign_primary_doctor"): Action(
        target=_new_patient,
        form=lambda case, user: {"doctor": case.dr_bob.pk, "reason": "Assigned in test"},
        writes=Patient,
    ),
    ("clinic.patient", "share_access"): Action(
        target=_sharable,
        form=lambda case, user: {
            "user": _colleague(case, user).pk,
            "can_change": "view",
            "reason": "Cover",
        },
        writes=PatientShare,
        creates=True,
    ),
    ("clinic.patient", "export_admin_action"): EXPORT,
    ("clinic.unassignedpatient", "assign_primary_doctor"): Action(
        target=_new_patient,
        form=lambda case, user: {"doctor": case.dr_bob.pk, "reason": "From the queue"},
        writes=Patient,
    ),
    ("clinic.unassignedpatient", "export_admin_action"): EXPORT,
    ("clinic.archivedpatient", "restore_patients"): Action(target=_archived, writes=Patient),
    ("clinic.archivedpatient", "export_admin_action"): EXPORT,
    ("clinic.organization", "export_admin_action"): EXPORT,
    ("clinic.doctor", "export_admin_action"): EXPORT,
    # Sign-in lockouts: "Unlock selected" (people.lockout_admin) clears attempts through
    # people.services.lockout_clear, recorded in the access log; the re-sent
    # invitation replaces the user's unusable password (a User history row).
    ("axes.accessattempt", "delete_selected"): Action(
        target=lambda case, user: AccessAttempt.objects.create(
            username=f"locked-{user.pk}@example.com",
            ip_address="203.0.113.77",
            user_agent=f"Agent {user.pk}",
            failures_since_start=5,
        ),
        logged=AccessLog.Action.UNLOCK,
    ),
    ("people.user", "resend_invitation"): Action(
        target=lambda case, user: user_create(
            email=f"invitee-{user.pk}@example.com", password=None, actor=None, reason="test"
        ),
        writes=User,
    ),
    # GroupAdmin's own "Delete selected groups" (refusing role groups), not Django's.
    ("auth.group", "delete_selected"): Action(
        target=lambda case, user: Group.objects.create(name=f"Short-lived team {user.pk}"),
        form=lambda case, user: {"post": "yes"},
        writes=Group,
    ),
}


def history_marks() -> dict[type, int]:
    """The last id of every simple-history table (many-to-many history included; 0 if empty)."""
    marks = {}
    for model in apps.get_models():
        if issubclass(model, HistoricalChanges):
            last = model.objects.aggregate(last=Max(model._meta.pk.attname))["last"]
            marks[model] = last or 0
    return marks


def history_model(model) -> type:
    concrete = model._meta.concrete_model
    return getattr(concrete, concrete._meta.simple_history_manager_attribute).model


class WriteHistoryTests(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.team = Group.objects.create(name="Night team")
        cls.archived = services.patient_archive(
            patient=PatientFactory(), actor=cls.operator, reason="test"
        )

    def user(self, persona: str) -> User:
        return getattr(self, persona)

    def request_for(self, user):
        request = RequestFactory().get("/admin/")
        request.user = user
        return request

    def registered(self) -> dict[str, admin.ModelAdmin]:
        return {model._meta.label_lower: ma for model, ma in admin.site._registry.items()}

    def offered_actions(self, model_admin, user) -> dict:
        return model_admin.get_actions(self.request_for(user))

    # -- the inventory -----------------------------------------------------------------

    def test_it_knows_how_to_drive_every_admin_and_action(self):
        registered = self.registered()
        for label in registered:
            with self.subTest(admin=label):
                self.assertTrue(
                    label in FORMS,
                    f"{label} has a ModelAdmin this test cannot drive: add how to fill its "
                    f"add and change forms (or READ_ONLY) to FORMS in {__name__}",
                )
        for label in FORMS:
            with self.subTest(table_entry=label):
                self.assertTrue(label in registered, f"FORMS names {label}, which has no admin")
        offered = set()
        for label, model_admin in registered.items():
            for persona in PERSONAS:
                for name in self.offered_actions(model_admin, self.user(persona)):
                    offered.add((label, name))
        for key in sorted(offered):
            with self.subTest(action=key):
                self.assertTrue(
                    key in ACTIONS,
                    f"action {key[1]} of {key[0]} is offered but this test cannot run it: "
                    f"add how to drive it (target, form, what it writes) to ACTIONS in {__name__}",
                )
        for key in ACTIONS:
            with self.subTest(table_entry=key):
                self.assertTrue(key in offered, f"ACTIONS names {key}, which nobody is offered")

    def test_no_admin_offers_djangos_delete_selected(self):
        # Nothing is deleted through the admin's generic action: it bypasses the services.
        for label, model_admin in self.registered().items():
            for persona in PERSONAS:
                actions = self.offered_actions(model_admin, self.user(persona))
                for name, (func, _, _) in actions.items():
                    with self.subTest(admin=label, persona=persona, action=name):
                        self.assertIsNot(func, django_actions.delete_selected)

    def test_read_only_admins_let_nobody_add_or_change(self):
        for label, model_admin in self.registered().items():
            forms = FORMS.get(label)
            if forms is None:
                continue
            for persona in PERSONAS:
                request = self.request_for(self.user(persona))
                with self.subTest(admin=label, persona=persona):
                    if forms.add is None:
                        self.assertFalse(model_admin.has_add_permission(request))
                    if forms.change is None:
                        self.assertFalse(model_admin.has_change_permission(request))

    # -- forms -------------------------------------------------------------------------

    def change_target(self, model_admin, user):
        request = self.request_for(user)
        if not model_admin.has_change_permission(request):
            return None
        for obj in model_admin.get_queryset(request)[:50]:
            if model_admin.has_change_permission(request, obj):
                return obj
        return None

    def post_form(self, url: str, values: dict):
        """GET ``url``, fill its form with ``values`` as a user types them, POST it."""
        page = self.client.get(url)
        self.assertEqual(page.status_code, 200, url)
        data = submitted(main_form(page.content.decode()))
        data.update({name: [str(value)] for name, value in values.items()})
        response = self.client.post(url, data)
        self.assertEqual(
            response.status_code, 302, f"{url} refused the form: {page_errors(body(response))}"
        )
        return response

    def assert_recorded(self, model, forms: Forms, user, marks, *, action_flag, pk=None):
        """A new history row (or admin log entry) for ``model`` by ``user``, with a reason."""
        if forms.recorded == ADMIN_LOG:
            entries = LogEntry.objects.filter(
                pk__gt=marks["log"],
                user=user,
                content_type=ContentType.objects.get_for_model(model),
                action_flag=action_flag,
            )
            if pk is not None:
                entries = entries.filter(object_id=str(pk))
            self.assertTrue(entries.exists(), f"no admin log entry by {user}")
            return
        history = history_model(model)
        rows = history.objects.filter(
            **{f"{history._meta.pk.attname}__gt": marks[history], "history_user": user}
        )
        if pk is not None:
            rows = rows.filter(**{model._meta.concrete_model._meta.pk.attname: pk})
        kind = "+" if action_flag == ADDITION else "~"
        row = rows.filter(history_type=kind).first()
        self.assertIsNotNone(row, f"no {kind} history row by {user} in {history._meta.label}")
        self.assertTrue(row.history_change_reason, "a history row without a reason")

    def marks(self) -> dict:
        return {
            **history_marks(),
            "log": LogEntry.objects.aggregate(m=Max("pk"))["m"] or 0,
            "access": AccessLog.objects.aggregate(m=Max("pk"))["m"] or 0,
        }

    def test_every_add_and_change_form_records_its_actor(self):
        for label, model_admin in self.registered().items():
            forms = FORMS.get(label)
            if forms is None:  # reported by the inventory test
                continue
            opts = model_admin.opts
            for persona in PERSONAS:
                user = self.user(persona)
                self.login(user)
                request = self.request_for(user)
                if forms.add is not None and model_admin.has_add_permission(request):
                    with self.subTest(admin=label, persona=persona, form="add"):
                        marks = self.marks()
                        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
                        self.post_form(url, forms.add(persona))
                        self.assert_recorded(
                            model_admin.model, forms, user, marks, action_flag=ADDITION
                        )
                target = self.change_target(model_admin, user) if forms.change else None
                if target is not None:
                    with self.subTest(admin=label, persona=persona, form="change"):
                        marks = self.marks()
                        url = reverse(
                            f"admin:{opts.app_label}_{opts.model_name}_change", args=[target.pk]
                        )
                        self.post_form(url, forms.change(persona))
                        self.assert_recorded(
                            model_admin.model, forms, user, marks, action_flag=CHANGE, pk=target.pk
                        )

    def test_the_table_reaches_every_form_some_persona_may_use(self):
        # Guards the test above against passing by driving nothing.
        for label, model_admin in self.registered().items():
            forms = FORMS.get(label, READ_ONLY)
            users = [self.user(p) for p in PERSONAS]
            if forms.add is not None:
                with self.subTest(admin=label, form="add"):
                    self.assertTrue(
                        any(model_admin.has_add_permission(self.request_for(u)) for u in users)
                    )
            if forms.change is not None:
                with self.subTest(admin=label, form="change"):
                    self.assertTrue(any(self.change_target(model_admin, u) for u in users))

    # -- actions -----------------------------------------------------------------------

    def run_action(self, model_admin, name: str, action: Action, user):
        """Run ``name`` on one row through the changelist, and its intermediate form if any."""
        opts = model_admin.opts
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        if action.target is None:
            target = model_admin.get_queryset(self.request_for(user)).first()
        else:
            target = action.target(self, user)
        data = {"action": name, "index": "0", admin.helpers.ACTION_CHECKBOX_NAME: [target.pk]}
        response = self.client.post(changelist, data)
        if action.export:
            self.assertEqual(response.status_code, 200, "the export form")
            form = main_form(response.content.decode())
            export = submitted(form)
            export["format"] = ["0"]  # CSV
            response = self.client.post(form.action, export)
            self.assertEqual(response.status_code, 200)
            self.assertIn("text/csv", response["Content-Type"])
            body(response)  # streamed: the rows are read as the file is sent
            return target
        if action.form(self, user):
            # The intermediate page: its own form, filled in and sent back.
            self.assertEqual(response.status_code, 200, f"{name}'s intermediate page")
            page = response.content.decode()
            values = submitted(main_form(page))
            values.update({k: [str(v)] for k, v in action.form(self, user).items()})
            response = self.client.post(changelist, values)
        self.assertEqual(response.status_code, 302, page_errors(body(response)))
        return target

    def test_every_action_records_its_actor_and_every_export_records_no_history(self):
        for (label, name), action in ACTIONS.items():
            model_admin = self.registered().get(label)
            if model_admin is None:  # reported by the inventory test
                continue
            for persona in PERSONAS:
                user = self.user(persona)
                if name not in self.offered_actions(model_admin, user):
                    continue
                with self.subTest(admin=label, action=name, persona=persona):
                    self.login(user)
                    marks = self.marks()
                    target = self.run_action(model_admin, name, action, user)
                    if action.logged is not None:
                        logged = AccessLog.objects.filter(
                            pk__gt=marks["access"], actor=user, action=action.logged
                        )
                        self.assertTrue(logged.exists(), f"no {action.logged} access-log row")
                    elif action.writes is None:
                        after = history_marks()
                        written = [m._meta.label for m in after if after[m] != marks[m]]
                        self.assertEqual(written, [], "a read-only action wrote history")
                    elif action.writes is Group:
                        forms = Forms(recorded=ADMIN_LOG)
                        self.assert_recorded(
                            Group, forms, user, marks, action_flag=DELETION, pk=target.pk
                        )
                    elif action.creates:
                        self.assert_recorded(
                            action.writes, Forms(), user, marks, action_flag=ADDITION
                        )
                    else:
                        self.assert_recorded(
                            action.writes, Forms(), user, marks, action_flag=CHANGE, pk=target.pk
                        )

    # -- roles (a many-to-many) --------------------------------------------------------

    def test_a_role_change_in_the_admin_records_the_actor_on_every_row_it_writes(self):
        self.login(self.admin)
        marks = history_marks()
        url = reverse("admin:people_user_change", args=[self.front_desk.pk])
        auditor = Group.objects.get(name=roles.AUDITOR)
        page = self.client.get(url)
        data = submitted(main_form(page.content.decode()))
        data["groups"] = [str(auditor.pk), str(self.team.pk)]
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 302, page_errors(body(response)))
        rows = list(
            User.history.filter(id=self.front_desk.pk, history_id__gt=marks[User.history.model])
        )
        self.assertGreaterEqual(len(rows), 2, "the save and the group change")
        self.assertEqual({r.history_user for r in rows}, {self.admin})
        self.assertEqual({r.history_change_reason for r in rows}, {"Changed in admin: Groups"})
        latest = max(rows, key=lambda r: r.history_id)
        self.assertEqual(
            sorted(g.group.name for g in latest.groups.all()), [roles.AUDITOR, "Night team"]
        )

    def test_a_role_change_by_the_service_records_the_actor_on_every_row_it_writes(self):
        marks = history_marks()
        user_set_role(user=self.steward, role=roles.AUDITOR, actor=self.operator, reason="Moved")
        rows = list(
            User.history.filter(id=self.steward.pk, history_id__gt=marks[User.history.model])
        )
        self.assertEqual(len(rows), 2, "one row for the removal, one for the addition")
        self.assertEqual(
            {(r.history_user, r.history_change_reason) for r in rows}, {(self.operator, "Moved")}
        )


class UntrackedUpdateGuardTests(ClinicTestCase):
    """``QuerySet.update()`` on a model with history fails a test unless history-aware."""

    def test_it_refuses_an_update_of_a_tracked_model(self):
        for queryset, values in (
            (Patient.objects.filter(pk=self.other_patient.pk), {"city": "Salem"}),
            (Doctor.objects.all(), {"city": "Salem"}),
            (User.objects.filter(pk=self.bob.pk), {"first_name": "Robert"}),
            (PatientShare.objects.all(), {"reason": "Rewritten"}),
            (PatientUserObjectPermission.objects.all(), {"user": self.bob}),
        ):
            with self.subTest(model=queryset.model._meta.label):
                with self.assertRaises(UntrackedUpdateError):
                    queryset.update(**values)
        self.assertEqual(Patient.objects.get(pk=self.other_patient.pk).city, "")

    def test_it_refuses_a_work_queue_proxy_and_a_bare_bulk_update(self):
        with self.assertRaises(UntrackedUpdateError):
            UnassignedPatient.objects.filter(pk=self.other_patient.pk).update(city="X")
        self.other_patient.city = "Elsewhere"
        with self.assertRaises(UntrackedUpdateError):
            Patient.objects.bulk_update([self.other_patient], ["city"])

    def test_it_lets_bulk_update_with_history_and_untracked_models_through(self):
        self.other_patient.city = "Lynn"
        bulk_update_with_history([self.other_patient], Patient, ["city"], default_user=self.admin)
        self.assertEqual(Patient.objects.get(pk=self.other_patient.pk).city, "Lynn")
        Sequence.objects.create(name="test")
        self.assertEqual(Sequence.objects.filter(name="test").update(value=3), 1)
        self.assertEqual(Profile.objects.filter(user=self.bob).update(title="Dr"), 1)

    def test_it_lets_an_explained_update_through_and_only_inside_the_block(self):
        with allow_untracked_update("a test of the guard"):
            Patient.objects.filter(pk=self.other_patient.pk).update(city="Salem")
        self.assertEqual(Patient.objects.get(pk=self.other_patient.pk).city, "Salem")
        with self.assertRaises(UntrackedUpdateError):
            Patient.objects.filter(pk=self.other_patient.pk).update(city="Lynn")

    def test_it_wants_a_reason(self):
        with self.assertRaises(ValueError), allow_untracked_update("  "):
            pass

    def test_it_knows_which_models_have_history(self):
        self.assertTrue(is_tracked(Patient))
        self.assertTrue(is_tracked(User))
        self.assertFalse(is_tracked(Sequence))
        self.assertFalse(is_tracked(Profile))
        self.assertFalse(is_tracked(Group))
