"""Every admin changelist and change page runs within a fixed query budget (issue 8, item 5).

Each page is opened at 10 and at 1,000 rows of every model and must stay within
the same budget (``BUDGETS``) at both sizes, so a query per row (an N+1: a
foreign key or a many-to-many drawn without ``list_select_related``,
``prefetch_related`` or an annotation) fails here, not in production. The page is
opened once to warm per-process caches (content types, permissions) and then
measured.

A newly registered ModelAdmin fails ``test_every_admin_page_has_a_budget`` until
its pages get a line in ``BUDGETS``.
"""

import datetime
import itertools

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from admin_ext.audit.models import AccessLog, AuditSeal
from admin_ext.imports.models import ImportJob
from clinic.models import (
    ArchivedPatient,
    Doctor,
    Organization,
    Patient,
    PatientUserObjectPermission,
    UnassignedPatient,
)
from people import roles
from people.models import LoginEvent, Profile, User
from people.services import user_create
from people.two_factor.testing import sign_in

#: Row counts each page is measured at; the budget is the same at both.
SIZES = (10, 1_000)

#: The viewers: a superuser sees every page; a doctor sees patients through
#: per-object grants (the visibility rule's subqueries), on the patient pages.
OPERATOR, DOCTOR = "operator", "doctor"

#: What any signed-in request costs besides its page, the same on every page and at any
#: size (added to each budget below), by what costs it.
SIGNED_IN_COSTS = {
    # people.two_factor: the session's verified device (django-otp's OTPMiddleware), or
    # for an unverified session whether the user is enrolled or required to be.
    "two-factor sign-in": 1,
    # SESSION_SAVE_EVERY_REQUEST (the idle timeout renews the session on every
    # request): UPDATE django_session inside a savepoint.
    "session renewal": 3,
}
SIGNED_IN = sum(SIGNED_IN_COSTS.values())

#: Queries per page and viewer, at any number of rows: {(URL name, viewer): budget}.
#: A page missing here fails the test; add it with the count the test reports
#: after checking that the count does not grow with the rows.
BUDGETS = {
    ("clinic_patient_changelist", OPERATOR): 8,
    ("clinic_patient_change", OPERATOR): 10,
    ("clinic_patient_changelist", DOCTOR): 10,
    ("clinic_patient_change", DOCTOR): 13,
    ("clinic_unassignedpatient_changelist", OPERATOR): 8,
    ("clinic_unassignedpatient_change", OPERATOR): 7,
    ("clinic_archivedpatient_changelist", OPERATOR): 7,
    ("clinic_archivedpatient_change", OPERATOR): 8,
    ("clinic_doctor_changelist", OPERATOR): 7,
    ("clinic_doctor_change", OPERATOR): 9,
    ("clinic_organization_changelist", OPERATOR): 7,
    ("clinic_organization_change", OPERATOR): 6,
    ("people_user_changelist", OPERATOR): 9,
    ("people_user_change", OPERATOR): 9,
    ("people_loginevent_changelist", OPERATOR): 9,
    ("people_loginevent_change", OPERATOR): 6,
    ("auth_group_changelist", OPERATOR): 7,
    ("auth_group_change", OPERATOR): 7,
    ("imports_importjob_changelist", OPERATOR): 10,
    ("imports_importjob_change", OPERATOR): 12,
    ("audit_accesslog_changelist", OPERATOR): 6,
    ("audit_accesslog_change", OPERATOR): 7,
    ("audit_auditseal_changelist", OPERATOR): 6,
    ("audit_auditseal_change", OPERATOR): 5,
    ("axes_accessattempt_changelist", OPERATOR): 9,
    ("axes_accessattempt_change", OPERATOR): 5,
}


def admin_pages() -> list[tuple[str, str]]:
    """``(URL name, viewer)`` of every registered admin's changelist and change page,
    for the superuser, and for the doctor on the pages of models with a visibility rule."""
    pages = []
    for model in admin.site._registry:
        opts = model._meta
        for page in ("changelist", "change"):
            url_name = f"{opts.app_label}_{opts.model_name}_{page}"
            pages.append((url_name, OPERATOR))
            if model is Patient:
                pages.append((url_name, DOCTOR))
    return pages


