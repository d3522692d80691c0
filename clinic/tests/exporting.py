"""Helpers for export tests: the admin's export driven as a person clicks it.

The changelist's Export link is followed as rendered, and the export form is posted
to the action the page renders (not to a URL the test builds), so a template that
drops the list's query string fails the test as it fails a user.
"""

import csv
import html
import io
import re

import openpyxl
from django.forms import BooleanField

#: Index of each format in settings.IMPORT_EXPORT_FORMATS.
FORMATS = {"csv": 0, "xlsx": 1}

_EXPORT_LINK = re.compile(r'<a href="([^"]*/export/[^"]*)"')
_POST_FORM = re.compile(r'<form action="([^"]*)" method="POST"', re.IGNORECASE)


def listed(changelist_response) -> list:
    """The objects the changelist page shows, in its order."""
    return list(changelist_response.context["cl"].result_list)


def export_link(changelist_response) -> str | None:
    """The href of the changelist's Export button, or None when there is none."""
    found = _EXPORT_LINK.search(changelist_response.content.decode())
    return html.unescape(found.group(1)) if found else None


def form_action(page_response) -> str:
    """The action of the export page's form, as the browser would post it."""
    actions = _POST_FORM.findall(page_response.content.decode())
    assert actions, "the page has no POST form"
    return html.unescape(actions[-1]) or page_response.wsgi_request.get_full_path()


def form_data(page_response, file_format: str) -> dict:
    """What submitting the export page sends: its initial values and ``file_format``."""
    form = page_response.context["form"]
    data = {"format": FORMATS[file_format], "resource": form.initial.get("resource", 0)}
    for name, field in form.fields.items():
        if isinstance(field, BooleanField) and form.get_initial_for_field(field, name):
            data[name] = "on"
    if "export_items" in form.fields:
        data["export_items"] = [str(pk) for pk in form.initial.get("export_items", [])]
    return data


def submit(client, page_response, file_format: str, **overrides):
    """POST the export page's form where it posts; returns the file response."""
    data = {**form_data(page_response, file_format), **overrides}
    return client.post(form_action(page_response), data)


def export_from_changelist(client, changelist_url: str, file_format: str):
    """Open ``changelist_url``, click Export, submit the form; returns (list page, file)."""
    page = client.get(changelist_url)
    assert page.status_code == 200, page.status_code
    link = export_link(page)
    assert link is not None, "the changelist shows no Export button"
    export_page = client.get(link)
    assert export_page.status_code == 200, export_page.status_code
    return page, submit(client, export_page, file_format)


def export_selected(client, changelist_url: str, pks, file_format: str, **overrides):
    """Tick ``pks`` on ``changelist_url``, run "Export selected", submit the form."""
    export_page = client.post(
        changelist_url,
        {"action": "export_admin_action", "_selected_action": [str(pk) for pk in pks]},
    )
    assert export_page.status_code == 200, export_page.status_code
    return export_page, submit(client, export_page, file_format, **overrides)


def content(file_response) -> bytes:
    """The whole exported file, streamed (CSV) or not (XLSX), as the browser saves it.

    A streamed response can be read only once, so its bytes are kept on the
    response and every later call (``rows``, ``column``, a search for a leaked
    value) sees the same file.
    """
    if not file_response.streaming:
        return file_response.content
    if not hasattr(file_response, "exported_bytes"):
        file_response.exported_bytes = b"".join(file_response.streaming_content)
    return file_response.exported_bytes


def rows(file_response, file_format: str) -> list[dict]:
    """The exported rows as dicts keyed by column name."""
    assert file_response.status_code == 200, file_response.status_code
    if file_format == "csv":
        return list(csv.DictReader(io.StringIO(content(file_response).decode("utf-8"))))
    sheet = openpyxl.load_workbook(io.BytesIO(content(file_response))).active
    header, *body = sheet.iter_rows(values_only=True)
    return [dict(zip(header, values, strict=True)) for values in body]


def column(file_response, file_format: str, name: str) -> list[str]:
    """One column of the export, in file order."""
    return [row[name] for row in rows(file_response, file_format)]
