"""Jazzmin theme settings (https://django-jazzmin.readthedocs.io/configuration/).

Imported by ``backoffice.settings``; kept here so the settings module stays about
the environment and this file about how the admin looks. Nothing here imports a
model: the settings module loads it before the apps are ready.

The side menu's sections are :data:`SECTIONS`; ``admin_ext.site`` regroups the
admin's app list into them (Django's ``AdminSite.get_app_list``), so each section
shows only the models the admin's own permission hooks let the user open, and the
icons and order below are derived from the same table.
"""

#: The side menu (and the dashboard's app list): ``(label, name, icon, models)``,
#: each model as ``(app_label.model_name, icon)``. A section's label is what jazzmin
#: keys its icons, order and ``custom_links`` on; "imports" and "audit" are the apps'
#: own labels, so their custom links below attach to them. Registered models that no
#: section names stay in their app's own section.
SECTIONS = [
    (
        "patients",
        "Patients",
        "fas fa-user-injured",
        [
            ("clinic.patient", "fas fa-user-injured"),
            ("clinic.unassignedpatient", "fas fa-user-clock"),
            ("clinic.archivedpatient", "fas fa-archive"),
        ],
    ),
    (
        "doctors",
        "Doctors and sites",
        "fas fa-user-md",
        [("clinic.doctor", "fas fa-user-md"), ("clinic.organization", "fas fa-hospital")],
    ),
    ("imports", "Imports", "fas fa-file-import", [("imports.importjob", "fas fa-file-import")]),
    (
        "audit",
        "Audit",
        "fas fa-clipboard-check",
        [("audit.accesslog", "fas fa-eye"), ("audit.auditseal", "fas fa-link")],
    ),
    (
        "administration",
        "Administration",
        "fas fa-users-cog",
        [
            ("people.user", "fas fa-user"),
            ("auth.group", "fas fa-users"),
            ("people.loginevent", "fas fa-sign-in-alt"),
            # django-axes' failed sign-ins: lockouts, and unlocking (people.lockout_admin).
            ("axes.accessattempt", "fas fa-user-lock"),
        ],
    ),
]


# Import links, each shown to holders of every permission it lists: an import takes
# import, add and change on its model (ClinicModelAdmin.has_import_permission), a
# Synthea folder also add and change on doctors and organizations, which it writes
# (SyntheaFolderImportMixin.has_synthea_import_permission).
def _import_perms(*models: str) -> list[str]:
    first, *others = models
    perms = [f"clinic.{action}_{first}" for action in ("import", "add", "change")]
    return perms + [f"clinic.{action}_{m}" for m in others for action in ("add", "change")]


_IMPORTS = [
    (
        "Import Synthea folder",
        "admin:clinic_patient_synthea_import",
        "fas fa-folder-open",
        _import_perms("patient", "doctor", "organization"),
    ),
    (
        "Import patients",
        "admin:clinic_patient_import",
        "fas fa-user-plus",
        _import_perms("patient"),
    ),
    ("Import doctors", "admin:clinic_doctor_import", "fas fa-user-md", _import_perms("doctor")),
    (
        "Import organizations",
        "admin:clinic_organization_import",
        "fas fa-hospital",
        _import_perms("organization"),
    ),
]


def user_avatar(user) -> str:
    """The avatar jazzmin draws for ``user`` (its ``user_avatar`` setting): the URL of
    the permission-checked photo view (``people.views.profile_photo``), which answers
    the profile photo or the default avatar. Costs no query: the page never needs to
    know whether there is a photo."""
    from django.urls import reverse  # the settings module imports this file early

    return reverse("profile_photo", args=[user.pk])


