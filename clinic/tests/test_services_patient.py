"""clinic.services for patients: save, assign, archive, restore, the primary-doctor check."""

from django.core.exceptions import ValidationError

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Patient
from clinic.tests.factories import DoctorFactory
from people import roles
from people.services import user_create


def new_patient(**fields) -> Patient:
    data = {
        "external_id": "ext-new",
        "first_name": "Nia",
        "last_name": "New",
        "birth_date": "1990-01-02",
        "gender": "F",
        **fields,
    }
    return Patient(**data)


class PatientSaveTests(ClinicTestCase):
    def test_it_creates_a_patient_with_an_mrn_and_history(self):
        patient = services.patient_save(
            patient=new_patient(), actor=self.front_desk, reason="walk-in"
        )
        self.assertRegex(patient.mrn, r"^\d{8}$")
        self.assertEqual(patient.created_by, self.front_desk)
        self.assertEqual(patient.updated_by, self.front_desk)
        row = patient.history.get()
        self.assertEqual(row.history_type, "+")
        self.assertEqual(row.history_user, self.front_desk)
        self.assertEqual(row.history_change_reason, "walk-in")

    def test_it_records_a_change_with_actor_and_reason(self):
        patient = self.other_patient
        patient.city = "Salem"
        services.patient_save(patient=patient, actor=self.steward, reason="moved house")
        row = patient.history.latest()
        self.assertEqual(row.history_type, "~")
        self.assertEqual(row.history_user, self.steward)
        self.assertEqual(row.history_change_reason, "moved house")
        self.assertEqual(row.updated_by, self.steward)
        self.assertEqual(row.diff_against(row.prev_record).changed_fields, ["city"])

    def test_it_refuses_invalid_data_with_codes_and_writes_nothing(self):
        with self.assertRaises(ValidationError) as caught:
            services.patient_save(
                patient=new_patient(gender="X", external_id=self.other_patient.external_id),
                actor=None,
                reason="r",
            )
        errors = caught.exception.error_dict
        self.assertEqual(errors["gender"][0].code, "invalid_choice")
        self.assertEqual(errors["external_id"][0].code, "unique")
        self.assertEqual(Patient.objects.count(), 2)

    def test_it_grants_the_new_doctors_login_when_saved_with_a_doctor(self):
        patient = services.patient_save(
            patient=new_patient(primary_doctor=self.dr_bob), actor=None, reason="r"
        )
        self.assertTrue(self.bob.has_perm("clinic.change_patient", patient))


class PrimaryDoctorCheckTests(ClinicTestCase):
    def test_it_refuses_a_new_inactive_doctor(self):
        retired = DoctorFactory(active=False)
        with self.assertRaises(ValidationError) as caught:
            services.primary_doctor_check(doctor=retired, previous_doctor_id=None)
        self.assertEqual(caught.exception.error_dict["primary_doctor"][0].code, "inactive_doctor")

    def test_it_allows_keeping_a_doctor_who_became_inactive(self):
        services.primary_doctor_check(doctor=self.dr_alice, previous_doctor_id=self.dr_alice.pk)
        self.dr_alice.active = False
        services.primary_doctor_check(doctor=self.dr_alice, previous_doctor_id=self.dr_alice.pk)

    def test_it_allows_no_doctor(self):
        services.primary_doctor_check(doctor=None, previous_doctor_id=self.dr_alice.pk)


class PatientAssignPrimaryDoctorTests(ClinicTestCase):
    def test_it_grants_view_and_change_to_the_doctors_login(self):
        self.assertFalse(self.bob.has_perm("clinic.view_patient", self.other_patient))
        services.patient_assign_primary_doctor(
            patient=self.other_patient, doctor=self.dr_bob, actor=self.front_desk, reason="new GP"
        )
        self.assertTrue(self.bob.has_perm("clinic.view_patient", self.other_patient))
        self.assertTrue(self.bob.has_perm("clinic.change_patient", self.other_patient))
        row = self.other_patient.history.latest()
        self.assertEqual((row.history_user, row.history_change_reason), (self.front_desk, "new GP"))
        self.assertEqual(row.primary_doctor_id, self.dr_bob.pk)

    def test_it_revokes_the_previous_doctors_grants_on_reassignment(self):
        patient = Patient.objects.get(pk=self.alice_patient.pk)
        services.patient_assign_primary_doctor(
            patient=patient, doctor=self.dr_bob, actor=self.front_desk, reason="Alice left"
        )
        alice = type(self.alice).objects.get(pk=self.alice.pk)  # fresh permission cache
        self.assertFalse(alice.has_perm("clinic.view_patient", patient))
        self.assertFalse(alice.has_perm("clinic.change_patient", patient))
        self.assertTrue(self.bob.has_perm("clinic.change_patient", patient))

    def test_it_revokes_on_unassignment(self):
        patient = Patient.objects.get(pk=self.alice_patient.pk)
        services.patient_assign_primary_doctor(patient=patient, doctor=None, actor=None, reason="r")
        self.assertFalse(Patient.objects.visible_to(self.alice).exists())

    def test_it_writes_nothing_when_the_doctor_is_already_primary(self):
        before = self.alice_patient.history.count()
        services.patient_assign_primary_doctor(
            patient=self.alice_patient, doctor=self.dr_alice, actor=None, reason="again"
        )
        self.assertEqual(self.alice_patient.history.count(), before)

    def test_it_refuses_an_inactive_doctor(self):
        retired = DoctorFactory(active=False)
        with self.assertRaises(ValidationError) as caught:
            services.patient_assign_primary_doctor(
                patient=self.other_patient, doctor=retired, actor=None, reason="r"
            )
        self.assertEqual(caught.exception.error_dict["primary_doctor"][0].code, "inactive_doctor")
        self.assertIsNone(Patient.objects.get(pk=self.other_patient.pk).primary_doctor)

    def test_it_grants_nothing_for_a_doctor_without_login(self):
        no_login = DoctorFactory()
        services.patient_assign_primary_doctor(
            patient=self.other_patient, doctor=no_login, actor=None, reason="r"
        )
        self.assertEqual(Patient.objects.get(pk=self.other_patient.pk).primary_doctor, no_login)


