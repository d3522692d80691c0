"""Jazzmin theme settings (https://django-jazzmin.readthedocs.io/configuration/).

Imported by ``backoffice.settings``; kept here so the settings module stays about
the environment and this file about how the admin looks.
"""

JAZZMIN_SETTINGS = {
    "site_title": "Clinic back office",
    "site_header": "Clinic back office",
    "site_brand": "Clinic back office",
    "welcome_sign": "Sign in to the clinic back office",
    "copyright": "Clinic back office",
    "user_avatar": None,
    "search_model": ["clinic.Patient", "clinic.Doctor"],
    "topmenu_links": [
        {"name": "Home", "url": "admin:index"},
        {"model": "clinic.Patient"},
        {"model": "clinic.Doctor"},
    ],
    "order_with_respect_to": [
        "clinic",
        "clinic.patient",
        "clinic.unassignedpatient",
        "clinic.archivedpatient",
        "clinic.doctor",
        "clinic.organization",
        "people",
        "audit",
        # The Audit section's entries: custom links (names, lower case), below.
        "audit trail",
        "access log",
        "import jobs",
        "audit seals",
        "imports",
        "auth",
    ],
    "icons": {
        "clinic.patient": "fas fa-user-injured",
        "clinic.unassignedpatient": "fas fa-user-clock",
        "clinic.archivedpatient": "fas fa-archive",
        "clinic.doctor": "fas fa-user-md",
        "clinic.organization": "fas fa-hospital",
        "people.user": "fas fa-user",
        "people.loginevent": "fas fa-sign-in-alt",
        "auth.group": "fas fa-users",
        "imports.importjob": "fas fa-file-import",
        "audit": "fas fa-clipboard-check",
    },
    # The Audit section (issue 7): the trail, the access log, import jobs and seals,
    # each for the roles that may open it (people/roles.py). Custom links instead of
    # the models' own entries, so that a doctor, who holds audit.view_accesslog for
    # their own patients' rows, sees "Audit trail" only, and so that import jobs (an
    # app of their own) appear here for those who read everyone's. The stewards keep
    # their own jobs under "Imports".
    "hide_models": ["audit.accesslog", "audit.auditseal"],
    "custom_links": {
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
        ]
    },
    "default_icon_children": "fas fa-circle",
    "related_modal_active": False,
    "changeform_format": "horizontal_tabs",
    "changeform_format_overrides": {"people.user": "collapsible"},
    "show_ui_builder": False,
}

JAZZMIN_UI_TWEAKS = {
    "theme": "default",
    "navbar": "navbar-white navbar-light",
    "sidebar": "sidebar-dark-primary",
    "actions_sticky_top": True,
}
