"""Reading Synthea CSV output folders: the files ``import_synthea`` knows and the
primary-doctor rule over ``encounters.csv``.

Column meanings: Synthea's CSV data dictionary,
https://github.com/synthetichealth/synthea/wiki/CSV-File-Data-Dictionary ; syntax: RFC 4180.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import tablib
from django.core.exceptions import ValidationError
from django.db import transaction

from admin_ext.imports.models import ImportJob
from admin_ext.imports.reading import ImportFileError, iter_csv_file
from admin_ext.imports.resources import ImportProblem, ImportResult, is_conflict, rows_by_key

#: The encounters file ``import_synthea`` reads primary doctors from.
ENCOUNTERS_FILE = "encounters.csv"


@dataclass
class PrimaryProviders:
    """What :func:`primary_providers` found.

    ``by_patient`` maps a patient's external_id (encounter PATIENT) to the chosen
    provider's external_id (encounter PROVIDER); ``problems`` lists rows that
    could not be read (spreadsheet row numbers, header = 1); ``rows`` counts the
    encounter rows read.
    """

    by_patient: dict[str, str] = field(default_factory=dict)
    problems: list[ImportProblem] = field(default_factory=list)
    rows: int = 0


def _parse_start(text: str) -> datetime.datetime:
    """Encounter START as Synthea writes it (``YYYY-MM-DDTHH:MM:SSZ``, UTC; ISO 8601)."""
    value = datetime.datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value


# A patient's tally is one int: a slot of _SLOT_BITS per provider who saw them, each
# holding, from high bits to low, the encounter count, the latest START (whole
# seconds since 1970, offset to stay positive) and the provider's number. About 50
# bytes a patient where a list of [provider, count, datetime] per provider cost 150
# to 200; and comparing two slots compares (count, latest START).
_CODE_BITS = 24
_START_BITS = 40
_COUNT_BITS = 32  # 4 billion encounters of one pair: more than any file holds
_SLOT_BITS = _CODE_BITS + _START_BITS + _COUNT_BITS
_START_OFFSET = 1 << (_START_BITS - 1)  # START from about 17,000 years before 1970 to after
_CODE_MASK = (1 << _CODE_BITS) - 1
_START_FIELD = ((1 << _START_BITS) - 1) << _CODE_BITS
_SLOT_MASK = (1 << _SLOT_BITS) - 1
_ONE_ENCOUNTER = 1 << (_CODE_BITS + _START_BITS)


def _counted(tally: int, entry: int) -> int:
    """``tally`` with the encounter ``entry`` (a slot with count 1) counted in: its
    provider's slot gets one more encounter and the later START, or a new slot."""
    code = entry & _CODE_MASK
    shift = 0
    while slot := tally >> shift & _SLOT_MASK:
        if slot & _CODE_MASK == code:
            start = max(slot & _START_FIELD, entry & _START_FIELD)
            updated = (slot + _ONE_ENCOUNTER) & ~_START_FIELD | start
            return tally + ((updated - slot) << shift)
        shift += _SLOT_BITS
    return tally | entry << shift


def _chosen(tally: int, names: list[str]) -> str:
    """The provider id a packed ``tally`` chooses: most encounters, then the latest one;
    the greatest provider id only makes an exact tie come out the same on every run."""
    slots = []
    while tally:
        slots.append(tally & _SLOT_MASK)
        tally >>= _SLOT_BITS
    top = max(slots) >> _CODE_BITS
    return max(names[slot & _CODE_MASK] for slot in slots if slot >> _CODE_BITS == top)


