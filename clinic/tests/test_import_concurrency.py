"""Imports running at the same time as other writers, on PostgreSQL (issue 6, "Safety").

Two imports of overlapping files leave no duplicate and lose no update: the second
one to write is refused as a conflict ("another import or user saved ... at the same
time"), not as invalid rows. And an import holding its transaction open does not
keep the front desk from registering a patient: MRNs come from a PostgreSQL
sequence, outside the import's transaction.

SQLite has one writer at a time (the second transaction waits at BEGIN IMMEDIATE),
so these races cannot happen there; the tests run on PostgreSQL only.
"""

import threading
import unittest

from django.db import connection, connections, transaction
from django.test import TransactionTestCase

from clinic import services
from clinic.models import Patient
from clinic.synthea import import_folder
from clinic.tests.test_import_synthea_command import PATIENT_HEADER, patient
from clinic.tests.test_services_patient import new_patient

#: How long a thread waits for the other before the test fails (seconds).
WAIT = 20


def opener(rows):
    """An in-memory ``patients.csv`` opener for ``import_folder``."""
    return lambda: (PATIENT_HEADER, ((n, cells) for n, cells in enumerate(rows, 2)))


@unittest.skipUnless(connection.vendor == "postgresql", "concurrent writers need PostgreSQL")
class ConcurrentImportTests(TransactionTestCase):
    def run_in_thread(self, work):
        """Run ``work()`` in a thread with its own connection; returns (thread, outcome dict)."""
        outcome = {}

        def target():
            try:
                outcome["result"] = work()
            except Exception as exc:  # reported by the test
                outcome["error"] = exc
            finally:
                connections.close_all()

        thread = threading.Thread(target=target)
        thread.start()
        return thread, outcome

    def hold_import(self, rows, release: threading.Event, written: threading.Event):
        """Import ``rows`` in a transaction kept open until ``release`` is set."""

        def work():
            with transaction.atomic():
                result = import_folder({"patients.csv": opener(rows)}, actor=None, reason="A")
                written.set()
                release.wait(WAIT)
            return result

        return self.run_in_thread(work)

    def test_two_imports_of_the_same_new_patients_leave_no_duplicate(self):
        rows = [patient(f"p-{n}", f"Cy{n}") for n in range(20)]
        release, written = threading.Event(), threading.Event()
        first, first_outcome = self.hold_import(rows, release, written)
        self.assertTrue(written.wait(WAIT))

        second, second_outcome = self.run_in_thread(
            lambda: import_folder({"patients.csv": opener(rows)}, actor=None, reason="B")
        )
        second.join(1)  # it now waits on the first import's uncommitted keys
        self.assertTrue(second.is_alive(), "the second import should wait for the first")
        release.set()
        first.join(WAIT)
        second.join(WAIT)

        self.assertNotIn("error", first_outcome)
        self.assertNotIn("error", second_outcome)
        self.assertTrue(first_outcome["result"].written)
        loser = second_outcome["result"]
        self.assertFalse(loser.written)
        self.assertTrue(loser.conflict)
        self.assertIn("at the same time", str(loser.problems[0]))
        self.assertEqual(Patient.objects.filter(external_id__startswith="p-").count(), 20)

    def test_two_imports_changing_the_same_patient_lose_no_update(self):
        import_folder({"patients.csv": opener([patient("p-1", "Cy")])}, actor=None, reason="0")
        renamed_a = [patient("p-1", "Cy", birth="1980-01-02")]
        renamed_b = [patient("p-1", "Cy", birth="1980-01-03")]
        release, written = threading.Event(), threading.Event()
        first, first_outcome = self.hold_import(renamed_a, release, written)
        self.assertTrue(written.wait(WAIT))

        second, second_outcome = self.run_in_thread(
            lambda: import_folder({"patients.csv": opener(renamed_b)}, actor=None, reason="B")
        )
        second.join(1)  # it waits for the row lock the first import holds
        release.set()
        first.join(WAIT)
        second.join(WAIT)

        self.assertTrue(first_outcome["result"].written)
        loser = second_outcome["result"]
        self.assertFalse(loser.written)
        self.assertTrue(loser.conflict)
        stored = Patient.objects.get(external_id="p-1")
        self.assertEqual(str(stored.birth_date), "1980-01-02")  # A's change, not overwritten
        self.assertEqual(stored.version, 2)

    def test_an_open_import_does_not_keep_the_front_desk_waiting(self):
        rows = [patient(f"p-{n}", f"Cy{n}") for n in range(5)]
        release, written = threading.Event(), threading.Event()
        first, first_outcome = self.hold_import(rows, release, written)
        self.assertTrue(written.wait(WAIT))
        try:
            desk, desk_outcome = self.run_in_thread(
                lambda: services.patient_save(
                    patient=new_patient(external_id=None, first_name="Walk", last_name="In"),
                    actor=None,
                    reason="Registered at the desk",
                )
            )
            desk.join(5)
            self.assertFalse(desk.is_alive(), "Add patient waited for the import to commit")
            self.assertNotIn("error", desk_outcome)
        finally:
            release.set()
            first.join(WAIT)
        mrns = list(Patient.objects.values_list("mrn", flat=True))
        self.assertEqual(len(mrns), len(set(mrns)))
        self.assertEqual(len(mrns), 6)
