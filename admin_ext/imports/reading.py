"""Uploaded files to rows: format by content, text encodings, delimiters, limits.

(DESIGN.md, "Import and export".) An import reads what the user uploaded, whatever
its name says and whatever format the user picked:

- :func:`detect_format` looks at the bytes: a ZIP archive holding an Excel
  workbook part is XLSX (ECMA-376 / ISO/IEC 29500 Office Open XML, Part 2: Open
  Packaging Conventions), any other ZIP is a folder upload handled elsewhere, known
  binary formats (PDF, images, compressed files, Excel 97-2003 ``.xls``) are
  refused by name, and everything else must be text;
- :func:`decode_text` chooses the encoding: a Unicode byte order mark (The Unicode
  Standard, section 23.8 "Specials", U+FEFF) when there is one, UTF-16 without one
  when every other byte is NUL, then UTF-8, then Windows-1252 (what Excel's plain
  "CSV (Comma delimited)" writes on a Western-European Windows);
- :func:`sniff_delimiter` chooses comma, semicolon (Excel where the decimal
  separator is a comma), tab (Excel's "Text (Tab delimited)" and "Unicode Text") or
  pipe;
- :func:`read_table` returns a :class:`Table` (headers and rows of text) for an
  admin upload, within the limits of ``settings.IMPORT_MAX_UPLOAD_BYTES``,
  ``IMPORT_MAX_ROWS`` and ``IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES``;
- :func:`iter_csv_file` streams a large CSV file from disk (``import_synthea``),
  in memory that does not grow with the file.

CSV syntax is RFC 4180: quoted fields may hold delimiters, doubled quotes and line
breaks, and lines may end in CRLF, LF or CR. Row numbers are spreadsheet row numbers,
as in ``admin_ext.imports.resources``: the header is row 1, the first data row is
row 2, and a quoted field spanning several lines still counts as one row.

Every problem is an :class:`ImportFileError` whose message is a sentence naming the
file and, where there is one, the row, the column and the value.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import itertools
import logging
import re
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import tablib
from django.conf import settings
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

logger = logging.getLogger(__name__)

__all__ = [
    "ImportFileError",
    "Table",
    "check_upload_size",
    "decode_text",
    "detect_format",
    "iter_csv_file",
    "read_table",
    "sniff_delimiter",
]

#: Fallbacks for the settings of the same meaning (backoffice/settings.py).
DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_ROWS = 25_000
DEFAULT_MAX_XLSX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024

#: The longest cell accepted, in characters. Python's csv module refuses fields over
#: ``csv.field_size_limit()`` (131,072 by default) on its own; this limit is below it,
#: so most long cells get a message naming the exact length.
MAX_CELL_CHARS = 100_000
#: The most columns a header may name (Excel allows 16,384; Synthea's widest file ~30).
MAX_COLUMNS = 1_000
#: How much of a file decides its encoding and delimiter, in bytes (and characters).
SAMPLE_BYTES = 64 * 1024
#: How much of the sample csv.Sniffer reads, in characters (it is slow on long text).
SNIFF_CHARS = 16 * 1024
#: The delimiters recognised, in order of preference on a tie.
DELIMITERS = (",", ";", "\t", "|")

_EXPECTED = (
    "Upload a CSV file (comma-, semicolon- or tab-separated text) or an Excel workbook (.xlsx)."
)
_SYNTHEA_HINT = (
    'or, for Synthea files, import them on the server with "python manage.py import_synthea '
    '<folder>", which reads files of any size'
)

# ZIP local file header, empty archive, split archive (PKWARE APPNOTE.TXT 4.3.7, 4.3.16, 8.5.3).
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Compound File Binary (MS-CFB 2.2): Excel 97-2003 and password-protected OOXML files.
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Leading bytes of formats people upload by mistake (each format's own specification).
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a GZIP-compressed file (.gz)"),
    (b"\xfd7zXZ\x00", "an XZ-compressed file (.xz)"),
    (b"(\xb5/\xfd", "a Zstandard-compressed file (.zst)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (.7z)"),
    (b"Rar!\x1a\x07", "a RAR archive (.rar)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a program (an ELF executable)"),
    (b"{\\rtf", "an RTF document"),
)
# Content types of a workbook's main part (ECMA-376 Part 1, 12.3.23, in its 1st
# edition's spelling too, and Excel's macro-enabled variants); a package declaring
# one is a workbook whatever its part is named.
_WORKBOOK_CONTENT_TYPES = (
    "spreadsheetml.sheet.main+xml",
    "spreadsheetml.main+xml",
    "spreadsheetml.template.main+xml",
    "ms-excel.sheet.macroEnabled.main+xml",
    "ms-excel.template.macroEnabled.main+xml",
)
# Byte order marks (Unicode Standard, 23.8), longest first: the UTF-32 LE mark
# begins with the UTF-16 LE one. Each codec removes its mark while decoding.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: What ``errors="surrogateescape"`` decodes an undecodable byte to (PEP 383).
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16",
    "utf-32": "UTF-32",
    "cp1252": "Windows-1252",
}


class ImportFileError(Exception):
    """A file that cannot be read as a table, with the sentence to show the user.

    ``message`` (also ``str(error)``) names the file and, where it applies, the row
    (spreadsheet numbering, header = row 1), the column and the value, e.g.
    ``patients.csv, row 7: the row has 5 cells but the header (row 1) names 4
    columns; column 5 holds "x" but has no name in the header.`` ``row`` (int or
    None) and ``column`` (header name or position, '' if none) repeat the location
    for callers that file the error as an ``ImportProblem``.
    """

    def __init__(self, message: str, *, row: int | None = None, column: str = ""):
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column

    def __str__(self) -> str:
        return self.message


@dataclass
class Table:
    """A file read as a table of text.

    ``format`` is ``"CSV"`` or ``"XLSX"``; ``encoding`` the Python codec the CSV text
    was decoded with (see :func:`decode_text`; '' for XLSX); ``delimiter`` the CSV
    delimiter ('' for XLSX); ``sheet`` the worksheet read ('' for CSV);
    ``headers`` the column names of row 1, stripped, as written (case and order are
    the file's: matching them to fields is the Resource's job); ``rows`` the data
    rows, each exactly ``len(headers)`` cells of text, ``rows[i]`` being spreadsheet
    row ``i + 2``. Empty rows inside the data are kept (so numbering holds); empty
    rows at the end are not.
    """

    format: str
    encoding: str
    delimiter: str
    headers: list[str]
    rows: list[list[str]]
    sheet: str = ""

    def to_dataset(self) -> tablib.Dataset:
        """The table as a ``tablib.Dataset`` (``headers`` and ``rows``), the input of
        django-import-export's ``Resource.import_data``. Data row ``n`` of the dataset
        (1-based, as import-export counts) is spreadsheet row ``n + 1``."""
        return tablib.Dataset(*self.rows, headers=list(self.headers))


# -- limits -------------------------------------------------------------------------


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def _who(name: str) -> str:
    return name or "The file"


def _size(n: int) -> str:
    """``n`` bytes for people: ``"50 MB"``, ``"310 KB"`` (binary units, as Windows shows)."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= factor:
            value = n / factor
            shown = f"{value:,.0f}" if value >= 10 else f"{value:.1f}".removesuffix(".0")
            return f"{shown} {unit}"
    return f"{n:,} bytes"


