"""The SHA-256 hash chain over audit rows: sealing and verifying (DESIGN.md, "Audit").

ONC's certification criterion 170.315(d)(2) asks for the audit log to detect
alteration. The rows: every simple-history table (history models and their
many-to-many history), plus ``settings.AUDIT_SEALED_MODELS`` (the access log, login
events). A seal (:class:`~admin_ext.audit.models.AuditSeal`) covers, per table, the
rows whose primary key lies after the previous seal's last one, up to the largest
committed one, and chains to the previous seal's digest:

    row hash = SHA-256(canonical JSON of the row's columns, in the seal's column order)
    digest   = SHA-256(previous digest, then per table: its label, then per row:
               its primary key and row hash)

"Canonical JSON" is ``json.dumps`` of the list of column values, normalized so
SQLite and PostgreSQL give the same bytes (:func:`canonical`). The seal stores every
``(pk, row hash)`` it covered, so :func:`verify` names the first row that was
changed, deleted or slipped into a sealed range, and the digests themselves, kept
outside the database (``docs/audit.md``), show a rewrite of the whole chain.

Concurrent writers: on PostgreSQL :func:`seal` takes ``SHARE`` locks on the sealed
tables, which wait for every open transaction that inserted into them, so no row
can commit later with a primary key at or below a seal's last one (sequences only
grow). ``lock_timeout`` (``AUDIT_SEAL_LOCK_TIMEOUT``) keeps a seal from queueing
writers behind a long import: it gives up with :class:`SealBusy` and the next run
seals what it left. SQLite has one writer at a time and needs no lock.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import struct
import uuid
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.utils import OperationalError
from simple_history.models import HistoricalChanges

from admin_ext.audit.models import AuditSeal

#: The digest a first seal chains to.
GENESIS = "0" * 64

#: One packed row in ``AuditSeal.rows``: primary key (signed 64-bit) and SHA-256.
_ROW = struct.Struct(">q32s")

#: Rows read per query while hashing (server-side cursor on PostgreSQL).
CHUNK = 2000


class SealBusy(Exception):
    """A seal could not take its locks within ``AUDIT_SEAL_LOCK_TIMEOUT`` (a long write runs)."""


def sealed_models() -> list[type]:
    """The models whose rows are sealed, in a fixed order (by label).

    Every simple-history model (``HistoricalChanges`` subclasses, many-to-many history
    included) and the models named in ``settings.AUDIT_SEALED_MODELS``.
    """
    found = {m for m in apps.get_models() if issubclass(m, HistoricalChanges)}
    found |= {apps.get_model(label) for label in settings.AUDIT_SEALED_MODELS}
    return sorted(found, key=label)


def label(model) -> str:
    """``app_label.ModelName``, the key of a source in ``AuditSeal.sources``."""
    return model._meta.label


def canonical(value):
    """``value`` as it is hashed: the same for SQLite and PostgreSQL.

    Datetimes in UTC ISO 8601 with microseconds, dates ISO, decimals and UUIDs as
    text, bytes as hex, JSON values re-dumped with sorted keys; others unchanged.
    """
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return value


#: Column value types hashed as they are (most of them): no call to :func:`canonical`.
_PLAIN = frozenset({str, int, bool, float, type(None)})


def row_hash(values) -> bytes:
    """SHA-256 (32 bytes) of one row's column values (:func:`canonical` JSON list)."""
    plain = _PLAIN
    text = json.dumps(
        [v if type(v) in plain else canonical(v) for v in values],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode()).digest()


def columns(model) -> list[str]:
    """The column attribute names hashed for ``model``: its concrete fields, by name."""
    return sorted(f.attname for f in model._meta.concrete_fields)


def _rows(model, fields: list[str], after: int, upto: int | None, limit: int | None = None):
    """``(pk, row hash)`` of ``model``'s rows with ``after < pk <= upto``, by pk; the
    first ``limit`` of them when given."""
    pk = model._meta.pk.attname
    qs = model._base_manager.filter(**{f"{pk}__gt": after})
    if upto is not None:
        qs = qs.filter(**{f"{pk}__lte": upto})
    qs = qs.order_by(pk).values_list(pk, *fields)
    if limit is not None:
        qs = qs[:limit]
    for values in qs.iterator(chunk_size=CHUNK):
        yield values[0], row_hash(values[1:])