def primary_providers(
    path: Path | None = None,
    *,
    table: tuple[list[str], Iterable[tuple[int, list[str]]]] | None = None,
    name: str = ENCOUNTERS_FILE,
    progress=None,
    progress_every: int = 10000,
) -> PrimaryProviders:
    """Choose each patient's primary provider from a Synthea ``encounters.csv``.

    The rule (DESIGN.md, "Import and export"): the provider of most of the
    patient's encounters; among providers tied on that count, the one whose own
    latest encounter (by START, to the second) is the latest; an exact tie goes to
    the greatest provider id, so every run chooses the same. Encounters without a
    PROVIDER are not counted.

    Streams the rows; memory grows with the number of patients (and distinct
    (patient, provider) pairs), not with rows: about 180 bytes a patient while
    counting (one packed int per pair), and the result reuses that dict (issue 6:
    1,000,000 patients under 500 MB).

    Args: ``path`` to the file, or ``table`` = (header, iterator of (spreadsheet row
    number, cells)) already opened (``admin_ext.imports.reading``); ``name`` for
    messages; ``progress``, an optional ``progress(rows_read)`` callable called
    every ``progress_every`` rows.
    Returns a :class:`PrimaryProviders`. Raises ``ImportFileError`` if the file
    cannot be read or its header lacks PATIENT, PROVIDER or START.
    """
    if table is None:
        table = iter_csv_file(path)
        name = path.name
    headers, rows = table
    result = PrimaryProviders()
    index = {h.strip().upper(): i for i, h in enumerate(headers)}
    missing = [c for c in ("PATIENT", "PROVIDER", "START") if c not in index]
    if missing:
        raise ImportFileError(
            f"{name} has no column {', '.join(missing)}: it is not a Synthea encounters file."
        )
    patient_at, provider_at, start_at = (index[c] for c in ("PATIENT", "PROVIDER", "START"))
    start_col = headers[start_at]
    width = max(patient_at, provider_at, start_at) + 1
    providers: dict[str, int] = {}
    tallies: dict[str, int | str] = {}  # patient -> packed tally; at the end, provider id
    for number, cells in rows:
        result.rows += 1
        if progress and result.rows % progress_every == 0:
            progress(result.rows)
        if len(cells) < width:
            continue
        patient = cells[patient_at].strip()
        provider = cells[provider_at].strip()
        if not patient or not provider:
            continue
        text = cells[start_at].strip()
        try:
            start = int(_parse_start(text).timestamp()) + _START_OFFSET
            if not 0 <= start < 1 << _START_BITS:
                raise ValueError(text)
        except (ValueError, OverflowError):
            result.problems.append(
                ImportProblem(
                    number, start_col, text, "is not a valid time (YYYY-MM-DDTHH:MM:SSZ)", name
                )
            )
            continue
        code = providers.get(provider)
        if code is None:
            code = providers[provider] = len(providers)
            if code > _CODE_MASK:
                raise ImportFileError(f"{name} names more than {_CODE_MASK:,} providers.")
        start <<= _CODE_BITS
        tally = tallies.get(patient)
        if tally is None:
            tallies[patient] = _ONE_ENCOUNTER | start | code
        elif tally & _CODE_MASK == code:
            # The provider of the patient's first slot (usually their primary one): the
            # same update as _counted's, without its search.
            tallies[patient] = (tally + _ONE_ENCOUNTER) & ~_START_FIELD | max(
                tally & _START_FIELD, start
            )
        else:
            tallies[patient] = _counted(tally, _ONE_ENCOUNTER | start | code)
    names = list(providers)
    # Each tally is replaced by its provider's id in place: no second dict of patients.
    for patient, tally in tallies.items():
        tallies[patient] = _chosen(tally, names)
    result.by_patient = tallies
    return result


# -- a whole folder ---------------------------------------------------------------

#: Rows read into one ``tablib.Dataset`` at a time: large files are imported in
#: chunks, so memory stays flat whatever the file size (issue 6: 1,000,000 patients
#: under 500 MB).
CHUNK_ROWS = 5000

#: Patients per lookup and per bulk assignment of primary doctors.
ASSIGN_CHUNK = 5000

#: How many failed rows and problems a folder result keeps (counts stay exact).
MAX_KEPT = 10000

#: A source: a callable returning (header, iterator of (spreadsheet row, cells)).
Opener = Callable[[], tuple[list[str], Iterable[tuple[int, list[str]]]]]


def synthea_files():
    """The Synthea files imported as records, in dependency order: (name, Resource class)."""
    from clinic.resources import (
        SyntheaOrganizationResource,
        SyntheaPatientResource,
        SyntheaProviderResource,
    )

    return [
        ("organizations.csv", SyntheaOrganizationResource),
        ("providers.csv", SyntheaProviderResource),
        ("patients.csv", SyntheaPatientResource),
    ]


#: Every file name a Synthea folder import reads.
FOLDER_FILES = ("organizations.csv", "providers.csv", "patients.csv", ENCOUNTERS_FILE)


@dataclass
class FileOutcome:
    """What one file of a folder import gave: ``rows`` read, ``counts`` by outcome
    (``new``, ``changed``, ``unchanged``, ``invalid``), ``headers`` as read, and up
    to ``ImportResult.SAMPLE_ROWS`` row results with diffs (``sample``)."""

    name: str
    rows: int = 0
    counts: dict = field(
        default_factory=lambda: {"new": 0, "changed": 0, "unchanged": 0, "invalid": 0}
    )
    headers: list = field(default_factory=list)
    sample: list = field(default_factory=list)
    diff_headers: list = field(default_factory=list)