JAZZMIN_SETTINGS = {
    "site_title": "Clinic back office",
    "site_header": "Clinic back office",
    "site_brand": "Clinic back office",
    "site_logo": "admin_ext/logo.svg",
    "site_logo_classes": "brand-image-plain",
    "site_icon": "admin_ext/favicon.png",
    "welcome_sign": "Sign in with your work email",
    "copyright": "Clinic back office",
    "user_avatar": user_avatar,
    # Served from our own static files: no third-party request from any page (the
    # font stack is in admin_ext/backoffice.css).
    "use_google_fonts_cdn": False,
    "custom_css": "admin_ext/backoffice.css",
    "search_model": ["clinic.Patient"],
    "topmenu_links": [
        {"name": "Dashboard", "url": "admin:index"},
        # A URL link, not {"model": ...}: jazzmin shows model links only to holders of
        # the model permission, and a doctor sees patients through object grants.
        {"name": "Patients", "url": "admin:clinic_patient_changelist"},
        {"model": "clinic.Doctor"},
    ],
    "usermenu_links": [
        {"name": "My profile", "url": "my_profile", "icon": "fas fa-id-card"},
        # Enrol, new recovery codes, turn off (people.two_factor.views.manage).
        {"name": "Two-factor sign-in", "url": "two_factor", "icon": "fas fa-mobile-alt"},
    ],
    "order_with_respect_to": [
        *(label for label, _name, _icon, _models in SECTIONS),
        *(
            f"{label}.{model.split('.')[1]}"
            for label, _n, _i, models in SECTIONS
            for model, _ in models
        ),
        # Custom links (names, lower case), below.
        *(name.lower() for name, _url, _icon, _perms in _IMPORTS),
        "audit trail",
        "access log",
        "import jobs",
        "audit seals",
    ],
    "icons": {
        **{label: icon for label, _name, icon, _models in SECTIONS},
        # Side menu entries are keyed by section, top menu links by model.
        **{
            f"{label}.{model.split('.')[1]}": icon
            for label, _name, _icon, models in SECTIONS
            for model, icon in models
        },
        **{model: icon for _l, _n, _i, models in SECTIONS for model, icon in models},
    },
    # The Audit section (issue 7): the trail, the access log, import jobs and seals,
    # each for the roles that may open it (people/roles.py). Custom links instead of
    # the models' own entries, so that a doctor, who holds audit.view_accesslog for
    # their own patients' rows, sees "Audit trail" only, and so that import jobs (an
    # app of their own) appear here for those who read everyone's. The stewards keep
    # their own jobs under "Imports".
    "hide_models": ["audit.accesslog", "audit.auditseal"],
    "custom_links": {
        "imports": [
            {
                "name": name,
                "url": url,
                "icon": icon,
                "permissions": permissions,
            }
            for name, url, icon, permissions in _IMPORTS
        ],
        "audit": [
            {
                "name": "Audit trail",
                "url": "admin:audit_trail",
                "icon": "fas fa-stream",
                "permissions": ["audit.view_accesslog"],
            },
            {
                "name": "Access log",
                "url": "admin:audit_accesslog_changelist",
                "icon": "fas fa-eye",
                "permissions": ["audit.view_accesslog", "audit.view_all_accesslog"],
            },
            {
                "name": "Import jobs",
                "url": "admin:imports_importjob_changelist",
                "icon": "fas fa-file-import",
                "permissions": ["imports.view_importjob", "imports.view_all_importjobs"],
            },
            {
                "name": "Audit seals",
                "url": "admin:audit_auditseal_changelist",
                "icon": "fas fa-link",
                "permissions": ["audit.view_auditseal"],
            },
        ],
    },
    "default_icon_parents": "fas fa-folder",
    "default_icon_children": "fas fa-circle",
    # Add and change links beside a related field open the other form in a modal
    # (an iframe: X_FRAME_OPTIONS is SAMEORIGIN); it saves through its admin's service
    # and hands the new choice back as Django's popup does.
    "related_modal_active": True,
    # One page in sections, for every form: every field, and every error, in view
    # without a tab click (tabs hid required fields' errors on the tabs not shown).
    "changeform_format": "single",
    "changeform_format_overrides": {"people.user": "collapsible"},
    "show_ui_builder": False,
}

JAZZMIN_UI_TWEAKS = {
    "theme": "default",
    "navbar": "navbar-white navbar-light",
    "sidebar": "sidebar-dark-primary",
    "actions_sticky_top": True,
}
