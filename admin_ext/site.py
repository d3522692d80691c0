"""What the project changes on Django's default admin site, installed by
``AdminExtConfig.ready``:

- :func:`sectioned_app_list`: the app list (side menu, dashboard) regrouped into
  the sections of ``admin_ext.jazzmin.SECTIONS``;
- :class:`LabelledAutocompleteJsonView`: autocomplete results labelled by the
  target ModelAdmin's ``autocomplete_label(obj)`` where it has one.
"""

import functools

from django.contrib.admin.views.autocomplete import AutocompleteJsonView

from admin_ext.jazzmin import SECTIONS


def sectioned_app_list(app_list: list[dict]) -> list[dict]:
    """Django's app list regrouped into :data:`~admin_ext.jazzmin.SECTIONS`.

    Args: the list ``AdminSite.get_app_list`` built (apps as dicts with ``models``,
    each model dict carrying ``object_name``), already holding only what the user
    may open: the admin's permission hooks decided, per model, so a doctor who sees
    patients through object grants gets the Patients section. Returns sections in
    the table's order (``name``, ``app_label`` = the section label, ``models`` in
    the table's order), empty sections left out, then the apps whose models no
    section names, as they were. The section of a model that belongs to another app
    keeps the model's own ``admin_url``, so every link is the model's own page.
    """
    models = {
        f"{app['app_label']}.{model['object_name']}".lower(): (app, model)
        for app in app_list
        for model in app["models"]
    }
    placed = set()
    sections = []
    for label, name, _icon, members in SECTIONS:
        found = [models[key] for key, _ in members if key in models]
        placed.update(key for key, _ in members if key in models)
        if found:
            app = found[0][0]
            sections.append(
                {
                    **app,
                    "name": name,
                    "app_label": label,
                    "app_url": found[0][1]["admin_url"],
                    "models": [model for _app, model in found],
                }
            )
    rest = []
    for app in app_list:
        left = [
            m
            for m in app["models"]
            if f"{app['app_label']}.{m['object_name']}".lower() not in placed
        ]
        if left:
            rest.append({**app, "models": left})
    return sections + rest


class LabelledAutocompleteJsonView(AutocompleteJsonView):
    """The admin's autocomplete view, with each result's text from the target
    ModelAdmin's ``autocomplete_label(obj)`` when it defines one (else ``str(obj)``),
    e.g. a doctor with their specialty and site. The rows are the target admin's
    ``get_queryset`` as before, so a label that reads a related row needs that
    queryset to select it (no query per result)."""

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        label = getattr(self.model_admin, "autocomplete_label", None)
        if label is not None:
            result["text"] = label(obj)
        return result


def install(site) -> None:
    """Give ``site`` the sectioned app list and the labelled autocomplete (once).

    Instance attributes, read by ``AdminSite.each_context``/``index`` and by
    ``AdminSite.get_urls`` (which runs later, when the URLconf loads). An app index
    page (``get_app_list(request, app_label)``) keeps Django's list of that app.
    """
    if getattr(site, "_admin_ext_installed", False):
        return
    get_app_list = site.get_app_list

    @functools.wraps(get_app_list)
    def get_sectioned_app_list(request, app_label=None):
        app_list = get_app_list(request, app_label)
        return app_list if app_label else sectioned_app_list(app_list)

    site.get_app_list = get_sectioned_app_list
    site.autocomplete_view = lambda request: LabelledAutocompleteJsonView.as_view(admin_site=site)(
        request
    )
    site._admin_ext_installed = True