def _chain_digest(previous: str, packed_sources: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256(previous.encode())
    for source, packed in packed_sources:
        digest.update(b"\x00" + source.encode() + b"\x00")
        digest.update(packed)
    return digest.hexdigest()


def _lock(models_: list[type]) -> None:
    if connection.vendor != "postgresql":
        return
    timeout_ms = int(settings.AUDIT_SEAL_LOCK_TIMEOUT * 1000)
    tables = [AuditSeal._meta.db_table] + [m._meta.db_table for m in models_]
    quoted = ", ".join(connection.ops.quote_name(t) for t in tables[1:])
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = {timeout_ms}")
        try:
            # One sealer at a time (SHARE ROW EXCLUSIVE conflicts with itself), then
            # wait out every open transaction that inserted into a sealed table.
            cursor.execute(
                f"LOCK TABLE {connection.ops.quote_name(tables[0])} IN SHARE ROW EXCLUSIVE MODE"
            )
            cursor.execute(f"LOCK TABLE {quoted} IN SHARE MODE")
        except OperationalError as exc:
            raise SealBusy(
                "another transaction is still writing audit rows; the next seal covers them"
            ) from exc


def seal(*, trigger: str = "", max_rows: int | None = None) -> list[AuditSeal]:
    """Seal every audit row written since the last seal; return the new seals, oldest
    first (empty when there was nothing new).

    One seal covers at most ``max_rows`` rows (``AUDIT_SEAL_MAX_ROWS``, default
    100,000): the 1,030,000 history rows of a 1,000,000-patient import are sealed as
    11 seals in a row, each chained to the one before, so memory stays a few
    megabytes whatever was written (one seal of it all took 212 MB). The last seal's
    digest vouches for every seal before it.

    Args: ``trigger`` what asked for it (``"seal_audit command"``, ``"Import #12"``);
    ``max_rows`` overrides the setting. Raises :class:`SealBusy` on PostgreSQL when
    the locks are not granted in ``AUDIT_SEAL_LOCK_TIMEOUT`` seconds. Runs in one
    transaction of its own.
    """
    if max_rows is None:
        max_rows = settings.AUDIT_SEAL_MAX_ROWS
    models_ = sealed_models()
    made: list[AuditSeal] = []
    with transaction.atomic():
        _lock(models_)
        last = AuditSeal.objects.order_by("-id").first()
        while (last := _seal_next(last, models_, trigger, max_rows)) is not None:
            made.append(last)
    return made


def _seal_next(last: AuditSeal | None, models_: list[type], trigger: str, max_rows: int):
    """The seal of up to ``max_rows`` rows after ``last``, by source then pk; None when
    no row is left."""
    marks = {name: s["upto"] for name, s in (last.sources if last else {}).items()}
    sources, packed_sources, count = {}, [], 0
    for model in models_:
        name = label(model)
        fields = columns(model)
        after = marks.get(name, 0)
        packed = bytearray()
        if count < max_rows:
            for pk, digest in _rows(model, fields, after, None, limit=max_rows - count):
                packed += _ROW.pack(pk, digest)
        n = len(packed) // _ROW.size
        upto = _ROW.unpack_from(packed, len(packed) - _ROW.size)[0] if n else after
        sources[name] = {"fields": fields, "after": after, "upto": upto, "count": n}
        packed_sources.append((name, packed))
        count += n
    if not count:
        return None
    previous = last.digest if last else GENESIS
    return AuditSeal.objects.create(
        trigger=trigger[:200],
        previous=previous,
        digest=_chain_digest(previous, packed_sources),
        sources=sources,
        row_count=count,
        rows=b"".join(packed for _, packed in packed_sources),
    )


def seal_quietly(*, trigger: str) -> list[AuditSeal]:
    """:func:`seal`, or no seal when the locks are busy (the scheduled seal catches up).

    For callers that seal as a courtesy after their own work (an import) and must
    not fail because of it.
    """
    try:
        return seal(trigger=trigger)
    except SealBusy:
        return []


@dataclass
class Mismatch:
    """The first thing :func:`verify` found wrong. ``source`` and ``pk`` name the row
    (empty and None for a problem with a seal itself); ``message`` says what is wrong."""

    seal_id: int
    source: str
    pk: int | None
    message: str

    def __str__(self):
        return self.message


@dataclass
class Verification:
    """What :func:`verify` checked: seals and rows, the rows not yet sealed, and the
    first mismatch (None when the chain holds)."""

    seals: int
    rows: int
    unsealed: int
    mismatch: Mismatch | None
    last_digest: str


def _unpack(packed: bytes, count: int) -> list[tuple[int, bytes]]:
    return [_ROW.unpack_from(packed, i * _ROW.size) for i in range(count)]


def _compare(seal_row: AuditSeal, name: str, model, spec: dict, stored) -> Mismatch | None:
    live = _rows(model, spec["fields"], spec["after"], spec["upto"])
    stored_iter = iter(stored)
    want, have = next(stored_iter, None), next(live, None)
    while want is not None or have is not None:
        if have is None or (want is not None and want[0] < have[0]):
            return Mismatch(
                seal_row.pk,
                name,
                want[0],
                f"{name} #{want[0]} was deleted after seal #{seal_row.pk}",
            )
        if want is None or have[0] < want[0]:
            return Mismatch(
                seal_row.pk,
                name,
                have[0],
                f"{name} #{have[0]} appeared inside the range seal #{seal_row.pk} covers",
            )
        if want[1] != have[1]:
            return Mismatch(
                seal_row.pk,
                name,
                want[0],
                f"{name} #{want[0]} was changed after seal #{seal_row.pk}",
            )
        want, have = next(stored_iter, None), next(live, None)
    return None


def _check_seal(
    seal_row: AuditSeal,
    previous: str,
    marks: dict,
    external: dict,
    models_: dict,
    *,
    reread: bool = True,
):
    """The first :class:`Mismatch` in one seal, or None; advances ``marks`` as it goes.

    ``reread`` False checks the seal's link and stored row list only, not the rows.
    """

    def broken(message):
        return Mismatch(seal_row.pk, "", None, message)

    if seal_row.previous != previous:
        return broken(f"seal #{seal_row.pk} does not chain to the seal before it")
    blob = bytes(seal_row.rows)
    # By label, as seal() packed them (jsonb does not keep key order).
    sources = sorted(seal_row.sources.items())
    packed_sources, start = [], 0
    for name, spec in sources:
        size = spec["count"] * _ROW.size
        packed_sources.append((name, blob[start : start + size]))
        start += size
    if _chain_digest(previous, packed_sources) != seal_row.digest:
        return broken(f"seal #{seal_row.pk}'s row list or digest was altered")
    if seal_row.pk in external and external.pop(seal_row.pk) != seal_row.digest:
        return broken(f"seal #{seal_row.pk}'s digest differs from the copy kept outside")
    for (name, spec), (_, packed) in zip(sources, packed_sources, strict=True):
        model = models_.get(name)
        if model is None:
            return broken(f"seal #{seal_row.pk} covers {name}, which no longer exists")
        if spec["after"] != marks.get(name, 0):
            return broken(f"seal #{seal_row.pk} leaves a gap in {name}")
        if reread:
            stored = _unpack(packed, spec["count"])
            mismatch = _compare(seal_row, name, model, spec, stored)
            if mismatch:
                return mismatch
        marks[name] = spec["upto"]
    return None


def verify(*, external_digests: dict[int, str] | None = None, reread_since=None) -> Verification:
    """Recompute the whole chain; stop at the first row or seal that no longer matches.

    Checks, seal by seal (oldest first): that it chains to the previous digest, that
    its stored row list still gives its digest, that each row it covers is still
    there, unchanged, with nothing added inside its range, and, when
    ``external_digests`` (seal id to digest, from a copy kept outside the database)
    is given, that the digest is the one written down.

    ``reread_since`` (an aware datetime) re-reads only the rows of seals made at or
    after it; older seals get every check but the rows' (the admin's quick check;
    ``verify_audit`` re-reads everything). ``Verification.rows`` counts the rows
    re-read. Returns a :class:`Verification`.
    """
    models_ = {label(m): m for m in sealed_models()}
    previous, seals, rows = GENESIS, 0, 0
    marks: dict[str, int] = {}
    external = dict(external_digests or {})
    for seal_row in AuditSeal.objects.order_by("id").iterator(chunk_size=50):
        reread = reread_since is None or seal_row.created_at >= reread_since
        mismatch = _check_seal(seal_row, previous, marks, external, models_, reread=reread)
        if mismatch:
            return Verification(seals, rows, 0, mismatch, previous)
        previous = seal_row.digest
        seals += 1
        rows += seal_row.row_count if reread else 0
    if external:
        first = min(external)
        message = f"seal #{first}, kept outside, is missing from the database"
        return Verification(seals, rows, 0, Mismatch(first, "", None, message), previous)
    unsealed = sum(
        m._base_manager.filter(**{f"{m._meta.pk.attname}__gt": marks.get(name, 0)}).count()
        for name, m in models_.items()
    )
    return Verification(seals, rows, unsealed, None, previous)
