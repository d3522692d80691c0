"""Hypothesis strategies and the settings profile of the admin fuzz test (``test_fuzz_admin``).

What a careless, hostile or unlucky user can send a form, a query string or an upload
(OWASP ASVS 4.0 V5.1 "Input validation", V12.1 "File upload"; OWASP WSTG-INPV):

- :func:`garbage`: one form value: unicode, control characters, NUL, right-to-left
  marks, emoji, very long text, numbers out of every range, impossible dates,
  markup and injection text, ids of rows the user may not see.
- :func:`form_posts`: a page's own form with a few of its fields changed to
  garbage, mutated, repeated or left out, unknown fields added, and inline
  management-form counts made huge, negative or not numbers.
- :func:`query_strings`: a changelist's query string: filters on unknown fields,
  ``o=``, ``p=``, ``q=`` and ``_changelist_filters`` garbage.
- :func:`uploads`: random bytes, malformed CSV, XLSX and ZIP files, over-size files.

The profile (:data:`PROFILE`, :func:`fuzz_settings`): ``FUZZ_EXAMPLES`` examples per
endpoint and persona (default 6; ``FUZZ_EXAMPLES=500`` for a long local run), no
deadline (a page takes what it takes on a shared machine), and derandomized, so CI
sees the same examples on every run and a failure reproduces; ``FUZZ_RANDOM=1`` draws
new examples each run and keeps failing ones in ``.hypothesis/`` for the next.
"""

import io
import os
import zipfile

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

#: Examples per endpoint and persona (FUZZ_EXAMPLES overrides).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
#: New random examples each run (FUZZ_RANDOM=1) instead of the same ones.
RANDOM = os.environ.get("FUZZ_RANDOM", "") not in ("", "0", "false", "False")

settings.register_profile(
    "admin-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=DirectoryBasedExampleDatabase(".hypothesis/examples") if RANDOM else None,
    print_blob=True,
    # A request is slow and its data large next to a pure function's: that is the
    # point here, not a problem with the strategies.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
        HealthCheck.differing_executors,
    ],
)
PROFILE = settings.get_profile("admin-fuzz")


def fuzz_settings(share: float = 1.0) -> settings:
    """The profile with ``share`` of its examples (at least 2): read-only pages get fewer."""
    return settings(PROFILE, max_examples=max(2, round(PROFILE.max_examples * share)))


# -- values ------------------------------------------------------------------------

NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\r\n",
    "\r",
    "\u202eevil\u202c",
    "مرحبا بالعالم",
    "שלום",
    "😀🏥💉👩🏽‍⚕️",
    "e\u0301\u0301\u0301",
    "\ufeffbom",
    "\u200b\u200d",
    "ｆｕｌｌｗｉｄｔｈ",
    "null",
    "None",
    "undefined",
    "true",
    "[]",
    "{}",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    '"; DROP TABLE clinic_patient; --',
    "../../etc/passwd",
    "%s%s%n%x",
    "{{ 7*7 }}",
    '=HYPERLINK("http://x")',
    "__proto__",
]
NASTY_NUMBERS = [
    "-1",
    "0",
    "1.5",
    "1e309",
    "NaN",
    "inf",
    "-inf",
    "0x10",
    "١٢٣",
    "1,000",
    " 7 ",
    "+5",
    "99999999999999999999999999",
    str(2**63),
    str(-(2**63) - 1),
    str(2**31),
    str(2**64 + 1),
]
NASTY_DATES = [
    "2024-02-30",
    "0000-00-00",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "31/12/1999",
    "1999-13-01",
    "1999-12-01T25:61",
    "yesterday",
    "2999-01-01",
    "1800-01-01",
    "-2020-01-01",
]


