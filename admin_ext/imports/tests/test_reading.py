"""Uploaded bytes to rows (admin_ext.imports.reading): format by content, encodings,
delimiters, RFC 4180 quoting, XLSX quirks and the limits that keep an upload from
taking the server down. Every fixture is built here, in memory or in a temporary
folder."""

import codecs
import csv
import datetime
import gzip
import io
import random
import re
import shutil
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path
from unittest import mock

from django.test import SimpleTestCase, TestCase, override_settings
from openpyxl import Workbook, load_workbook

from admin_ext.imports import reading
from admin_ext.imports.reading import (
    ImportFileError,
    check_upload_size,
    decode_text,
    detect_format,
    iter_csv_file,
    read_table,
    sniff_delimiter,
)
from clinic.models import Patient
from clinic.resources import SyntheaPatientResource

HEADER = ["Id", "FIRST", "LAST", "CITY"]
ROWS = [["p-1", "José", "Müller", "Zürich"], ["p-2", "Zoë", "O'Brien", "São Paulo"]]
MB = 1024 * 1024


def csv_text(rows, *, delimiter=",", line_end="\n") -> str:
    """``rows`` (lists of cells, header first) as CSV text, quoted as RFC 4180 says."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=line_end).writerows(rows)
    return out.getvalue()


def xlsx_bytes(rows, *, sheets=("Patients",)) -> bytes:
    """A workbook whose first sheet holds ``rows`` (other sheets get one marker cell)."""
    workbook = Workbook()
    first = workbook.active
    first.title = sheets[0]
    for row in rows:
        first.append(row)
    for title in sheets[1:]:
        workbook.create_sheet(title).append(["not this sheet"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def rewrite_member(data: bytes, member: str, change) -> bytes:
    """``data`` (a ZIP) with ``member`` replaced by ``change(old bytes)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == member:
                content = change(content)
            target.writestr(info, content)
    return out.getvalue()


def read_error(data: bytes, name: str = "patients.csv", **kwargs) -> str:
    """The message ``read_table`` refuses ``data`` with (fails the test if it reads it)."""
    try:
        table = read_table(data, name, **kwargs)
    except ImportFileError as exc:
        return str(exc)
    raise AssertionError(f"{name} was read: {table.headers} and {len(table.rows)} rows")


class EncodingTests(SimpleTestCase):
    def assert_reads_names(self, data, encoding):
        table = read_table(data, "patients.csv")
        self.assertEqual((table.headers, table.rows, table.encoding), (HEADER, ROWS, encoding))

    def test_it_reads_utf8_without_a_bom(self):
        self.assert_reads_names(csv_text([HEADER, *ROWS]).encode("utf-8"), "utf-8")

    def test_it_reads_utf8_with_a_bom_and_drops_the_bom_from_the_first_column_name(self):
        data = codecs.BOM_UTF8 + csv_text([HEADER, *ROWS]).encode("utf-8")

        self.assert_reads_names(data, "utf-8-sig")

    def test_it_reads_utf16_little_endian_with_a_bom(self):
        # Excel's "Unicode Text" save: UTF-16 LE with a BOM, tab-separated.
        text = csv_text([HEADER, *ROWS], delimiter="\t", line_end="\r\n")
        data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")

        table = read_table(data, "patients.txt")

        self.assertEqual((table.headers, table.rows, table.delimiter), (HEADER, ROWS, "\t"))

    def test_it_reads_utf16_big_endian_with_a_bom(self):
        data = codecs.BOM_UTF16_BE + csv_text([HEADER, *ROWS]).encode("utf-16-be")

        self.assert_reads_names(data, "utf-16")

    def test_it_recognises_utf16_without_a_bom_by_its_nul_bytes(self):
        self.assert_reads_names(csv_text([HEADER, *ROWS]).encode("utf-16-le"), "utf-16-le")

    def test_it_reads_windows_1252_as_excel_saves_csv_on_windows(self):
        rows = [["p-1", "José", "Müller", "Zürich"], ["p-2", "Zoë", "O’Brien €", "Cœur"]]
        data = csv_text([HEADER, *rows]).encode("cp1252")

        table = read_table(data, "patients.csv")

        self.assertEqual((table.rows, table.encoding), (rows, "cp1252"))

    def test_decoding_returns_a_codec_that_gives_the_same_text_again(self):
        text = csv_text([HEADER, *ROWS])
        for data in (
            text.encode("utf-8"),
            codecs.BOM_UTF8 + text.encode("utf-8"),
            codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
            codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
            text.encode("utf-16-be"),
            text.encode("cp1252"),
        ):
            with self.subTest(start=data[:4]):
                decoded, encoding = decode_text(data, "patients.csv")
                self.assertEqual(decoded, text)
                self.assertEqual(data.decode(encoding), text)

    def test_it_refuses_a_file_mixing_utf8_and_windows_1252(self):
        data = "Id,LAST\np-1,Müller\n".encode() + "p-2,José\n".encode("cp1252")

        message = read_error(data)

        self.assertIn("patients.csv is partly UTF-8 and partly another encoding", message)
        self.assertIn("byte 0xE9 on line 3", message)

    def test_it_refuses_bytes_that_are_neither_utf8_nor_windows_1252(self):
        message = read_error(b"Id,LAST\np-1,M\x81ller\n")

        self.assertIn("patients.csv is neither UTF-8 nor Windows-1252 text", message)
        self.assertIn("0x81 on line 2", message)