def build(size: int) -> dict:
    """``size`` rows of every registered model (each patient with a doctor of its own,
    each doctor with a site and a login of its own, so a query per row shows), plus the
    viewers; returns the viewers and one object per admin to open the change page of."""
    now = timezone.now()
    operator = user_create(
        email="budget-operator@example.com",
        password="x",
        role=roles.ADMINISTRATOR,
        is_superuser=True,
        actor=None,
        reason="test",
    )
    doctor_user = user_create(
        email="budget-doctor@example.com", password="x", role=roles.DOCTOR, actor=None, reason="t"
    )
    users = User.objects.bulk_create(
        User(email=f"user{i}@budget.example", first_name="U", last_name=str(i), password="!")
        for i in range(size)
    )
    Profile.objects.bulk_create(Profile(user=u) for u in users)
    role_groups = list(Group.objects.all())
    User.groups.through.objects.bulk_create(
        User.groups.through(user=u, group=g)
        for u, g in zip(users, itertools.cycle(role_groups), strict=False)
    )
    groups = Group.objects.bulk_create(Group(name=f"Team {i}") for i in range(size))
    sites = Organization.objects.bulk_create(
        Organization(external_id=f"org-{i}", name=f"Site {i}", city="Boston", state="MA")
        for i in range(size)
    )
    doctors = Doctor.objects.bulk_create(
        Doctor(
            external_id=f"doc-{i}",
            first_name="Doc",
            last_name=f"Tor {i}",
            specialty=f"SPECIALTY {i}",
            organization=site,
            user=user,
        )
        # The first doctor is the doctor viewer.
        for i, (site, user) in enumerate(zip(sites, [doctor_user, *users[1:]], strict=True))
    )

    MRN_DIGIT = {"assigned": 1, "unassigned": 2, "archived": 3}

    def patients(prefix, extra):
        return Patient.objects.bulk_create(
            Patient(
                external_id=f"{prefix}-{i}",
                mrn=f"{MRN_DIGIT[prefix]}{i:07d}",
                first_name="Pat",
                last_name=f"{prefix} {i}",
                birth_date=datetime.date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
                gender="F",
                match_key=f"{prefix}-{i}",
                **extra(i),
            )
            for i in range(size)
        )

    assigned = patients("assigned", lambda i: {"primary_doctor": doctors[i]})
    unassigned = patients("unassigned", lambda i: {})
    archived = patients(
        "archived", lambda i: {"primary_doctor": doctors[i], "status": Patient.Status.ARCHIVED}
    )
    grants = Permission.objects.filter(codename__in=["view_patient", "change_patient"])
    PatientUserObjectPermission.objects.bulk_create(
        PatientUserObjectPermission(user=doctor_user, permission=perm, content_object=patient)
        for patient in assigned
        for perm in grants
    )
    LoginEvent.objects.bulk_create(
        LoginEvent(user=u, email=u.email, kind=LoginEvent.Kind.SUCCESS, ip_address="10.0.0.1")
        for u in users
    )
    jobs = ImportJob.objects.bulk_create(
        ImportJob(
            actor=u,
            actor_label=u.email,
            source=ImportJob.Source.ADMIN,
            kind="Synthea folder",
            status=ImportJob.Status.SUCCEEDED,
            files=["patients.csv"],
            counts={"new": 1},
            started_at=now,
            finished_at=now,
        )
        for u in users
    )
    patient_type = ContentType.objects.get_for_model(Patient)
    logs = AccessLog.objects.bulk_create(
        AccessLog(
            actor=u,
            actor_label=u.email,
            action=AccessLog.Action.VIEW,
            content_type=patient_type,
            object_id=str(p.pk),
            object_repr=str(p),
        )
        for u, p in zip(users, assigned, strict=True)
    )
    # Sign-in lockouts (django-axes), one per user, each from an IP of its own.
    attempts = AccessAttempt.objects.bulk_create(
        AccessAttempt(
            username=u.email,
            ip_address=f"10.1.{i // 250}.{i % 250}",
            user_agent="Budget",
            failures_since_start=1 + i % 6,
            attempt_time=now,
        )
        for i, u in enumerate(users)
    )
    seals = AuditSeal.objects.bulk_create(
        AuditSeal(previous=f"{i:064x}", digest=f"{i + 1:064x}", row_count=i, rows=b"")
        for i in range(size)
    )
    return {
        "viewers": {OPERATOR: operator, DOCTOR: doctor_user},
        "objects": {
            Patient: assigned[-1],
            UnassignedPatient: unassigned[-1],
            ArchivedPatient: archived[-1],
            Doctor: doctors[-1],
            Organization: sites[-1],
            User: users[-1],
            Group: groups[-1],
            LoginEvent: LoginEvent.objects.latest("pk"),
            ImportJob: jobs[-1],
            AccessLog: logs[-1],
            AuditSeal: seals[-1],
            AccessAttempt: attempts[-1],
        },
    }