@dataclass
class FolderResult:
    """The outcome of :func:`import_folder`.

    ``files`` one :class:`FileOutcome` per file read, in order; ``problems`` every
    :class:`ImportProblem` (capped at :data:`MAX_KEPT`; ``problem_count`` exact);
    ``failed_rows`` the rows that did not import (``{"file", "row", "headers",
    "cells", "error"}``); ``primary`` the primary-doctor counts (``assigned``,
    ``unchanged``, ``invalid``) when ``encounters.csv`` was read; ``conflict`` True
    when a concurrent writer, not the data, stopped the import; ``written`` False
    when nothing was kept.
    """

    files: list[FileOutcome] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    problem_count: int = 0
    failed_rows: list[dict] = field(default_factory=list)
    primary: dict | None = None
    encounters: int = 0
    conflict: bool = False
    written: bool = False
    doctors_assigned: int = 0

    @property
    def valid(self) -> bool:
        """True when no row is invalid and nothing else stopped the import."""
        return self.problem_count == 0

    @property
    def counts(self) -> dict[str, int]:
        """Rows by outcome over all record files (``new``, ``changed``, ``unchanged``, ``invalid``)."""
        totals = {"new": 0, "changed": 0, "unchanged": 0, "invalid": 0}
        for outcome in self.files:
            for key in totals:
                totals[key] += outcome.counts[key]
        return totals

    @property
    def job_counts(self) -> dict[str, int]:
        """:attr:`counts` plus ``skipped``: the invalid rows left out of a written import."""
        return {**self.counts, "skipped": self.problem_count if self.written else 0}

    @property
    def status(self) -> str:
        """The ``ImportJob.Status`` the import ends with: conflict, refused (nothing
        written), partial (written, invalid rows skipped) or succeeded."""
        if self.conflict:
            return ImportJob.Status.CONFLICT
        if not self.written:
            return ImportJob.Status.REFUSED
        if self.problem_count:
            return ImportJob.Status.PARTIAL
        return ImportJob.Status.SUCCEEDED

    def file_rows(self) -> dict[str, int]:
        """Data rows read, by file name (files the import did not reach are absent)."""
        rows = {outcome.name: outcome.rows for outcome in self.files}
        if self.encounters:
            rows[ENCOUNTERS_FILE] = self.encounters
        return rows

    def with_rows(self, entries: list[dict]) -> list[dict]:
        """Import job ``files`` entries (``admin_ext.imports.services.file_entry``) with
        each file's data rows read (:meth:`file_rows`) filled in."""
        rows = self.file_rows()
        return [{**entry, "rows": rows.get(entry["name"], 0)} for entry in entries]

    def add_problems(self, problems, failed_rows=()) -> None:
        self.problem_count += len(problems)
        room = MAX_KEPT - len(self.problems)
        self.problems.extend(problems[: max(room, 0)])
        room = MAX_KEPT - len(self.failed_rows)
        self.failed_rows.extend(list(failed_rows)[: max(room, 0)])


class _Stop(Exception):
    """Raised inside the folder's transaction to roll it back."""