def _sizes(size: int, limit: int) -> tuple[str, str]:
    """:func:`_size` of both, in exact bytes when rounding would make them look equal."""
    shown = _size(size), _size(limit)
    return shown if shown[0] != shown[1] else (f"{size:,} bytes", f"{limit:,} bytes")


def check_upload_size(size: int, name: str, *, limit: int | None = None) -> None:
    """Refuse an upload of ``size`` bytes over ``limit`` (default
    ``settings.IMPORT_MAX_UPLOAD_BYTES``, 50 MB).

    Call it with ``UploadedFile.size`` before reading the upload into memory.
    Raises :class:`ImportFileError` (``"patients.csv is 60 MB, more than the 50 MB
    one upload may be. ..."``); returns None otherwise.
    """
    if limit is None:
        limit = _setting("IMPORT_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)
    if size > limit:
        shown, allowed = _sizes(size, limit)
        raise ImportFileError(
            f"{_who(name)} is {shown}, more than the {allowed} one upload may be. "
            f"Split it into smaller files, {_SYNTHEA_HINT}."
        )


# -- format ---------------------------------------------------------------------------


def _bom_encoding(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` when NUL bytes sit in every other position.

    Text in UTF-16 that is mostly ASCII (as CSV headers, delimiters and digits are)
    has a NUL high byte in each code unit: the odd bytes for little-endian, the even
    ones for big-endian. Looks at the first 4 KB.
    """
    sample = data[:4096]
    sample = sample[: len(sample) // 2 * 2]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= 0.4 * pairs and even <= 0.02 * pairs:
        return "utf-16-le"
    if even >= 0.4 * pairs and odd <= 0.02 * pairs:
        return "utf-16-be"
    return None


def _not_a_table(name: str, what: str) -> ImportFileError:
    return ImportFileError(f"{_who(name)} is {what}, not a CSV or XLSX file. {_EXPECTED}")


def _markup(data: bytes) -> str | None:
    """What an HTML page or an Excel 2003 XML spreadsheet saved under a CSV name is."""
    head = data[:4096].removeprefix(codecs.BOM_UTF8).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<table")):
        return "an HTML page (some programs save these under an .xls or .csv name)"
    if head.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in head:
        return "an Excel 2003 XML spreadsheet"
    return None


def _small_member(archive: zipfile.ZipFile, member: str, limit: int = 1024 * 1024) -> str:
    """A ZIP member's text if it exists and unpacks to at most ``limit`` bytes, else ''."""
    try:
        info = archive.getinfo(member)
    except KeyError:
        return ""
    if info.file_size > limit:
        return ""
    return archive.read(info).decode("utf-8", "replace")


def _zip_kind(data: bytes, name: str) -> str:
    """``"xlsx"`` for an OOXML workbook package, ``"zip"`` for any other ZIP archive.

    Raises :class:`ImportFileError` for a damaged archive and for other office
    documents (OpenDocument, .xlsb, Word, PowerPoint), which are not folders either.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" in names:
                return "xlsx"
            content_types = _small_member(archive, "[Content_Types].xml")
            if any(t in content_types for t in _WORKBOOK_CONTENT_TYPES):
                return "xlsx"
            mimetype = _small_member(archive, "mimetype").strip()
    except Exception as exc:  # zipfile raises BadZipFile, OSError, EOFError, zlib.error...
        raise ImportFileError(
            f"{_who(name)} looks like a ZIP archive or an XLSX workbook, but it is damaged or "
            f"incomplete ({exc}). Save it again, or check that the upload was not cut short."
        ) from None
    if "xl/workbook.bin" in names:
        raise _not_a_table(name, "an Excel binary workbook (.xlsb)")
    if mimetype.startswith("application/vnd.oasis.opendocument.spreadsheet"):
        raise _not_a_table(name, "an OpenDocument spreadsheet (.ods)")
    if mimetype.startswith("application/vnd.oasis.opendocument"):
        raise _not_a_table(name, "an OpenDocument file")
    if "word/document.xml" in names:
        raise _not_a_table(name, "a Word document (.docx)")
    if "ppt/presentation.xml" in names:
        raise _not_a_table(name, "a PowerPoint presentation (.pptx)")
    return "zip"


def detect_format(data: bytes, name: str = "") -> str:
    """The format of a file's content: ``"csv"``, ``"xlsx"`` or ``"zip"``.

    Args: ``data`` the file's bytes (all of them, or at least its first 64 KB for
    text; an XLSX/ZIP needs all); ``name`` the file name, used in messages only (the
    name's extension never decides).

    - ``"xlsx"``: a ZIP archive (PKWARE APPNOTE signature ``PK\\x03\\x04``) holding
      ``xl/workbook.xml`` or declaring a workbook main part in
      ``[Content_Types].xml`` (ECMA-376 Office Open XML, Part 2 OPC);
    - ``"zip"``: any other ZIP archive (a Synthea folder upload, handled elsewhere);
    - ``"csv"``: text: a Unicode byte order mark, UTF-16 by its NUL pattern, or
      bytes with no NUL and few control characters.

    Raises :class:`ImportFileError` for an empty file (``"patients.csv is
    empty."``), a damaged ZIP, a recognised non-table format (``"patients.csv is a
    PNG image, not a CSV or XLSX file. Upload a CSV file ..."``; Excel 97-2003
    ``.xls`` and password-protected workbooks are named as such), and other binary
    data (NUL bytes).
    """
    who = _who(name)
    if not data:
        raise ImportFileError(f"{who} is empty.")
    if data.startswith(_ZIP_SIGNATURES):
        return _zip_kind(data, name)
    if data.startswith(_OLE2_SIGNATURE):
        raise ImportFileError(
            f"{who} is an Excel 97-2003 workbook (.xls) or a password-protected Office file, "
            "which cannot be read. Save it from Excel as an Excel Workbook (.xlsx) or as "
            '"CSV UTF-8", without a password, and upload it again.'
        )
    for signature, what in _SIGNATURES:
        if data.startswith(signature):
            raise _not_a_table(name, what)
    if _bom_encoding(data) or _utf16_without_bom(data):
        return "csv"
    if b"\x00" in data:
        raise ImportFileError(
            f"{who} contains binary data (NUL bytes), not text, so it is neither a CSV nor an "
            f"XLSX file. {_EXPECTED}"
        )
    what = _markup(data)
    if what:
        raise _not_a_table(name, what)
    head = data[:8192]
    controls = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 12, 13))
    if controls > 0.05 * len(head):
        raise ImportFileError(
            f"{who} contains binary data (control characters), not text, so it is neither a "
            f"CSV nor an XLSX file. {_EXPECTED}"
        )
    return "csv"


# -- text -----------------------------------------------------------------------------


def encoding_label(encoding: str) -> str:
    """How users know the Python codec ``encoding``: ``"utf-8-sig"`` -> ``"UTF-8"``,
    ``"cp1252"`` -> ``"Windows-1252"`` (the codec's name when there is no label).
    Raises ``LookupError`` for an unknown codec."""
    return _ENCODING_LABELS.get(codecs.lookup(encoding).name, encoding)


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """Decode a text file: returns ``(text, encoding)``.

    ``encoding`` is a Python codec name such that ``data.decode(encoding) == text``:

    - ``"utf-8-sig"``, ``"utf-16"`` or ``"utf-32"`` when the file starts with that
      byte order mark (Unicode Standard 23.8); the mark is removed from ``text``;
    - ``"utf-16-le"``/``"utf-16-be"`` for UTF-16 without a mark, recognised by a NUL
      byte in every other position;
    - ``"utf-8"`` when the bytes are valid UTF-8 (RFC 3629);
    - ``"cp1252"`` (Windows-1252) otherwise: Excel's plain "CSV (Comma delimited)"
      on a Western-European Windows writes it, so "Müller" arrives as ``M\\xfcller``.

    Line ends are left as they are (the CSV reader handles CRLF, LF and CR).
    Raises :class:`ImportFileError` when a byte order mark is followed by invalid
    data, when the file mixes UTF-8 with other bytes (it would import garbled
    names), or when it is neither UTF-8 nor Windows-1252 (e.g. byte 0x81).
    """
    who = _who(name)
    encoding = _bom_encoding(data) or _utf16_without_bom(data)
    if encoding:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            label = encoding_label(encoding)
            raise ImportFileError(
                f"{who} looks like {label} text but is not valid {label} at byte "
                f'{exc.start:,}. Save it as "CSV UTF-8" and upload it again.'
            ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        bad = exc.start
    # Valid multi-byte UTF-8 elsewhere in the file means it is not Windows-1252
    # either, but two files joined together: decoding it either way garbles names.
    if not data.decode("utf-8", "replace").replace("\ufffd", "").isascii():
        line = data.count(b"\n", 0, bad) + 1
        raise ImportFileError(
            f"{who} is partly UTF-8 and partly another encoding (byte 0x{data[bad]:02X} on "
            f'line {line} is not UTF-8). Save the whole file as "CSV UTF-8" and upload it again.'
        )
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFileError(
            f"{who} is neither UTF-8 nor Windows-1252 text (byte 0x{data[exc.start]:02X} on "
            f'line {line} is neither). Save it as "CSV UTF-8" and upload it again.'
        ) from None


def _excel_hint(text: str) -> str | None:
    """The delimiter a first line ``sep=;`` names, or None.

    Excel honours such a line (any single character after ``sep=``) and does not
    show it, so the header under it is still row 1. Args: ``text`` the file's text
    or its first line.
    """
    line = text[:8].lstrip("\ufeff")
    if line[:4].lower() == "sep=" and len(line) > 4 and line[4] not in '"\r\n':
        if len(line) == 5 or line[5] in "\r\n":
            return line[4]
    return None


def _widths(sample: str, delimiter: str) -> list[int]:
    """The number of fields of each of the first 50 non-empty records of ``sample``."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    try:
        return [len(record) for record in itertools.islice(reader, 50) if record]
    except csv.Error:
        return []


def sniff_delimiter(text: str) -> str:
    """The delimiter of CSV ``text``: ``","``, ``";"``, ``"\\t"`` or ``"|"``.

    Args: ``text`` the decoded file or its beginning (only the first 16 KB are read).
    Only delimiters that separate the header line into several fields compete
    (quoted fields, RFC 4180 section 2, are respected, so ``"Smith, John";42`` is
    two fields split by ``;``). When several do, the one for which most of the
    first 50 records have as many fields as the header wins, then the one giving
    the header most fields; ``csv.Sniffer`` restricted to those still tied breaks a
    tie, and failing that the order above. A header none of them separates is one
    column: comma. Never raises.
    """
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS:  # do not let a cut-off last line mislead the count
        cut = max(sample.rfind("\n"), sample.rfind("\r"))
        if cut > 0:
            sample = sample[:cut]
    scores = {}
    for delimiter in DELIMITERS:
        widths = _widths(sample, delimiter)
        if not widths or widths[0] < 2:
            continue
        rows = widths[1:]
        consistent = sum(w == widths[0] for w in rows) / len(rows) if rows else 1.0
        scores[delimiter] = (consistent, widths[0])
    if not scores:
        return ","
    best = max(scores.values())
    tied = [d for d in DELIMITERS if scores.get(d) == best]
    if len(tied) == 1:
        return tied[0]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(tied)).delimiter
    except csv.Error:
        sniffed = None
    return sniffed if sniffed in tied else tied[0]


# -- rows -------------------------------------------------------------------------


def _position(index: int, fmt: str) -> str:
    """A column's position as the program showing it numbers it: D for XLSX, 4 for CSV."""
    return get_column_letter(index + 1) if fmt == "XLSX" else str(index + 1)


def _column(headers: list[str], index: int, fmt: str) -> str:
    if index < len(headers) and headers[index]:
        return headers[index]
    return _position(index, fmt)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _quoted(value: str) -> str:
    return '"' + (value if len(value) <= 80 else value[:77] + "...") + '"'


def _check_cells(cells: list[str], row: int, name: str, headers: list[str], fmt: str) -> None:
    """Refuse a cell longer than :data:`MAX_CELL_CHARS`."""
    if max(map(len, cells), default=0) <= MAX_CELL_CHARS:
        return
    index = next(i for i, cell in enumerate(cells) if len(cell) > MAX_CELL_CHARS)
    column = _column(headers, index, fmt)
    raise ImportFileError(
        f"{_who(name)}, row {row}, column {column}: the cell is {len(cells[index]):,} "
        f"characters long; at most {MAX_CELL_CHARS:,} are allowed.",
        row=row,
        column=column,
    )


def _header(cells: list[str], name: str, fmt: str) -> list[str]:
    """Row 1 as column names: stripped, trailing empty ones dropped, each unique."""
    who = _who(name)
    _check_cells(cells, 1, name, [], fmt)
    names = [cell.strip() for cell in cells]
    if names:
        names[0] = names[0].lstrip("\ufeff").strip()
    while names and not names[-1]:
        names.pop()
    if not names:
        raise ImportFileError(
            f"{who}: row 1 is empty. The first row must hold the column names (the header).",
            row=1,
        )
    if len(names) > MAX_COLUMNS:
        raise ImportFileError(
            f"{who}: the header (row 1) names {len(names):,} columns; at most {MAX_COLUMNS:,} "
            "are allowed.",
            row=1,
        )
    blank = [_position(i, fmt) for i, n in enumerate(names) if not n]
    if blank:
        which = f"column {blank[0]} has" if len(blank) == 1 else f"columns {_and(blank)} have"
        raise ImportFileError(
            f"{who}: {which} no name in the header (row 1). Every column needs a name.",
            row=1,
            column=blank[0],
        )
    seen: dict[str, list[int]] = {}
    for index, column in enumerate(names):
        seen.setdefault(column.casefold(), []).append(index)
    repeated = [
        f"{_quoted(names[p[0]])} (columns {_and([_position(i, fmt) for i in p])})"
        for p in seen.values()
        if len(p) > 1
    ]
    if repeated:
        raise ImportFileError(
            f"{who}: the header (row 1) names {_and(repeated)} more than once. Each column "
            "needs its own name (upper and lower case count as the same).",
            row=1,
        )
    return names


def _fit(
    cells: list[str], width: int, row: int, name: str, headers: list[str], fmt: str
) -> list[str]:
    """``cells`` padded with '' to ``width``, or cut to it if the extra cells are empty."""
    count = len(cells)
    if count == width:
        return cells
    if count < width:
        return cells + [""] * (width - count)
    for index in range(width, count):
        if cells[index].strip():
            position = _position(index, fmt)
            columns = "1 column" if width == 1 else f"{width} columns"
            hint = " Check the delimiters and quotes on this row." if fmt == "CSV" else ""
            raise ImportFileError(
                f"{_who(name)}, row {row}: the row has {count} cells but the header (row 1) "
                f"names {columns}; column {position} holds {_quoted(cells[index])} but has no "
                f"name in the header.{hint}",
                row=row,
                column=position,
            )
    return cells[:width]


def _collect(
    records: Iterable[tuple[int, list[str]]],
    headers: list[str],
    name: str,
    fmt: str,
    max_rows: int,
) -> list[list[str]]:
    """The data rows of ``records`` (after the header), checked and fitted to the header.

    Empty rows are kept only when a non-empty row follows them. Stops with an
    :class:`ImportFileError` at the first non-empty row past ``max_rows``.
    """
    width = len(headers)
    rows: list[list[str]] = []
    blank = 0
    for number, cells in records:
        text = "".join(cells)
        if not text or text.isspace():
            blank += 1
            continue
        if len(rows) + blank >= max_rows:
            raise ImportFileError(
                f"{_who(name)} has more than {max_rows:,} data rows (the header excluded), the "
                f"most one upload may hold. Split it into smaller files, {_SYNTHEA_HINT}."
            )
        if len(text) > MAX_CELL_CHARS:
            _check_cells(cells, number, name, headers, fmt)
        if len(cells) != width:
            cells = _fit(cells, width, number, name, headers, fmt)
        if blank:
            rows.extend([""] * width for _ in range(blank))
            blank = 0
        rows.append(cells)
    return rows


def _oversized_field(raw: str, delimiter: str) -> int:
    """The 0-based index of the field of ``raw`` (one record) that ``csv`` refuses.

    Python's reader fails once a field passes ``csv.field_size_limit()``; the
    longest prefix of ``raw`` it still reads ends inside that field, so the field
    is the last one of that prefix. Found by bisection, without changing the
    process-wide limit.
    """

    def fields(prefix: str) -> list[str] | None:
        try:
            reader = csv.reader(io.StringIO(prefix, newline=""), delimiter=delimiter)
            return [cell for record in reader for cell in record]
        except csv.Error:
            return None

    low, high = 0, len(raw)
    while high - low > 1:
        middle = (low + high) // 2
        if fields(raw[:middle]) is None:
            high = middle
        else:
            low = middle
    return max(len(fields(raw[:low]) or [""]) - 1, 0)


def _records(
    lines: Iterable[str],
    delimiter: str,
    name: str,
    headers: list[str],
    escaped: str | None = None,
    guessed: bool = False,
) -> Iterator[tuple[int, list[str]]]:
    """``(row number, cells)`` for each CSV record of ``lines`` (RFC 4180), header = 1.

    ``lines`` must keep their line ends (a file opened with ``newline=""``).
    ``headers`` is read only for messages, so the caller may fill it in after row 1.
    ``escaped``: the encoding of ``lines`` when they were decoded with
    ``errors="surrogateescape"`` (PEP 383), so that a byte not in that encoding is
    reported with the row holding it rather than when a block ahead is decoded;
    ``guessed``: that encoding was decided from the file's first 64 KB.
    Turns every ``csv.Error``, such byte, read error and NUL character into an
    :class:`ImportFileError` naming the row (and the column of an over-long cell).
    """
    who = _who(name)
    pending: list[str] = []  # the physical lines of the record being read
    row = 0

    def feed() -> Iterator[str]:
        for line in lines:
            if "\x00" in line:
                raise ImportFileError(
                    f"{who}, row {row + 1}: the row contains a NUL character (binary data), "
                    "which a CSV file cannot hold.",
                    row=row + 1,
                )
            if escaped and not line.isascii():
                bad = _ESCAPED_BYTE.search(line)
                if bad:
                    label = encoding_label(escaped)
                    note = (
                        f", the encoding of its first {SAMPLE_BYTES // 1024} KB" if guessed else ""
                    )
                    raise ImportFileError(
                        f"{who}, row {row + 1}: byte 0x{ord(bad.group()) - 0xDC00:02X} is not "
                        f"valid {label} text{note}. Save the whole file in one encoding (UTF-8 is "
                        "best) and try again.",
                        row=row + 1,
                    )
            pending.append(line)
            yield line

    reader = csv.reader(feed(), delimiter=delimiter)
    done: list[str] = []  # the physical lines of the record read last
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            if done and _unclosed_quote("".join(done), delimiter):
                raise ImportFileError(
                    f"{who}, row {row}: a quotation mark opens a cell that is never closed, so "
                    "the rest of the file was read into that cell. Check the quotes on this row.",
                    row=row,
                ) from None
            return
        except csv.Error as exc:
            raise _csv_error(exc, row + 1, "".join(pending), delimiter, name, headers) from None
        except UnicodeDecodeError as exc:
            label = encoding_label(exc.encoding)
            raise ImportFileError(
                f"{who}, row {row + 1}: the file is not valid {label} text from here on "
                f"({exc.reason}). Save the whole file in one encoding (UTF-8 is best) and try "
                "again.",
                row=row + 1,
            ) from None
        except OSError as exc:
            raise ImportFileError(
                f"{who} could not be read to the end ({exc.strerror or exc}).", row=row + 1
            ) from None
        row += 1
        done, pending = pending, []
        yield row, cells


def _unclosed_quote(raw: str, delimiter: str) -> bool:
    """Whether the record ``raw`` ends inside a quoted field (RFC 4180, 2.5-2.7).

    The reader, not strict, returns such a field at the end of the file as it is;
    strict, it fails with "unexpected end of data".
    """
    try:
        for _ in csv.reader(io.StringIO(raw, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _csv_error(
    exc: csv.Error, row: int, raw: str, delimiter: str, name: str, headers: list[str]
) -> ImportFileError:
    """An :class:`ImportFileError` for the ``csv.Error`` raised reading row ``row``."""
    who = _who(name)
    if "field larger than field limit" not in str(exc):
        return ImportFileError(f"{who}, row {row}: the row cannot be read as CSV ({exc}).", row=row)
    column = _column(headers if row > 1 else [], _oversized_field(raw, delimiter), "CSV")
    hint = ""
    if '"' in raw:
        hint = (
            " A quotation mark that opens a cell without closing it makes the rest of the "
            "file part of that cell: check the quotes on this row."
        )
    return ImportFileError(
        f"{who}, row {row}, column {column}: the cell is longer than "
        f"{csv.field_size_limit():,} characters; at most {MAX_CELL_CHARS:,} are allowed.{hint}",
        row=row,
        column=column,
    )


# -- CSV --------------------------------------------------------------------------


def _read_csv(data: bytes, name: str, max_rows: int) -> Table:
    text, encoding = decode_text(data, name)
    if not text or text.isspace():
        raise ImportFileError(f"{_who(name)} is empty.")
    hint = _excel_hint(text)
    delimiter = hint or sniff_delimiter(text[:SAMPLE_BYTES])
    del text  # the rows are read from the bytes, a block at a time
    lines = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    if hint:
        lines.readline()
    headers: list[str] = []
    records = _records(lines, delimiter, name, headers)
    _, first = next(records, (1, []))
    headers.extend(_header(first, name, "CSV"))
    rows = _collect(records, headers, name, "CSV", max_rows)
    return Table("CSV", encoding, delimiter, headers, rows)


# -- XLSX -------------------------------------------------------------------------


def _check_xlsx_expansion(data: bytes, name: str, limit: int) -> None:
    """Refuse a workbook whose ZIP members unpack to more than ``limit`` bytes in all.

    The sizes are the ``ZipInfo.file_size`` each member declares in the central
    directory (APPNOTE.TXT 4.4.9); ``zipfile`` never unpacks more than that size of a
    member (it stops and fails its CRC check instead), so the sum bounds what
    openpyxl can unpack. A 310 KB workbook can declare 300 MB: a "zip bomb".
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ImportFileError(
            f"{_who(name)} looks like an XLSX workbook, but it is damaged ({exc})."
        ) from None
    if total > limit:
        shown, allowed = _sizes(total, limit)
        raise ImportFileError(
            f"{_who(name)} would unpack to {shown}, more than the {allowed} allowed for an "
            "XLSX workbook. Save it as CSV, or split it into smaller workbooks."
        )


def _cell_text(value) -> str:
    """An openpyxl cell value as text, as a spreadsheet user would type it.

    Integral numbers lose Excel's ``.0`` (``5.0`` -> ``"5"``); other numbers use
    Python's shortest round-trip form; date cells (numbers with a date format,
    ECMA-376 Part 1, 18.8.30) are ``YYYY-MM-DD`` at midnight and ``YYYY-MM-DD
    HH:MM:SS`` otherwise (ISO 8601); booleans ``TRUE``/``FALSE``; empty ''.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def _damaged_xlsx(name: str, exc: Exception) -> ImportFileError:
    # Not the file's name: an upload may be named after a patient. The log line's
    # request id leads to the import job, which holds the name behind a permission.
    logger.warning("Cannot read an uploaded file as XLSX", exc_info=exc)
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return ImportFileError(
        f"{_who(name)} could not be read as an Excel workbook ({detail}). Open it in Excel, "
        "save it again as an Excel Workbook (.xlsx) or as CSV, and upload it again."
    )


def _read_xlsx(data: bytes, name: str, max_rows: int, max_xlsx_bytes: int) -> Table:
    _check_xlsx_expansion(data, name, max_xlsx_bytes)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises KeyError, ValueError, XML errors...
        raise _damaged_xlsx(name, exc) from None
    try:
        if not workbook.worksheets:
            raise ImportFileError(f"{_who(name)} has no worksheet.")
        sheet = workbook.worksheets[0]
        # Read-only mode trusts the sheet's <dimension ref="A1:B2"> for where rows
        # end, and programs write stale ones; read to the last <row> instead.
        sheet.reset_dimensions()
        records = (
            (number, [_cell_text(value) for value in values])
            for number, values in enumerate(sheet.iter_rows(values_only=True), 1)
        )
        first = next(records, None)
        if first is None:
            raise ImportFileError(
                f'{_who(name)} is empty: its first worksheet, "{sheet.title}", has no cells.'
            )
        headers = _header(first[1], name, "XLSX")
        rows = _collect(records, headers, name, "XLSX", max_rows)
        return Table("XLSX", "", "", headers, rows, sheet=sheet.title)
    except ImportFileError:
        raise
    except Exception as exc:  # malformed sheet XML found while reading rows
        raise _damaged_xlsx(name, exc) from None
    finally:
        workbook.close()


def read_table(
    data: bytes,
    name: str,
    *,
    max_rows: int | None = None,
    max_xlsx_bytes: int | None = None,
    max_bytes: int | None = None,
) -> Table:
    """Read an uploaded file as a :class:`Table`, its format decided by its content.

    Args: ``data`` the file's bytes; ``name`` its name as uploaded (messages only);
    ``max_rows`` the most data rows (default ``settings.IMPORT_MAX_ROWS``, 25,000);
    ``max_xlsx_bytes`` the most an XLSX may unpack to, in bytes (default
    ``settings.IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES``, 200 MB); ``max_bytes`` the
    largest file, in bytes (default ``settings.IMPORT_MAX_UPLOAD_BYTES``, 50 MB).

    CSV: decoded by :func:`decode_text`, split by :func:`sniff_delimiter` (or by
    the delimiter an Excel ``sep=;`` first line names; that line is skipped and the
    header under it is row 1, as Excel shows it), parsed as RFC 4180. XLSX (ECMA-376): the first worksheet, with cached formula values (a
    formula never calculated by a spreadsheet program reads as empty), cells as
    :func:`_cell_text` gives them. Checked before openpyxl parses anything: the
    unpacked size of the ZIP members.

    Rows shorter than the header are padded with ''; extra cells are dropped when
    empty. A file with a header and no data rows is returned with ``rows == []``.

    Raises :class:`ImportFileError` for: a file over ``max_bytes``; an empty file or
    an empty row 1; binary data or a ZIP that is not a workbook (see
    :func:`detect_format`); an undecodable text; an XLSX over ``max_xlsx_bytes`` or
    damaged; more than ``max_rows`` data rows (reading stops at the first row past
    the limit); a header with an unnamed or repeated column, or more than
    :data:`MAX_COLUMNS`; a row with a non-empty cell beyond the header's columns; a
    cell over :data:`MAX_CELL_CHARS` characters (the message names row and column).
    """
    if max_rows is None:
        max_rows = _setting("IMPORT_MAX_ROWS", DEFAULT_MAX_ROWS)
    if max_xlsx_bytes is None:
        max_xlsx_bytes = _setting(
            "IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES", DEFAULT_MAX_XLSX_UNCOMPRESSED_BYTES
        )
    check_upload_size(len(data), name, limit=max_bytes)
    kind = detect_format(data, name)
    if kind == "zip":
        raise ImportFileError(
            f"{_who(name)} is a ZIP archive, not a CSV file or an Excel workbook. {_EXPECTED}"
        )
    if kind == "xlsx":
        return _read_xlsx(data, name, max_rows, max_xlsx_bytes)
    return _read_csv(data, name, max_rows)


# -- streaming from disk -------------------------------------------------------------


def _sample_encoding(head: bytes, name: str) -> str:
    """The encoding of a file from its first bytes (``head``), as :func:`decode_text` decides."""
    encoding = _bom_encoding(head) or _utf16_without_bom(head)
    if encoding:
        return encoding
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < SAMPLE_BYTES)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{_who(name)} is neither UTF-8 nor Windows-1252 text (byte "
            f'0x{head[exc.start]:02X} cannot be read). Save it as "CSV UTF-8" and try again.'
        ) from None


def _open_text(path: Path, encoding: str, name: str):
    """``path`` as text; bytes not in ``encoding`` become lone surrogates (PEP 383)."""
    try:
        # The caller closes it.
        return open(path, encoding=encoding, errors="surrogateescape", newline="")
    except OSError as exc:
        raise ImportFileError(f"{name} cannot be read ({exc.strerror or exc}).") from None


def _stream_records(
    path: Path, encoding: str, guessed: bool, delimiter: str | None, name: str, headers: list[str]
) -> Iterator[tuple[int, list[str]]]:
    """The records of the CSV file at ``path`` (see :func:`_records`), after Excel's
    ``sep=`` line if ``delimiter`` is None (the hint's); closes the file at the end."""
    with _open_text(path, encoding, name) as handle:
        if delimiter is None:
            delimiter = _excel_hint(handle.readline())
        yield from _records(handle, delimiter, name, headers, escaped=encoding, guessed=guessed)


def _stream_rows(
    records: Iterator[tuple[int, list[str]]], name: str, headers: list[str]
) -> Iterator[tuple[int, list[str]]]:
    """The data rows of ``records``: empty ones skipped, the others checked and fitted."""
    width = len(headers)
    with closing(records):
        next(records, None)  # the header, read already
        for number, cells in records:
            text = "".join(cells)
            if not text or text.isspace():
                continue
            if len(text) > MAX_CELL_CHARS:
                _check_cells(cells, number, name, headers, "CSV")
            if len(cells) != width:
                cells = _fit(cells, width, number, name, headers, "CSV")
            yield number, cells


def iter_csv_file(
    path: str | Path, *, encoding: str | None = None
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Stream a CSV file from disk: returns ``(headers, rows)``.

    For files too large for :func:`read_table` (``import_synthea`` reads
    1,000,000-row Synthea files): memory stays a few blocks of the file, whatever its
    size. Args: ``path`` the file; ``encoding`` a Python codec name, or None to
    decide from the first 64 KB as :func:`decode_text` does (byte order mark, UTF-16
    NUL pattern, UTF-8 if the sample is valid UTF-8, else Windows-1252).

    ``headers`` is row 1, stripped (rules of :func:`read_table`); ``rows`` is a
    lazy iterator of ``(spreadsheet row number, cells)``, header = row 1, each row
    fitted to the header's width (short rows padded with ''). The delimiter is
    sniffed as :func:`read_table` does (Excel's ``sep=;`` line included). Empty rows are
    skipped (the numbers of the others stay right). The file is opened again when
    ``rows`` starts and closed when it ends or is discarded. CSV syntax: RFC 4180.

    Raises :class:`ImportFileError` now for an unreadable, empty, binary or
    non-CSV file (XLSX, ZIP), an unknown ``encoding``, or a bad header; and while
    iterating for a row with extra non-empty cells, an over-long cell, a NUL
    character, or bytes that are not in the encoding chosen (e.g. a Windows-1252
    "é" after 64 KB of UTF-8).
    """
    path = Path(path)
    name = path.name
    try:
        with path.open("rb") as handle:
            head = handle.read(SAMPLE_BYTES)
    except OSError as exc:
        raise ImportFileError(f"{name} cannot be read ({exc.strerror or exc}).") from None
    if head.startswith(_ZIP_SIGNATURES):
        raise ImportFileError(
            f"{name} is a ZIP archive or an Excel workbook, not a CSV file. Save it as CSV "
            "(UTF-8) and try again."
        )
    detect_format(head, name)
    guessed = encoding is None
    if encoding is None:
        encoding = _sample_encoding(head, name)
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ImportFileError(f'"{encoding}" is not a known text encoding.') from None
    try:
        sample = codecs.getincrementaldecoder(encoding)().decode(
            head, final=len(head) < SAMPLE_BYTES
        )
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{name} is not valid {encoding_label(encoding)} text ({exc.reason} at byte "
            f"{exc.start:,})."
        ) from None
    if len(head) < SAMPLE_BYTES and not sample.strip("\ufeff \t\r\n"):
        raise ImportFileError(f"{name} is empty.")
    hint = _excel_hint(sample)
    delimiter = None if hint else sniff_delimiter(sample)
    headers: list[str] = []
    with closing(_stream_records(path, encoding, guessed, delimiter, name, headers)) as records:
        _, first = next(records, (1, []))
    headers.extend(_header(first, name, "CSV"))
    records = _stream_records(path, encoding, guessed, delimiter, name, headers)
    return list(headers), _stream_rows(records, name, headers)