@pytest.fixture(scope="module", params=SIZES, ids=lambda size: f"{size}-rows")
def dataset(request, django_db_setup, django_db_blocker):
    """The rows of ``build(size)``, made once per size for the module and rolled back after."""
    with django_db_blocker.unblock(), transaction.atomic():
        data = build(request.param)
        data["size"] = request.param
        yield data
        transaction.set_rollback(True)


def test_every_admin_page_has_a_budget():
    missing = [page for page in admin_pages() if page not in BUDGETS]
    assert not missing, (
        f"No query budget for {missing}: add each page to BUDGETS in "
        "admin_ext/tests/test_query_budgets.py with the count test_page_stays_within_budget "
        "reports, after checking it is the same at 10 and at 1,000 rows."
    )


@pytest.mark.parametrize(("url_name", "viewer"), admin_pages())
def test_page_stays_within_budget(
    url_name, viewer, dataset, db, client, django_assert_max_num_queries
):
    if (url_name, viewer) not in BUDGETS:
        pytest.fail(f"No query budget for {url_name} ({viewer}): add it to BUDGETS.")
    model = next(m for m in admin.site._registry if url_name.rsplit("_", 1)[0] == _prefix(m))
    sign_in(client, dataset["viewers"][viewer])
    args = [dataset["objects"][model].pk] if url_name.endswith("_change") else []
    url = reverse(f"admin:{url_name}", args=args)
    client.get(url)  # warm the per-process caches

    with django_assert_max_num_queries(BUDGETS[url_name, viewer] + SIGNED_IN):
        response = client.get(url)

    assert response.status_code == 200, (url, response.status_code)
    if url_name.endswith("_changelist"):
        shown = len(response.context["cl"].result_list)
        assert shown >= min(dataset["size"], response.context["cl"].list_per_page), shown


def _prefix(model) -> str:
    return f"{model._meta.app_label}_{model._meta.model_name}"


#: The patient list with every filter of its FilterSet set (clinic.filters): each
#: chosen doctor or site costs one query to check and one to draw, the specialty
#: list one, the full count one and the search's access-log rows one, at any size.
FILTERED_PATIENTS_BUDGET = 15


def test_a_filtered_patient_list_stays_within_budget(
    dataset, db, client, django_assert_max_num_queries
):
    doctor = dataset["objects"][Doctor]
    sign_in(client, dataset["viewers"][OPERATOR])
    query = (
        f"?doctor={doctor.pk}&organization={doctor.organization_id}"
        f"&specialty={doctor.specialty}&age_min=1&age_max=120&birth_date_after=1900-01-01"
        "&created_after=2000-01-01&status=active&gender=F&has_doctor=true&q=Pat"
    )
    url = reverse("admin:clinic_patient_changelist") + query
    client.get(url)

    with django_assert_max_num_queries(FILTERED_PATIENTS_BUDGET + SIGNED_IN):
        response = client.get(url)

    assert [p.pk for p in response.context["cl"].result_list] == [dataset["objects"][Patient].pk]
