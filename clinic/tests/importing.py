"""Helpers for import tests: small CSV files written by the tests, and the admin's
two-step import (preview, then confirm) driven through the test client."""

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

#: Index of each format in the admin's resource choice (clinic/admin.py resource_classes).
NATIVE, SYNTHEA = 0, 1
#: Index of CSV in settings.IMPORT_EXPORT_FORMATS.
CSV_FORMAT = 0


def csv_text(header, rows) -> str:
    """CSV text (RFC 4180, LF line ends) for ``header`` and ``rows`` (lists of cells)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def upload(name: str, header, rows) -> SimpleUploadedFile:
    """An uploaded CSV file named ``name``."""
    return SimpleUploadedFile(name, csv_text(header, rows).encode("utf-8"), content_type="text/csv")


def preview(client, model_name: str, file, resource: int = NATIVE, **fields):
    """POST the first import step (the dry run) with any extra form ``fields``;
    returns the preview response."""
    return client.post(
        reverse(f"admin:clinic_{model_name}_import"),
        {"resource": resource, "format": CSV_FORMAT, "import_file": file, **fields},
    )


def confirm(client, model_name: str, preview_response):
    """POST the confirm step with the hidden fields the preview rendered."""
    form = preview_response.context["confirm_form"]
    return client.post(reverse(f"admin:clinic_{model_name}_process_import"), form.initial)


def write_csv(path, header, rows) -> None:
    """Write a CSV file at ``path`` (for management-command tests)."""
    path.write_text(csv_text(header, rows), encoding="utf-8")