class DelimiterTests(SimpleTestCase):
    def test_it_reads_comma_semicolon_tab_and_pipe_files(self):
        rows = [["Id", "NAME", "AMOUNT"], ["1", "Smith, John; Jr|x", "1,5"], ["2", "Doe", "2"]]
        for delimiter in (",", ";", "\t", "|"):
            with self.subTest(delimiter=delimiter):
                data = csv_text(rows, delimiter=delimiter).encode()

                table = read_table(data, "patients.csv")

                self.assertEqual(table.delimiter, delimiter)
                self.assertEqual([table.headers, *table.rows], rows)

    def test_a_header_that_several_delimiters_split_goes_to_the_consistent_one(self):
        text = "Id;Name, first;City\n1;Smith, John;Boston\n2;Doe, Jane;Paris\n"

        self.assertEqual(sniff_delimiter(text), ";")

    def test_excels_sep_line_names_the_delimiter_and_is_not_a_row(self):
        data = b"sep=;\r\nId;NAME\r\np-1;Smith, John\r\np-2;Lee\r\np-3;Kim;x\r\n"

        message = read_error(data)
        table = read_table(data.rsplit(b"p-3", 1)[0], "patients.csv")

        self.assertEqual(
            (table.delimiter, table.headers, table.rows),
            (";", ["Id", "NAME"], [["p-1", "Smith, John"], ["p-2", "Lee"]]),
        )
        # Excel hides the sep= line: the header is row 1, p-3 is on row 4.
        self.assertIn("patients.csv, row 4: the row has 3 cells", message)

    def test_a_one_column_file_is_read_with_a_comma(self):
        table = read_table(b"Id\np-1\np-2\n", "ids.csv")

        self.assertEqual(
            (table.delimiter, table.headers, table.rows), (",", ["Id"], [["p-1"], ["p-2"]])
        )


class LineTests(SimpleTestCase):
    def test_it_reads_crlf_lf_and_cr_line_ends_alike(self):
        for line_end in ("\r\n", "\n", "\r"):
            with self.subTest(line_end=repr(line_end)):
                data = csv_text([HEADER, *ROWS], line_end=line_end).encode()

                table = read_table(data, "patients.csv")

                self.assertEqual((table.headers, table.rows), (HEADER, ROWS))

    def test_a_quoted_field_keeps_its_line_breaks_and_counts_as_one_row(self):
        address = "1 Main St\r\nApt 4\r\nBoston"
        data = csv_text(
            [["Id", "ADDRESS"], ["p-1", address], ["p-2", "2 Elm St"], ["p-3", "x", "extra"]],
            line_end="\r\n",
        ).encode()

        message = read_error(data)
        table = read_table(data.rsplit(b"\r\n", 2)[0] + b"\r\n", "patients.csv")

        # Physical line 6, but the 4th row: the header is row 1, the address one row.
        self.assertIn(
            "patients.csv, row 4: the row has 3 cells but the header (row 1) names 2", message
        )
        self.assertIn('column 3 holds "extra"', message)
        self.assertEqual(table.rows, [["p-1", address], ["p-2", "2 Elm St"]])

    def test_headers_keep_their_case_and_order_and_lose_surrounding_spaces(self):
        data = b" last ,First,ID\nM\xc3\xbcller,Jos\xc3\xa9,p-1\n"

        table = read_table(data, "patients.csv")

        self.assertEqual(
            (table.headers, table.rows), (["last", "First", "ID"], [["Müller", "José", "p-1"]])
        )

    def test_short_rows_are_padded_and_empty_extra_cells_dropped(self):
        data = b"Id,FIRST,LAST\np-1,Ann\np-2,Bo,Lee,,\n"

        table = read_table(data, "patients.csv")

        self.assertEqual(table.rows, [["p-1", "Ann", ""], ["p-2", "Bo", "Lee"]])

    def test_empty_rows_between_data_rows_keep_their_place_and_trailing_ones_go(self):
        data = b"Id,LAST\np-1,Lee\n\np-3,Kim\n\n,\n\n"

        table = read_table(data, "patients.csv")

        # rows[i] is spreadsheet row i + 2, so row 3 stays an (empty) row.
        self.assertEqual(table.rows, [["p-1", "Lee"], ["", ""], ["p-3", "Kim"]])