def import_folder(
    sources: dict[str, Opener],
    *,
    actor,
    reason: str,
    dry_run: bool = False,
    valid_rows_only: bool = False,
    confirmed_not_duplicate: bool = False,
    progress: Callable[[str, int], None] | None = None,
    progress_every: int = 10000,
    chunk_rows: int = CHUNK_ROWS,
) -> FolderResult:
    """Import a Synthea folder: the one procedure behind ``import_synthea`` and the admin's
    folder import.

    Reads ``organizations.csv``, ``providers.csv`` and ``patients.csv`` (each optional,
    in that order) through the Synthea Resources in bulk mode, ``chunk_rows`` rows at
    a time, then assigns primary doctors from ``encounters.csv``
    (:func:`primary_providers`, :func:`clinic.services.patients_assign_primary_doctors`).
    One transaction for the whole folder: all or nothing unless ``valid_rows_only``.
    A ``dry_run`` (the admin's preview) does all of it and rolls back, so providers
    see the organizations of the same upload.

    Args: ``sources`` maps file names (:data:`FOLDER_FILES`) to openers; ``actor``
    (User or None); ``reason`` the history reason (``Import #<job id>``);
    ``confirmed_not_duplicate`` lets patients in who look like registered ones (the
    user checked the MRNs a preview named; each row's history reason says so);
    ``progress(file name, rows read)``, called every ``progress_every`` rows.
    Returns a :class:`FolderResult`. Raises ``PermissionDenied`` when ``actor`` may
    not import a file's records; ``ImportFileError`` (from the openers) for a file
    that cannot be read.
    """
    from clinic.models import Doctor

    result = FolderResult()
    primary = None
    if ENCOUNTERS_FILE in sources:
        # Read first, so new patients are created with their primary doctor.
        primary = primary_providers(
            table=sources[ENCOUNTERS_FILE](),
            progress=(lambda n: progress(ENCOUNTERS_FILE, n)) if progress else None,
            progress_every=progress_every,
        )
    try:
        with transaction.atomic():
            for name, resource_class in synthea_files():
                options = {}
                if name == "patients.csv":
                    options["confirmed_not_duplicate"] = confirmed_not_duplicate
                if name == "patients.csv" and primary is not None:
                    options |= {
                        "primary_provider_of": primary.by_patient,
                        "doctors": rows_by_key(
                            Doctor.objects.all(), "external_id", set(primary.by_patient.values())
                        ),
                    }
                if name in sources:
                    _import_file(
                        result,
                        name,
                        sources[name],
                        resource_class,
                        actor=actor,
                        reason=reason,
                        valid_rows_only=valid_rows_only,
                        progress=progress,
                        progress_every=progress_every,
                        chunk_rows=chunk_rows,
                        options=options,
                    )
                    if result.problem_count and not valid_rows_only:
                        # Later files depend on this one (providers name organizations):
                        # checking them would only repeat its problems.
                        raise _Stop
            if primary is not None:
                _assign_primary_doctors(
                    result,
                    primary,
                    actor=actor,
                    reason=reason,
                    valid_rows_only=valid_rows_only,
                    opener=sources[ENCOUNTERS_FILE],
                )
            if dry_run or result.conflict or (result.problem_count and not valid_rows_only):
                raise _Stop
            result.written = True
    except _Stop:
        result.written = False
    return result


def _import_file(
    result,
    name,
    opener,
    resource_class,
    *,
    actor,
    reason,
    valid_rows_only,
    progress,
    progress_every,
    chunk_rows,
    options,
) -> None:
    headers, rows = opener()
    outcome = FileOutcome(name=name, headers=list(headers))
    result.files.append(outcome)
    resource = resource_class(user=actor, reason=reason)
    extra = {}
    if "confirmed_not_duplicate" in options:
        extra["confirmed_not_duplicate"] = options.pop("confirmed_not_duplicate")
    for attribute, value in options.items():
        setattr(resource, attribute, value)
    seen: set[int] = set()
    id_at = next((i for i, h in enumerate(headers) if h.strip().lower() == "id"), None)
    chunk: list[list[str]] = []
    first_row = 2

    def flush(chunk, first_row):
        dataset = tablib.Dataset(*chunk, headers=list(headers))
        imported = resource.import_data(
            dataset,
            dry_run=False,
            file_name=name,
            user=actor,
            valid_rows_only=valid_rows_only,
            first_row=first_row,
            **extra,
        )
        for key, value in imported.counts.items():
            outcome.counts[key] += value
        if len(outcome.sample) < ImportResult.SAMPLE_ROWS:
            outcome.sample.extend(imported.rows[: ImportResult.SAMPLE_ROWS - len(outcome.sample)])
            outcome.diff_headers = imported.diff_headers
        problems = [_in_file(p, name) for p in imported.problems]
        failed = [{**row, "file": name, "headers": list(headers)} for row in imported.failed_rows]
        result.add_problems(problems, failed)
        result.conflict = result.conflict or imported.conflict
        return not problems or valid_rows_only

    for number, cells in rows:
        outcome.rows += 1
        if progress and outcome.rows % progress_every == 0:
            progress(name, outcome.rows)
        if id_at is not None and id_at < len(cells) and cells[id_at].strip():
            # Repeats within a chunk are the Resource's to report (with the first
            # row); across chunks, a hash of each Id keeps memory small.
            key = hash(cells[id_at].strip())
            if key in seen and not chunk_has(chunk, id_at, cells[id_at]):
                outcome.counts["invalid"] += 1
                problem = ImportProblem(
                    number,
                    headers[id_at],
                    cells[id_at].strip(),
                    "appears more than once in this file",
                    name,
                )
                result.add_problems(
                    [problem],
                    [
                        {
                            "file": name,
                            "row": number,
                            "headers": list(headers),
                            "cells": list(cells),
                            "error": str(problem),
                        }
                    ],
                )
                continue
            seen.add(key)
        if not chunk:
            first_row = number
        chunk.append(cells)
        if len(chunk) >= chunk_rows:
            if not flush(chunk, first_row):
                return
            chunk = []
    if chunk or outcome.rows == 0:
        flush(chunk, first_row)
    result.doctors_assigned = getattr(resource, "doctors_assigned", 0)


