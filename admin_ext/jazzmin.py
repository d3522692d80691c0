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
