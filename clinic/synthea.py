"""Reading Synthea CSV output folders: the files ``import_synthea`` knows and the
primary-doctor rule over ``encounters.csv``.

Column meanings: Synthea's CSV data dictionary,
https://github.com/synthetichealth/synthea/wiki/CSV-File-Data-Dictionary ; syntax: RFC 4180.
"""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass, field
from pathlib import Path

from admin_ext.imports.resources import ImportProblem

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


def primary_providers(
    path: Path, *, progress=None, progress_every: int = 10000
) -> PrimaryProviders:
    """Choose each patient's primary provider from a Synthea ``encounters.csv``.

    The rule (DESIGN.md, "Import and export"): the provider of most of the
    patient's encounters; among providers tied on that count, the one whose own
    latest encounter (by START) is the latest. Encounters without a PROVIDER are
    not counted.

    The file is streamed with the ``csv`` module (it can be large); memory grows
    with the number of distinct (patient, provider) pairs, not with rows.

    Args: ``path`` to the file; ``progress``, an optional ``progress(rows_read)``
    callable called every ``progress_every`` rows.
    Returns a :class:`PrimaryProviders`. Raises ``OSError`` if the file cannot be
    read and ``ValueError`` if its header lacks PATIENT, PROVIDER or START.
    """
    result = PrimaryProviders()
    # patient -> provider -> [encounter count, latest START]
    tallies: dict[str, dict[str, list]] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = {name.strip().upper(): name for name in reader.fieldnames or []}
        missing = [c for c in ("PATIENT", "PROVIDER", "START") if c not in header]
        if missing:
            raise ValueError(f"{path.name} has no column {', '.join(missing)}")
        patient_col, provider_col, start_col = (header[c] for c in ("PATIENT", "PROVIDER", "START"))
        for number, row in enumerate(reader, 2):  # the header is row 1
            result.rows += 1
            if progress and result.rows % progress_every == 0:
                progress(result.rows)
            patient = (row.get(patient_col) or "").strip()
            provider = (row.get(provider_col) or "").strip()
            if not patient or not provider:
                continue
            try:
                start = _parse_start(row.get(start_col) or "")
            except ValueError:
                result.problems.append(
                    ImportProblem(
                        number,
                        start_col,
                        row.get(start_col) or "",
                        "is not a valid time (YYYY-MM-DDTHH:MM:SSZ)",
                        path.name,
                    )
                )
                continue
            tally = tallies.setdefault(patient, {}).setdefault(provider, [0, start])
            tally[0] += 1
            if start > tally[1]:
                tally[1] = start
    for patient, providers in tallies.items():
        # Most encounters, then the latest one; the provider id only makes an exact
        # tie (same count, same START) come out the same on every run.
        result.by_patient[patient] = max(
            providers, key=lambda p: (providers[p][0], providers[p][1], p)
        )
    return result