def long_text(min_size: int = 256, max_size: int = 70_000):
    """Text far past any field's ``max_length`` (sizes drawn)."""
    return st.integers(min_size, max_size).map(lambda n: ("Ab1-é" * (n // 5 + 1))[:n])


def text_values():
    """Random text of every kind: printable, control and format characters, long."""
    return st.one_of(
        st.sampled_from(NASTY_TEXT),
        st.text(max_size=40),
        st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Mn"]), max_size=12),
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=300),
        long_text(),
    )


def garbage(ids=()):
    """One form or query value of any type, or the id of a row (``ids``: hidden ones too)."""
    choices = [
        text_values(),
        st.sampled_from(NASTY_NUMBERS),
        st.integers(-(2**70), 2**70).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(NASTY_DATES),
        st.dates().map(str),
    ]
    if ids:
        choices.append(st.sampled_from(sorted(set(map(str, ids)))))
    return st.one_of(*choices)


MUTATIONS = {
    "suffix": lambda v, junk: v + junk,
    "prefix": lambda v, junk: junk + v,
    "repeat": lambda v, junk: v * 50,
    "truncate": lambda v, junk: v[:-1],
    "nul": lambda v, junk: v[: len(v) // 2] + "\x00" + v[len(v) // 2 :],
    "spaces": lambda v, junk: f"  {v}  ",
    "upper": lambda v, junk: v.upper(),
    "rtl": lambda v, junk: "\u202e" + v,
}


@st.composite
def mutated(draw, value: str):
    """``value`` (a valid-looking one) changed a little: junk around it, cut, doubled."""
    how = draw(st.sampled_from(sorted(MUTATIONS)))
    return MUTATIONS[how](value, draw(st.sampled_from(NASTY_TEXT + NASTY_NUMBERS)))


#: Fields a form does not have but an attacker may add (privileges, internals, the
#: admin's own save buttons).
EXTRA_NAMES = [
    "is_superuser",
    "is_staff",
    "id",
    "pk",
    "version",
    "mrn",
    "status",
    "created_by",
    "history_user",
    "groups",
    "user_permissions",
    "_saveasnew",
    "_continue",
    "_addanother",
    "_popup",
    "_to_field",
    "_changelist_filters",
    "csrfmiddlewaretoken",
    "import_file_name",
    "token",
]


def control_values(control, ids):
    """What to put in one form ``control``: its options, mutations of its value, garbage."""
    choices = [garbage(ids)]
    options = [v for v, _ in getattr(control, "options", []) if v]
    if options:
        choices.append(st.sampled_from(options))
    if control is not None and control.value:
        choices.append(mutated(control.value))
    return st.one_of(*choices)


def is_management(name: str) -> bool:
    """Whether ``name`` is an inline formset's management-form count."""
    return name.endswith(("-TOTAL_FORMS", "-INITIAL_FORMS", "-MIN_NUM_FORMS", "-MAX_NUM_FORMS"))


VERSION_VALUES = ["0", "1", "-1", "2", "999999", "abc", "", "1.5", str(2**63), "\x00"]
MANAGEMENT_VALUES = ["1000000", "-1", "abc", "", "1e3", str(2**63), "0", "1001"]


@st.composite
def form_posts(draw, form, base: dict, ids=()):
    """``base`` (the page's own form data, valid-looking) with a few fields fuzzed.

    Args: ``form``, the page's ``matrix.Form`` (its controls name the fields); ``base``,
    ``{name: [values]}``; ``ids``, row ids to try in any field (hidden rows' too).
    Returns the data to post, ``{name: [values]}``: up to four fields given garbage,
    a mutation, several values or left out; up to two unknown fields; inline
    counts crafted when the form has inlines; half the time a stale or malformed
    record version where the form carries one.
    """
    data = {name: list(values) for name, values in base.items()}
    controls = {c.name: c for c in (form.controls if form else []) if c.name}
    names = sorted(set(data) | set(controls))
    if names:
        for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
            how = draw(st.sampled_from(["value", "value", "omit", "many", "empty"]))
            if how == "omit":
                data.pop(name, None)
            elif how == "empty":
                data[name] = [""]
            elif how == "many":
                data[name] = draw(st.lists(control_values(controls.get(name), ids), max_size=5))
            else:
                data[name] = [draw(control_values(controls.get(name), ids))]
    # The version a change form carries (optimistic concurrency): stale, future, not
    # a number, past the column's range.
    for name in [n for n in names if "version" in n]:
        if draw(st.booleans()):
            data[name] = [draw(st.sampled_from(VERSION_VALUES))]
    management = [n for n in names if is_management(n)]
    if management and draw(st.booleans()):
        for name in draw(st.lists(st.sampled_from(management), min_size=1, unique=True)):
            data[name] = [draw(st.sampled_from(MANAGEMENT_VALUES))]
    extra_names = st.one_of(st.sampled_from(EXTRA_NAMES), st.text(min_size=1, max_size=20))
    for name in draw(st.lists(extra_names, max_size=2, unique=True)):
        data[name] = [draw(garbage(ids))]
    return data


# -- query strings -----------------------------------------------------------------

QUERY_NAMES = ["o", "p", "q", "_changelist_filters", "e", "all", "_to_field", "_popup", "page"]


@st.composite
def query_strings(draw, fields=(), ids=()):
    """A changelist's query parameters: ``[(name, value)]``.

    Names are the list's own (``o`` ordering, ``p`` page, ``q`` search,
    ``_changelist_filters``), lookups on the model's ``fields`` and on unknown ones
    (``ssn__startswith``, ``password__regex``, ``nosuch__in``), or random; values
    are :func:`garbage`.
    """
    lookups = ["", "__exact", "__in", "__isnull", "__gte", "__regex", "__startswith", "__id__lt"]
    field_names = list(fields) + ["nosuch", "password", "ssn", "primary_doctor__user__password"]
    lookup_names = st.builds(
        lambda f, lk: f + lk, st.sampled_from(field_names), st.sampled_from(lookups)
    )
    names = st.one_of(st.sampled_from(QUERY_NAMES), lookup_names, st.text(min_size=1, max_size=20))
    ordering = st.lists(
        st.one_of(st.integers(-20, 20).map(str), st.sampled_from(["-", ".", "x", "-0", ""])),
        max_size=4,
    ).map(".".join)
    pairs = draw(st.lists(st.tuples(names, garbage(ids)), max_size=4))
    if draw(st.booleans()):
        pairs.append(("o", draw(ordering)))
    return pairs


# -- uploads -----------------------------------------------------------------------


def _xlsx(rows) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    book = Workbook()
    sheet = book.active
    for row in rows:
        # Control characters cannot be stored in a worksheet (openpyxl refuses them).
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", str(v)) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _zip(members: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _csv(rows, delimiter: str = ",", newline: str = "\n") -> bytes:
    def cell(value):
        value = str(value)
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',;"\n') else value

    return newline.join(delimiter.join(cell(v) for v in row) for row in rows).encode(
        "utf-8", errors="surrogatepass"
    )


@st.composite
def tables(draw, headers=()):
    """Rows of a spreadsheet: a real header (``headers``) or a random one, garbage cells,
    ragged rows."""
    header = (
        list(headers)
        if headers and draw(st.booleans())
        else draw(
            st.lists(
                st.one_of(st.sampled_from(list(headers) or ["Id"]), st.text(max_size=12)),
                max_size=6,
            )
        )
    )
    cells = st.one_of(
        st.sampled_from(NASTY_TEXT + NASTY_NUMBERS + NASTY_DATES), st.text(max_size=20)
    )
    rows = draw(st.lists(st.lists(cells, max_size=len(header) + 2), max_size=6))
    return [header, *rows]


@st.composite
def uploads(draw, headers=(), names=("data.csv", "data.xlsx")):
    """``(file name, bytes)`` of a malformed upload.

    Random bytes; CSV with garbage cells, odd delimiters, a BOM, other encodings;
    XLSX with garbage cells, cut short, or not a workbook at all; ZIP archives of
    CSV members, nested or broken; an empty file; a file of 80 to 240 KB (over the
    upload limit the fuzz test sets). ``headers`` are the real column
    names, so some files get past the header check; ``names`` the file names a
    page expects (others are drawn too).
    """
    rows = draw(tables(headers))
    kind = draw(
        st.sampled_from(["bytes", "csv", "csv", "xlsx", "xlsx-cut", "zip", "empty", "huge"])
    )
    if kind == "bytes":
        content = draw(st.binary(max_size=2048))
    elif kind == "huge":
        # Past the upload limit the test sets (IMPORT_MAX_UPLOAD_BYTES, 64 KB there).
        content = _csv(rows) + b"\n" + b"x," * draw(st.integers(40_000, 120_000))
    elif kind == "csv":
        delimiter = draw(st.sampled_from([",", ";", "\t", "|", "\x00"]))
        content = _csv(rows, delimiter, draw(st.sampled_from(["\n", "\r\n", "\r"])))
        prefix = draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe"]))
        content = prefix + (content.decode().encode("latin-1", "replace") if prefix else content)
    elif kind == "xlsx":
        content = _xlsx(rows)
    elif kind == "xlsx-cut":
        whole = _xlsx(rows)
        content = whole[: draw(st.integers(0, len(whole) - 1))]
    elif kind == "zip":
        member = draw(st.sampled_from(["patients.csv", "providers.csv", "a/../../x.csv", "x.bin"]))
        inner = _zip({"nested.csv": _csv(rows)}) if draw(st.booleans()) else _csv(rows)
        content = _zip({member: inner})
        if draw(st.booleans()):
            content = content[: len(content) // 2]
    else:
        content = b""
    name = draw(
        st.one_of(
            st.sampled_from(list(names)),
            st.sampled_from(["x.zip", "../../etc/passwd", "no-extension", "a" * 300 + ".csv"]),
            st.text(min_size=1, max_size=40).map(lambda t: t.replace("\x00", "") or "f"),
        )
    )
    return name, content
