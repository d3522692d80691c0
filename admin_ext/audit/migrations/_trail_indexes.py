"""The audit trail's history-table indexes, as SQL: shared by the migrations that create them.

Django's migration loader skips modules whose name starts with an underscore, so this
is a plain helper, not a migration. See ``0002_trail_history_indexes`` for why these
are RunSQL and ``0003`` for why they are created again.
"""

#: The history tables at the time of writing (every simple-history model with rows
#: of its own; the many-to-many history hangs off its parent row).
TABLES = [
    "clinic_historicaldoctor",
    "clinic_historicalorganization",
    "clinic_historicalpatient",
    "clinic_historicalpatientshare",
    "clinic_historicalpatientgroupobjectpermission",
    "clinic_historicalpatientuserobjectpermission",
    "people_historicaluser",
]

#: Index name suffix -> columns. ``id`` is the tracked record's key in each table.
INDEXES = {
    "trail_time": ("history_date", "history_id"),
    "trail_user": ("history_user_id", "history_date", "history_id"),
    "trail_object": ("id", "history_date", "history_id"),
}


def _create(table, suffix, columns):
    cols = ", ".join(f'"{c}"' for c in columns)
    return f'CREATE INDEX IF NOT EXISTS "{table}_{suffix}" ON "{table}" ({cols})'


def _drop(table, suffix):
    return f'DROP INDEX IF EXISTS "{table}_{suffix}"'


def create_all() -> list[str]:
    """``CREATE INDEX IF NOT EXISTS`` for every table and index."""
    return [_create(t, suffix, cols) for t in TABLES for suffix, cols in INDEXES.items()]


def drop_all() -> list[str]:
    """``DROP INDEX IF EXISTS`` for every table and index."""
    return [_drop(t, suffix) for t in TABLES for suffix in INDEXES]