def chunk_has(chunk, at, value) -> bool:
    """True when ``value`` is the key of a row already in ``chunk`` (reported by the Resource)."""
    value = value.strip()
    return any(len(cells) > at and cells[at].strip() == value for cells in chunk)


def _assign_primary_doctors(result, found, *, actor, reason, valid_rows_only, opener) -> None:
    """Assign the primary doctors ``found`` (a :class:`PrimaryProviders`) chose; patients who
    already have theirs (new patients got it when created) are counted unchanged. An
    unknown patient or doctor is reported on the first encounters row naming it (the
    file is read again for that: only then, so memory stays flat otherwise)."""
    from clinic import services
    from clinic.models import Doctor, Patient

    result.encounters = found.rows
    problems = list(found.problems)
    doctors = rows_by_key(Doctor.objects.all(), "external_id", set(found.by_patient.values()))
    counts = {"assigned": 0, "unchanged": 0, "invalid": 0}
    # Chunks straight from the dict: a list of a million pairs would double its memory.
    items = iter(found.by_patient.items())
    while chunk := list(itertools.islice(items, ASSIGN_CHUNK)):
        ids = dict(
            Patient.objects.filter(external_id__in=[p for p, _ in chunk]).values_list(
                "external_id", "pk"
            )
        )
        assignments = {}
        for patient_id, provider_id in chunk:
            pk, doctor = ids.get(patient_id), doctors.get(provider_id)
            if pk is None:
                problems.append(
                    ImportProblem(
                        None, "PATIENT", patient_id, "is not a known patient", ENCOUNTERS_FILE
                    )
                )
            elif doctor is None:
                problems.append(
                    ImportProblem(
                        None, "PROVIDER", provider_id, "is not a known doctor", ENCOUNTERS_FILE
                    )
                )
            else:
                assignments[pk] = doctor
        if problems and not valid_rows_only:
            continue  # keep reading, to list every problem; nothing will be kept
        try:
            with transaction.atomic():
                assigned = services.patients_assign_primary_doctors(
                    assignments=assignments, actor=actor, reason=reason
                )
        except ValidationError as exc:
            result.conflict = result.conflict or is_conflict(exc)
            problems.append(
                ImportProblem(None, "PROVIDER", None, " ".join(exc.messages), ENCOUNTERS_FILE)
            )
            continue
        counts["assigned"] += assigned
        counts["unchanged"] += len(assignments) - assigned
    problems = _with_first_rows(problems, opener)
    counts["invalid"] = len(problems)
    # Patients created or changed with their primary doctor by patients.csv's rows.
    counts["assigned"] += result.doctors_assigned
    counts["unchanged"] -= result.doctors_assigned
    result.primary = counts
    result.add_problems(problems)


def _in_file(problem: ImportProblem, name: str) -> ImportProblem:
    """``problem`` with its file name set."""
    return ImportProblem(problem.row, problem.column, problem.value, problem.message, name)


def _with_first_rows(problems: list[ImportProblem], opener) -> list[ImportProblem]:
    """``problems`` with the first ``encounters.csv`` row naming each unknown PATIENT or
    PROVIDER filled in (one more pass over the file, made only when there are some)."""
    wanted = {(p.column, p.value) for p in problems if p.row is None and p.value and p.column}
    if not wanted:
        return problems
    headers, rows = opener()
    index = {h.strip().upper(): i for i, h in enumerate(headers)}
    columns = [(c, index[c]) for c in ("PATIENT", "PROVIDER") if c in index]
    first: dict[tuple[str, str], int] = {}
    for number, cells in rows:
        for column, at in columns:
            key = (column, cells[at].strip() if at < len(cells) else "")
            if key in wanted and key not in first:
                first[key] = number
        if len(first) == len(wanted):
            break
    return [
        ImportProblem(first.get((p.column, p.value)), p.column, p.value, p.message, p.file)
        if p.row is None and (p.column, p.value) in first
        else p
        for p in problems
    ]
