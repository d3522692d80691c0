"""Patient.match_key (indexed duplicate matching) and, on PostgreSQL, the MRN sequence.

MRNs come from a PostgreSQL sequence there (``nextval`` never waits for another
transaction and is never rolled back, so a long import cannot hold up the front
desk; DESIGN.md, "Concurrency"). It starts after the last number the counter row
handed out. SQLite keeps the counter row (``clinic.Sequence``).
"""

from django.db import migrations, models

SEQUENCE = "clinic_patient_mrn_seq"


def fill_match_keys(apps, schema_editor):
    from clinic.models import patient_match_key

    Patient = apps.get_model("clinic", "Patient")
    batch = []
    for patient in Patient.objects.only("first_name", "last_name", "birth_date").iterator(2000):
        patient.match_key = patient_match_key(
            patient.first_name, patient.last_name, patient.birth_date
        )
        batch.append(patient)
        if len(batch) == 2000:
            Patient.objects.bulk_update(batch, ["match_key"])
            batch = []
    Patient.objects.bulk_update(batch, ["match_key"])


def create_sequence(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    Sequence = apps.get_model("clinic", "Sequence")
    last = Sequence.objects.filter(name="mrn").values_list("value", flat=True).first() or 0
    schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE} START WITH {last + 1}")


def drop_sequence(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0003_patient_rules_versions_shares"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="match_key",
            field=models.CharField(
                db_index=True,
                default="",
                editable=False,
                help_text="Birth date and normalized names (patient_match_key); set on every save.",
                max_length=255,
                verbose_name="duplicate-matching key",
            ),
        ),
        migrations.RunPython(fill_match_keys, migrations.RunPython.noop),
        migrations.RunPython(create_sequence, drop_sequence),
    ]
