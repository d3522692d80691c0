"""Patient querysets: active, archived, unassigned and the visibility rule visible_to."""

import datetime

from django.contrib.auth.models import AnonymousUser, Group
from django.urls import reverse
from django.utils import timezone

from admin_ext.audit.guards import allow_untracked_update
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Doctor, Patient, PatientShare
from clinic.tests.factories import DoctorFactory, PatientFactory


class PatientQuerySetTests(ClinicTestCase):
    def test_it_splits_active_archived_and_unassigned(self):
        archived = PatientFactory(status=Patient.Status.ARCHIVED)
        self.assertEqual(set(Patient.objects.active()), {self.alice_patient, self.other_patient})
        self.assertEqual(list(Patient.objects.archived()), [archived])
        self.assertEqual(list(Patient.objects.unassigned()), [self.other_patient])

    def test_it_lists_active_doctors(self):
        retired = DoctorFactory(active=False)
        self.assertNotIn(retired, Doctor.objects.active())
        self.assertIn(self.dr_alice, Doctor.objects.active())


class VisibleToTests(ClinicTestCase):
    def test_it_shows_everything_to_model_permission_holders(self):
        for user in (self.operator, self.admin, self.front_desk, self.steward, self.auditor):
            with self.subTest(user=user.email):
                self.assertEqual(Patient.objects.visible_to(user).count(), 2)

    def test_it_shows_a_doctor_only_the_granted_patients(self):
        self.assertEqual(list(Patient.objects.visible_to(self.alice)), [self.alice_patient])
        self.assertEqual(
            list(Patient.objects.visible_to(self.alice, "change")), [self.alice_patient]
        )
        self.assertFalse(Patient.objects.visible_to(self.bob).exists())

    def test_it_lets_the_auditor_view_but_not_change(self):
        self.assertEqual(Patient.objects.visible_to(self.auditor, "change").count(), 0)

    def test_it_fails_closed_for_anonymous_and_inactive_users(self):
        self.assertFalse(Patient.objects.visible_to(AnonymousUser()).exists())
        self.assertFalse(Patient.objects.visible_to(None).exists())
        self.front_desk.is_active = False
        self.assertFalse(Patient.objects.visible_to(self.front_desk).exists())

    def test_it_follows_assignments(self):
        services.patient_assign_primary_doctor(
            patient=self.other_patient, doctor=self.dr_bob, actor=None, reason="r"
        )
        self.assertEqual(list(Patient.objects.visible_to(self.bob)), [self.other_patient])


class ReachableByTests(ClinicTestCase):
    """Who may open a patient list at all (the admin's menu and changelist gate)."""

    def test_it_opens_the_list_to_model_permission_holders_and_granted_doctors(self):
        for user in (self.operator, self.admin, self.front_desk, self.steward, self.auditor):
            with self.subTest(user=user.email):
                self.assertTrue(Patient.objects.reachable_by(user))
        self.assertTrue(Patient.objects.reachable_by(self.alice, "change"))
        self.assertFalse(Patient.objects.reachable_by(self.auditor, "change"))

    def test_it_keeps_the_list_from_users_without_any_grant(self):
        self.assertFalse(Patient.objects.reachable_by(self.bob))
        self.assertFalse(Patient.objects.reachable_by(AnonymousUser()))
        self.alice.is_active = False
        self.assertFalse(Patient.objects.reachable_by(self.alice))

    def test_a_team_grant_opens_the_list(self):
        team = Group.objects.create(name="Covering team")
        self.bob.groups.add(team)
        services.patient_share(
            patient=self.other_patient, group=team, actor=self.admin, reason="Cover"
        )
        self.assertTrue(Patient.objects.reachable_by(self.bob))

    def test_a_lapsed_share_opens_an_empty_list_until_it_is_swept(self):
        share = services.patient_share(
            patient=self.other_patient,
            user=self.bob,
            actor=self.admin,
            reason="Cover",
            expires_at=timezone.now() + datetime.timedelta(minutes=5),
        )
        # Five minutes pass: the expiry moves into the past, which no one writes.
        with allow_untracked_update("simulates time passing the share's expiry"):
            PatientShare.objects.filter(pk=share.pk).update(
                expires_at=timezone.now() - datetime.timedelta(minutes=1)
            )
        self.assertTrue(Patient.objects.reachable_by(self.bob))
        self.assertFalse(Patient.objects.visible_to(self.bob).exists())
        self.login(self.bob)
        response = self.client.get(reverse("admin:clinic_patient_changelist"))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(list(response.context["cl"].result_list), [])
