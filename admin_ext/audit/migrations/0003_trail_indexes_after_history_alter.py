"""The trail's indexes again, after clinic 0008 and people 0006 altered the history tables.

On SQLite, Django alters a column by rebuilding the table from the model state, and
the state does not hold these RunSQL indexes (``0002_trail_history_indexes``), so the
rebuild drops them; PostgreSQL keeps them (``IF NOT EXISTS`` makes this a no-op
there). Any later migration that alters a history table needs the same step after it:
``admin_ext/audit/tests/test_trail_indexes.py`` fails until it has one.
"""

from django.db import migrations

from admin_ext.audit.migrations._trail_indexes import create_all


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_trail_history_indexes"),
        ("clinic", "0008_history_without_copied_indexes"),
        ("people", "0006_history_without_copied_indexes"),
    ]

    operations = [migrations.RunSQL(sql=create_all(), reverse_sql=migrations.RunSQL.noop)]
