"""Re-imports and the stored row digest (``import_digest``).

A record remembers a hash of the file row it was last imported from, so re-importing
that very row is known unchanged at once. Every other save clears it: a record
changed in the admin since, or given another primary doctor by an encounters file,
is compared in full again, and a re-import never hides a change.
"""

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Patient
from clinic.synthea import import_folder
from clinic.tests.test_import_synthea_command import PATIENT_HEADER, patient


def patients_file(*rows):
    return {"patients.csv": lambda: (PATIENT_HEADER, ((n, r) for n, r in enumerate(rows, 2)))}


class ImportDigestTests(ClinicTestCase):
    def import_rows(self, *rows):
        result = import_folder(patients_file(*rows), actor=self.steward, reason="test")
        self.assertTrue(result.written, [str(p) for p in result.problems])
        return result.files[0].counts

    def test_a_reimported_row_is_unchanged_and_writes_no_history(self):
        self.import_rows(patient("p-1", "Cy"))
        stored = Patient.objects.get(external_id="p-1")
        self.assertNotEqual(stored.import_digest, "")
        history = Patient.history.count()

        counts = self.import_rows(patient("p-1", "Cy"))

        self.assertEqual((counts["unchanged"], counts["changed"]), (1, 0))
        self.assertEqual(Patient.history.count(), history)

    def test_a_record_changed_in_the_admin_since_is_compared_again(self):
        self.import_rows(patient("p-1", "Cy"))
        edited = Patient.objects.get(external_id="p-1")
        edited.first_name = "Cyrus"
        services.patient_save(patient=edited, actor=self.front_desk, reason="typo")
        self.assertEqual(Patient.objects.get(pk=edited.pk).import_digest, "")

        counts = self.import_rows(patient("p-1", "Cy"))

        self.assertEqual(counts["changed"], 1)  # the file's value, not hidden by the digest
        self.assertEqual(Patient.objects.get(pk=edited.pk).first_name, "Cy")

    def test_another_row_for_the_same_record_is_compared(self):
        self.import_rows(patient("p-1", "Cy"))

        counts = self.import_rows(patient("p-1", "Cy", birth="1980-01-02"))

        self.assertEqual(counts["changed"], 1)
        self.assertEqual(str(Patient.objects.get(external_id="p-1").birth_date), "1980-01-02")

    def test_each_row_is_compared_with_its_own_record_in_a_mixed_file(self):
        self.import_rows(patient("p-1", "Al"), patient("p-2", "Bo"), patient("p-3", "Cy"))

        counts = self.import_rows(
            patient("p-new", "Di"),
            patient("p-1", "Al"),
            patient("p-2", "Bo", birth="1981-05-06"),
            patient("p-3", "Cy"),
        )

        self.assertEqual((counts["new"], counts["changed"], counts["unchanged"]), (1, 1, 2), counts)
        self.assertEqual(str(Patient.objects.get(external_id="p-2").birth_date), "1981-05-06")
        # The stored digest is the new row's: importing it once more changes nothing.
        counts = self.import_rows(patient("p-2", "Bo", birth="1981-05-06"))
        self.assertEqual((counts["unchanged"], counts["changed"]), (1, 0))

    def test_a_primary_doctor_given_by_encounters_clears_the_digest(self):
        self.import_rows(patient("p-1", "Cy"))
        stored = Patient.objects.get(external_id="p-1")

        services.patients_assign_primary_doctors(
            assignments={stored.pk: self.dr_bob}, actor=self.steward, reason="encounters"
        )

        self.assertEqual(Patient.objects.get(pk=stored.pk).import_digest, "")