class HeaderTests(SimpleTestCase):
    def test_it_refuses_an_empty_file(self):
        for data in (b"", codecs.BOM_UTF8, b"\r\n \n"):
            with self.subTest(data=data):
                self.assertEqual(read_error(data), "patients.csv is empty.")

    def test_a_header_without_rows_is_read_as_zero_rows(self):
        table = read_table(b"Id,FIRST,LAST\r\n\r\n", "patients.csv")
        dataset = table.to_dataset()

        self.assertEqual((table.headers, table.rows), (["Id", "FIRST", "LAST"], []))
        self.assertEqual((dataset.headers, len(dataset)), (["Id", "FIRST", "LAST"], 0))

    def test_it_refuses_a_file_whose_first_row_is_empty(self):
        message = read_error(b"\nId,LAST\np-1,Lee\n")

        self.assertEqual(
            message,
            "patients.csv: row 1 is empty. The first row must hold the column names (the header).",
        )

    def test_it_names_repeated_column_names_whatever_their_case(self):
        message = read_error(b"Id,LAST,id,FIRST,Last\np-1,Lee,x,Ann,y\n")

        self.assertIn(
            'names "Id" (columns 1 and 3) and "LAST" (columns 2 and 5) more than once', message
        )

    def test_it_names_a_column_without_a_name(self):
        message = read_error(b"Id,,LAST,\np-1,x,Lee,\n")

        self.assertEqual(
            message,
            "patients.csv: column 2 has no name in the header (row 1). Every column needs a name.",
        )

    def test_it_refuses_a_row_with_a_value_beyond_the_last_named_column(self):
        message = read_error(b"Id,LAST\np-1,Lee\np-2,Kim,oops\n")

        self.assertEqual(
            message,
            "patients.csv, row 3: the row has 3 cells but the header (row 1) names 2 columns; "
            'column 3 holds "oops" but has no name in the header. Check the delimiters and '
            "quotes on this row.",
        )


class NotATableTests(SimpleTestCase):
    PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"

    def test_it_refuses_a_png_renamed_csv(self):
        message = read_error(self.PNG)

        self.assertEqual(
            message,
            "patients.csv is a PNG image, not a CSV or XLSX file. Upload a CSV file (comma-, "
            "semicolon- or tab-separated text) or an Excel workbook (.xlsx).",
        )

    def test_it_refuses_random_bytes(self):
        data = random.Random(4180).randbytes(4096) + b"\x00"

        message = read_error(data)

        self.assertIn("patients.csv contains binary data (NUL bytes), not text", message)

    def test_it_names_other_formats_people_upload_by_mistake(self):
        cases = {
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n": "is a PDF document",
            gzip.compress(csv_text([HEADER, *ROWS]).encode()): "is a GZIP-compressed file",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504): "Excel 97-2003 workbook (.xls)",
            b"<!DOCTYPE html><html><table><tr><td>1</td></tr></table>": "is an HTML page",
        }
        for data, what in cases.items():
            with self.subTest(what=what):
                self.assertIn(what, read_error(data))

    def test_a_zip_renamed_csv_is_recognised_as_a_zip(self):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("patients.csv", csv_text([HEADER, *ROWS]))
        data = out.getvalue()

        self.assertEqual(detect_format(data, "patients.csv"), "zip")
        self.assertIn("patients.csv is a ZIP archive, not a CSV file", read_error(data))

    def test_a_workbook_renamed_csv_is_read_as_a_workbook(self):
        data = xlsx_bytes([HEADER, *ROWS])

        table = read_table(data, "patients.csv")

        self.assertEqual(detect_format(data), "xlsx")
        self.assertEqual((table.format, table.headers, table.rows), ("XLSX", HEADER, ROWS))

    def test_text_is_csv_whatever_the_name(self):
        self.assertEqual(detect_format(b"Id,LAST\n", "patients.xlsx"), "csv")