class PatientArchiveTests(ClinicTestCase):
    def test_it_archives_and_restores_with_history(self):
        services.patient_archive(
            patient=self.other_patient, actor=self.front_desk, reason="moved away"
        )
        self.assertEqual(Patient.objects.archived().get(), self.other_patient)
        row = self.other_patient.history.latest()
        self.assertEqual(
            (row.status, row.history_user, row.history_change_reason),
            ("archived", self.front_desk, "moved away"),
        )

        services.patient_restore(patient=self.other_patient, actor=self.steward, reason="back")
        self.assertFalse(Patient.objects.archived().exists())
        row = self.other_patient.history.latest()
        self.assertEqual(
            (row.status, row.history_user, row.history_change_reason),
            ("active", self.steward, "back"),
        )

    def test_it_refuses_to_archive_twice(self):
        services.patient_archive(patient=self.other_patient, actor=None, reason="r")
        with self.assertRaises(ValidationError) as caught:
            services.patient_archive(patient=self.other_patient, actor=None, reason="r")
        self.assertEqual(caught.exception.code, "already_archived")

    def test_it_refuses_to_restore_an_active_patient(self):
        with self.assertRaises(ValidationError) as caught:
            services.patient_restore(patient=self.other_patient, actor=None, reason="r")
        self.assertEqual(caught.exception.code, "not_archived")


class MrnAllocateTests(ClinicTestCase):
    def test_it_hands_out_sequential_unique_numbers(self):
        first = services.mrn_allocate(3)
        second = services.mrn_allocate(2)
        numbers = [int(n) for n in first + second]
        self.assertEqual(numbers, list(range(numbers[0], numbers[0] + 5)))
        self.assertTrue(all(len(n) == 8 for n in first + second))

    def test_it_gives_new_patients_distinct_mrns(self):
        a = new_patient(external_id="a", first_name="Ada")
        b = new_patient(external_id="b", first_name="Bea")
        a = services.patient_save(patient=a, actor=None, reason="r")
        b = services.patient_save(patient=b, actor=None, reason="r")
        self.assertEqual(int(b.mrn), int(a.mrn) + 1)

    def test_it_returns_nothing_for_zero(self):
        self.assertEqual(services.mrn_allocate(0), [])


class DoctorLoginGrantsTests(ClinicTestCase):
    def test_it_moves_grants_when_a_doctors_login_changes(self):
        carol = user_create(
            email="carol@example.com", password=None, role=roles.DOCTOR, actor=None, reason="r"
        )
        doctor = type(self.dr_alice).objects.get(pk=self.dr_alice.pk)
        doctor.user = carol
        services.doctor_save(doctor=doctor, actor=self.admin, reason="new login")

        self.assertEqual(list(Patient.objects.visible_to(carol)), [self.alice_patient])
        alice = type(self.alice).objects.get(pk=self.alice.pk)
        self.assertFalse(Patient.objects.visible_to(alice).exists())
        row = doctor.history.latest()
        self.assertEqual((row.history_user, row.history_change_reason), (self.admin, "new login"))

    def test_it_revokes_when_the_login_is_unlinked(self):
        doctor = type(self.dr_alice).objects.get(pk=self.dr_alice.pk)
        doctor.user = None
        services.doctor_save(doctor=doctor, actor=None, reason="r")
        self.assertFalse(Patient.objects.visible_to(self.alice).exists())


class OrganizationSaveTests(ClinicTestCase):
    def test_it_saves_with_history_and_validates(self):
        org = self.dr_alice.organization
        org.name = "North Clinic"
        services.organization_save(organization=org, actor=self.steward, reason="renamed")
        row = org.history.latest()
        self.assertEqual(
            (row.name, row.history_user, row.history_change_reason),
            ("North Clinic", self.steward, "renamed"),
        )
        org.name = ""
        with self.assertRaises(ValidationError) as caught:
            services.organization_save(organization=org, actor=None, reason="r")
        self.assertEqual(caught.exception.error_dict["name"][0].code, "blank")
