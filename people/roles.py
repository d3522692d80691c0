"""Roles as data: each role is a Django ``Group`` holding these model permissions.

The table is DESIGN.md's "Who uses it". Data migrations apply it and
``python manage.py sync_roles`` re-applies it (adding and removing permissions so
each group holds exactly this list). A change that names a permission added by a
new migration needs a new people migration that depends on it and re-syncs (see
``people/migrations/0003_roles_enter_ssn_share.py``). Per-object access (a doctor's own patients)
is not here: it comes from django-guardian grants made by the services.
"""

ADMINISTRATOR = "Administrator"
FRONT_DESK = "Front desk"
DOCTOR = "Doctor"
DATA_STEWARD = "Data steward"
AUDITOR = "Auditor"

#: The role a new user gets when none is chosen.
DEFAULT_ROLE = FRONT_DESK


def _crud(model: str, *actions: str) -> list[str]:
    app = "people" if model in ("user", "profile", "loginevent") else "clinic"
    return [f"{app}.{action}_{model}" for action in actions]


_PATIENT_MODELS = ("patient", "unassignedpatient", "archivedpatient")

# Import jobs (admin_ext.imports): view_importjob opens the list with the user's own
# jobs; view_all_importjobs shows everyone's (DESIGN.md: the steward sees "their
# import jobs", auditors read everything).
_OWN_IMPORT_JOBS = ["imports.view_importjob"]
_ALL_IMPORT_JOBS = ["imports.view_importjob", "imports.view_all_importjobs"]

# Audit (admin_ext.audit): view_accesslog opens the audit trail and the access log
# with the rows about records the user may see (a doctor: their own patients);
# view_all_accesslog shows every row; export_audit exports the filtered trail.
_OWN_AUDIT = ["audit.view_accesslog"]
_ALL_AUDIT = ["audit.view_accesslog", "audit.view_all_accesslog", "audit.view_auditseal"]

# Sign-in lockouts (django-axes' failed attempts): administrators and auditors see
# them; administrators unlock (deleting attempts, people.services.lockout_clear).
_SEE_LOCKOUTS = ["axes.view_accessattempt"]
_UNLOCK = ["axes.delete_accessattempt"]

ROLES: dict[str, list[str]] = {
    ADMINISTRATOR: [
        *_crud("organization", "view", "add", "change", "import", "export"),
        *_crud("doctor", "view", "add", "change", "import", "export"),
        *_crud("patient", "view", "add", "change", "import", "export"),
        "clinic.view_ssn",
        "clinic.enter_ssn",
        "clinic.share_patient",
        *[p for m in _PATIENT_MODELS[1:] for p in _crud(m, "view", "change")],
        *_crud("user", "view", "add", "change"),
        *_crud("profile", "view", "change"),
        *_crud("loginevent", "view"),
        "auth.view_group",
        *_ALL_IMPORT_JOBS,
        *_ALL_AUDIT,
        *_SEE_LOCKOUTS,
        *_UNLOCK,
    ],
    FRONT_DESK: [
        *_crud("organization", "view"),
        *_crud("doctor", "view"),
        *_crud("patient", "view", "add", "change"),
        # Registers walk-ins: may type a new patient's SSN without ever reading one.
        "clinic.enter_ssn",
        *[p for m in _PATIENT_MODELS[1:] for p in _crud(m, "view", "change")],
    ],
    # Patients come per object: view_patient/change_patient on each patient the
    # doctor is primary for (granted by clinic.services.patient_assign_primary_doctor).
    DOCTOR: [
        *_crud("organization", "view"),
        *_crud("doctor", "view"),
        *_OWN_AUDIT,
    ],
    DATA_STEWARD: [
        *_crud("organization", "view", "add", "change", "import", "export"),
        *_crud("doctor", "view", "add", "change", "import", "export"),
        *_crud("patient", "view", "add", "change", "import", "export"),
        *[p for m in _PATIENT_MODELS[1:] for p in _crud(m, "view", "change")],
        *_OWN_IMPORT_JOBS,
    ],
    AUDITOR: [
        *_crud("organization", "view", "export"),
        *_crud("doctor", "view", "export"),
        *_crud("patient", "view", "export"),
        *[p for m in _PATIENT_MODELS[1:] for p in _crud(m, "view")],
        *_crud("user", "view"),
        *_crud("loginevent", "view"),
        "auth.view_group",
        *_ALL_IMPORT_JOBS,
        *_ALL_AUDIT,
        "audit.export_audit",
        *_SEE_LOCKOUTS,
    ],
}