class LongCellTests(SimpleTestCase):
    def test_a_cell_over_the_limit_is_refused_naming_row_column_and_length(self):
        data = f"Id,NOTES\np-1,ok\np-2,{'x' * 120_000}\n".encode()

        message = read_error(data)

        self.assertEqual(
            message,
            "patients.csv, row 3, column NOTES: the cell is 120,000 characters long; at most "
            "100,000 are allowed.",
        )

    def test_a_line_of_several_megabytes_gives_a_clear_error_not_a_csv_crash(self):
        data = b"Id,NOTES,CITY\np-1," + b"x" * (5 * MB) + b",Boston\n"

        message = read_error(data)

        self.assertIn("patients.csv, row 2, column NOTES: the cell is longer than 131,072", message)
        self.assertNotIn("field larger than field limit", message)

    def test_an_unclosed_quote_is_pointed_at(self):
        rows = "".join(f"p-{i},Lee,Boston\n" for i in range(20_000))
        data = f'Id,LAST,CITY\np-0,Lee,Boston\np-1,"Lee,Boston\n{rows}'.encode()

        message = read_error(data)

        self.assertIn("row 3, column LAST: the cell is longer than", message)
        self.assertIn("check the quotes on this row", message)

    def test_an_unclosed_quote_in_a_small_file_is_pointed_at_too(self):
        data = b'Id,LAST,CITY\np-1,Lee,Boston\np-2,"Kim,Paris\np-3,Park,Seoul\n'

        self.assertEqual(
            read_error(data),
            "patients.csv, row 3: a quotation mark opens a cell that is never closed, so the "
            "rest of the file was read into that cell. Check the quotes on this row.",
        )


