"""Indexes the audit trail reads history tables by (hand-written; admin_ext.audit.trail).

The trail reads each simple-history table newest first, ``ORDER BY history_date DESC,
history_id DESC LIMIT 51``, alone or for one actor. simple-history indexes
``history_date``, ``history_user_id`` and the record's key each on its own; these
composite indexes let the reads walk an index in the trail's order and stop after
51 rows, at any table size:

- ``(history_date, history_id)``: the whole trail, a date range, a "deep" page;
- ``(history_user_id, history_date, history_id)``: "what did this user do" (the
  key ends in ``history_id`` so that the index gives the whole order, no sort);
- ``(id, history_date, history_id)``: one record's timeline, each row's previous
  version (its field-level change), and a doctor's trail, read from the index
  alone per visible patient (measured at 1,000,000 audit rows: a doctor's patient
  history query 27 ms with simple-history's index on ``id``, 8 ms with this one).

RunSQL, not AddIndex: the tables belong to the clinic and people apps' history
models, whose model state stays as simple-history declares it (no migration in
those apps, no ``makemigrations`` drift). ``IF NOT EXISTS``/``IF EXISTS`` make the
SQL the same on SQLite and PostgreSQL. A table tracked later needs its own set;
``admin_ext/audit/tests/test_trail_indexes.py`` fails until it has them.
"""

from django.db import migrations

from admin_ext.audit.migrations._trail_indexes import INDEXES, TABLES, _create, _drop

class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        # The last migration that adds a history table (object-permission grants).
        ("clinic", "0007_grant_history"),
        ("people", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(sql=_create(table, suffix, columns), reverse_sql=_drop(table, suffix))
        for table in TABLES
        for suffix, columns in INDEXES.items()
    ]