class XlsxTests(SimpleTestCase):
    def test_it_reads_the_first_worksheet_as_a_spreadsheet_user_sees_it(self):
        rows = [
            [" Id ", "BIRTHDATE", "SEEN", "VISITS", "WEIGHT", "ACTIVE", "NOTE"],
            [
                "p-1",
                datetime.date(1971, 3, 4),
                datetime.datetime(2024, 5, 6, 7, 8, 9),
                12,
                70.0,
                True,
                None,
            ],
            ["p-2", datetime.datetime(2001, 2, 3), None, 3.0, 70.25, False, "ok"],
            [],
            [None, None, None],
        ]
        data = xlsx_bytes(rows, sheets=("Patients", "Notes"))

        table = read_table(data, "patients.xlsx")

        self.assertEqual((table.format, table.sheet), ("XLSX", "Patients"))
        self.assertEqual(
            table.headers, ["Id", "BIRTHDATE", "SEEN", "VISITS", "WEIGHT", "ACTIVE", "NOTE"]
        )
        self.assertEqual(
            table.rows,
            [
                ["p-1", "1971-03-04", "2024-05-06 07:08:09", "12", "70", "TRUE", ""],
                ["p-2", "2001-02-03", "", "3", "70.25", "FALSE", "ok"],
            ],
        )

    def test_a_stale_dimension_does_not_cut_rows_off(self):
        rows = [["Id", "LAST"], *([f"p-{i}", f"Lee{i}"] for i in range(1, 11))]
        data = rewrite_member(
            xlsx_bytes(rows),
            "xl/worksheets/sheet1.xml",
            lambda xml: re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1:B2"/>', xml),
        )
        # The fixture is stale: openpyxl's read-only mode believes it.
        stale = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
        self.assertEqual(len(list(stale.iter_rows(values_only=True))), 2)

        table = read_table(data, "patients.xlsx")

        self.assertEqual(table.rows, [list(r) for r in rows[1:]])

    def test_a_zip_bomb_is_refused_before_it_is_parsed(self):
        workbook = io.BytesIO(xlsx_bytes([HEADER, *ROWS]))
        with zipfile.ZipFile(workbook, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            with archive.open("xl/media/padding.bin", "w", force_zip64=True) as member:
                for _ in range(210):  # 210 MB of spaces, about 1 MB packed
                    member.write(b" " * MB)
        data = workbook.getvalue()
        self.assertLess(len(data), 2 * MB)

        with mock.patch.object(reading, "load_workbook", side_effect=AssertionError("parsed")):
            message = read_error(data, "patients.xlsx")

        self.assertEqual(
            message,
            "patients.xlsx would unpack to 210 MB, more than the 200 MB allowed for an XLSX "
            "workbook. Save it as CSV, or split it into smaller workbooks.",
        )

    def test_a_damaged_workbook_is_refused_by_name(self):
        data = xlsx_bytes([HEADER, *ROWS])
        damaged = rewrite_member(data, "xl/workbook.xml", lambda xml: xml[: len(xml) // 2])

        with self.assertLogs("admin_ext.imports.reading", "WARNING") as logs:
            message = read_error(damaged, "Jane Doe 1970-01-01.xlsx")

        self.assertIn("Jane Doe 1970-01-01.xlsx could not be read as an Excel workbook", message)
        # The server log does not repeat the name: a file may be named after a patient.
        self.assertNotIn("Jane Doe", "\n".join(logs.output))

    def test_a_million_row_workbook_is_refused_quickly(self):
        # Rows and cells may leave out their r="A2" reference (ECMA-376 Part 1,
        # 18.3.1.73 and 18.3.1.4): they then follow the previous one.
        rows = b"<row><c><v>7</v></c></row>" * 1_000_000
        data = rewrite_member(
            xlsx_bytes([["Id"]]),
            "xl/worksheets/sheet1.xml",
            lambda xml: xml.replace(b"</row></sheetData>", b"</row>" + rows + b"</sheetData>"),
        )

        started = time.monotonic()
        message = read_error(data, "visits.xlsx", max_rows=1000)

        self.assertLess(time.monotonic() - started, 2)  # reading every row takes about 25 s
        self.assertIn("visits.xlsx has more than 1,000 data rows", message)


class LimitTests(SimpleTestCase):
    def test_more_rows_than_allowed_are_refused_naming_the_limit_and_the_command(self):
        data = csv_text([["Id"], *([f"p-{i}"] for i in range(6))]).encode()

        message = read_error(data, max_rows=5)

        self.assertEqual(
            message,
            "patients.csv has more than 5 data rows (the header excluded), the most one upload "
            "may hold. Split it into smaller files, or, for Synthea files, import them on the "
            'server with "python manage.py import_synthea <folder>", which reads files of any size.',
        )

    def test_exactly_the_limit_is_accepted_and_trailing_empty_rows_do_not_count(self):
        data = csv_text([["Id"], *([f"p-{i}"] for i in range(5))]).encode() + b"\n\n\n"

        self.assertEqual(len(read_table(data, "patients.csv", max_rows=5).rows), 5)

    @override_settings(IMPORT_MAX_ROWS=2)
    def test_the_row_limit_comes_from_the_settings(self):
        message = read_error(b"Id\np-1\np-2\np-3\n")

        self.assertIn("more than 2 data rows", message)

    @override_settings(IMPORT_MAX_UPLOAD_BYTES=1024)
    def test_an_upload_over_the_size_limit_is_refused_before_reading(self):
        with self.assertRaisesMessage(
            ImportFileError, "patients.csv is 2 MB, more than the 1 KB one upload may be."
        ):
            check_upload_size(2 * MB, "patients.csv")
        # Sizes that would both read "1 KB" are given in bytes.
        self.assertIn(
            "patients.csv is 1,025 bytes, more than the 1,024 bytes one upload may be.",
            read_error(b"Id\n" + b"x" * 1022),
        )


class StreamingTests(SimpleTestCase):
    def setUp(self):
        self.folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.folder)

    def write(self, name, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        return path

    def test_it_streams_rows_with_their_spreadsheet_numbers(self):
        text = csv_text(
            [
                ["Id", "ADDRESS", "CITY"],
                ["p-1", "1 Main St\r\nApt 4", "Boston"],
                [],
                ["p-3", "2 Elm St"],
            ],
            delimiter=";",
            line_end="\r\n",
        )
        path = self.write("patients.csv", codecs.BOM_UTF8 + text.encode())

        headers, rows = iter_csv_file(path)

        self.assertEqual(headers, ["Id", "ADDRESS", "CITY"])
        self.assertEqual(
            list(rows), [(2, ["p-1", "1 Main St\r\nApt 4", "Boston"]), (4, ["p-3", "2 Elm St", ""])]
        )

    def test_it_follows_excels_sep_line(self):
        path = self.write("patients.csv", b"sep=|\nId|NAME\np-1|Smith, John; Jr\n")

        headers, rows = iter_csv_file(path)

        self.assertEqual((headers, list(rows)), (["Id", "NAME"], [(2, ["p-1", "Smith, John; Jr"])]))

    def test_it_reads_windows_1252_and_utf16(self):
        text = csv_text([HEADER, *ROWS])
        for data in (text.encode("cp1252"), codecs.BOM_UTF16_LE + text.encode("utf-16-le")):
            with self.subTest(start=data[:2]):
                headers, rows = iter_csv_file(self.write("patients.csv", data))
                self.assertEqual((headers, [cells for _, cells in rows]), (HEADER, ROWS))

    def test_a_windows_1252_byte_after_the_sample_stops_with_the_row(self):
        rows = "".join(f"p-{i},Lee\n" for i in range(1, 10_001))  # about 100 KB of ASCII
        path = self.write(
            "patients.csv", b"Id,LAST\n" + rows.encode() + "p-x,Müller\n".encode("cp1252")
        )
        headers, rows = iter_csv_file(path)

        with self.assertRaises(ImportFileError) as caught:
            list(rows)

        self.assertIn(
            "patients.csv, row 10002: byte 0xFC is not valid UTF-8 text, the encoding of its first 64 KB.",
            str(caught.exception),
        )

    def test_a_line_of_several_megabytes_stops_with_a_clear_error(self):
        path = self.write("patients.csv", b"Id,NOTES\np-1,ok\np-2," + b"x" * (5 * MB) + b"\n")
        headers, rows = iter_csv_file(path)

        with self.assertRaises(ImportFileError) as caught:
            list(rows)

        self.assertIn(
            "patients.csv, row 3, column NOTES: the cell is longer than", str(caught.exception)
        )

    def test_unreadable_files_are_refused_by_name(self):
        cases = {
            "missing.csv": (None, "missing.csv cannot be read (No such file or directory)."),
            "empty.csv": (b"", "empty.csv is empty."),
            "book.csv": (xlsx_bytes([HEADER]), "book.csv is a ZIP archive or an Excel workbook"),
            "photo.csv": (NotATableTests.PNG, "photo.csv is a PNG image"),
        }
        for name, (data, message) in cases.items():
            with self.subTest(name=name):
                path = self.folder / name if data is None else self.write(name, data)
                with self.assertRaisesMessage(ImportFileError, message):
                    iter_csv_file(path)

    def test_memory_does_not_grow_with_the_file(self):
        line = "p-{},1990-01-01,José,Müller,1 Main St,Boston,02128\n"
        with (self.folder / "patients.csv").open("w", encoding="utf-8") as out:
            out.write("Id,BIRTHDATE,FIRST,LAST,ADDRESS,CITY,ZIP\n")
            for i in range(20_000):  # about 1.1 MB
                out.write(line.format(i))
        headers, rows = iter_csv_file(self.folder / "patients.csv")

        tracemalloc.start()
        try:
            count = sum(1 for _ in rows)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

        self.assertEqual(count, 20_000)
        self.assertLess(peak, MB // 4)  # the rows as a list would take 13 MB


class ResourceTests(TestCase):
    """What ``read_table`` returns feeds import-export's Resources, row numbers included."""

    def test_a_windows_semicolon_file_imports_with_its_accents(self):
        rows = [
            ["Id", "BIRTHDATE", "FIRST", "LAST", "GENDER"],
            ["p-1", "1971-03-04", "José", "Müller", "M"],
        ]
        data = csv_text(rows, delimiter=";", line_end="\r\n").encode("cp1252")

        result = SyntheaPatientResource().import_data(
            read_table(data, "patients.csv").to_dataset(), dry_run=False, file_name="patients.csv"
        )

        self.assertEqual([str(p) for p in result.problems], [])
        patient = Patient.objects.get(external_id="p-1")
        self.assertEqual((patient.first_name, patient.last_name), ("José", "Müller"))

    def test_problems_name_the_spreadsheet_row_after_a_multi_line_cell(self):
        rows = [
            ["Id", "BIRTHDATE", "FIRST", "LAST", "GENDER", "ADDRESS"],
            ["p-1", "1971-03-04", "Ann", "Lee", "F", "1 Main St\nApt 4\nBoston"],
            ["p-2", "1990-13-01", "Bo", "Kim", "M", "2 Elm St"],
        ]
        table = read_table(csv_text(rows).encode(), "patients.csv")

        result = SyntheaPatientResource().import_data(table.to_dataset(), dry_run=True)

        self.assertEqual([(p.row, p.column) for p in result.problems], [(3, "BIRTHDATE")])
