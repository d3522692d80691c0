"""Sharing a patient with a covering colleague or a team (issue 5, item 11)."""

from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from unittest import mock

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import NoReverseMatch, resolve, reverse
from django.utils import timezone

from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import (
    Patient,
    PatientGroupObjectPermission,
    PatientShare,
    PatientUserObjectPermission,
)
from clinic.tests.factories import PatientFactory
from people import roles
from people.tests.factories import UserFactory


@contextmanager
def clock(moment):
    """Run the block as if the time were ``moment`` (request-time expiry checks)."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def grant_count() -> int:
    return (
        PatientUserObjectPermission.objects.count() + PatientGroupObjectPermission.objects.count()
    )


class SharingTests(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # A site's front-desk team: a group that is not a role; its member has no role,
        # so the patients shared with the team are all she sees.
        cls.north_desk = Group.objects.create(name="North site front desk")
        cls.nina = UserFactory(email="nina@example.com", first_name="Nina", last_name="North")
        cls.nina.groups.add(cls.north_desk)
        cls.north_patients = [PatientFactory(last_name=f"North{i}") for i in range(3)]

    def share(self, **kwargs):
        options = {
            "patient": self.alice_patient,
            "actor": self.alice,
            "reason": "Covering while on leave",
            "user": self.bob,
        }
        return services.patient_share(**{**options, **kwargs})

    def sees(self, user, patient, action="view") -> bool:
        return Patient.objects.visible_to(user, action).filter(pk=patient.pk).exists()

    def assert_refused(self, code, **kwargs):
        before = (PatientShare.objects.count(), grant_count())
        with self.assertRaises(ValidationError) as caught:
            self.share(**kwargs)
        error = caught.exception
        errors = (
            [e for field_errors in error.error_dict.values() for e in field_errors]
            if hasattr(error, "error_dict")
            else error.error_list
        )
        self.assertIn(code, [e.code for e in errors])
        self.assertEqual((PatientShare.objects.count(), grant_count()), before)

    # -- services ---------------------------------------------------------------------

    def test_it_lets_a_doctor_share_her_patient_for_viewing(self):
        self.assertFalse(self.sees(self.bob, self.alice_patient))
        share = self.share()
        self.assertTrue(self.sees(self.bob, self.alice_patient))
        self.assertFalse(self.sees(self.bob, self.alice_patient, "change"))
        self.assertFalse(self.sees(self.bob, self.other_patient))
        self.assertEqual(
            (share.created_by, share.user, share.revoked_at), (self.alice, self.bob, None)
        )

    def test_it_shares_view_and_change_when_asked(self):
        self.share(can_change=True)
        self.assertTrue(self.sees(self.bob, self.alice_patient, "change"))

    def test_it_records_the_share_in_history_with_actor_and_reason(self):
        share = self.share()
        row = share.history.get()
        self.assertEqual(
            (row.history_type, row.history_user, row.history_change_reason),
            ("+", self.alice, "Covering while on leave"),
        )

    def test_it_refuses_a_share_without_reason_future_expiry_or_one_holder(self):
        self.assert_refused("reason_required", reason="  ")
        self.assert_refused("expiry_past", expires_at=timezone.now() - timedelta(minutes=1))
        self.assert_refused("one_holder", user=None)
        self.assert_refused("one_holder", group=self.north_desk, actor=self.admin)
        self.assert_refused("share_with_self", user=self.alice)

    def test_it_refuses_a_doctor_sharing_a_patient_she_is_not_primary_for(self):
        self.assert_refused("not_sharable", patient=self.other_patient)

    def test_it_refuses_passing_on_a_patient_reached_through_a_share(self):
        self.share(can_change=True)
        self.assert_refused("not_sharable", actor=self.bob, user=self.front_desk)

    def test_it_lets_an_administrator_share_any_patient(self):
        services.patient_share(
            patient=self.other_patient, actor=self.admin, reason="Second opinion", user=self.bob
        )
        self.assertTrue(self.sees(self.bob, self.other_patient))

    def test_it_keeps_team_shares_to_administrators_and_off_role_groups(self):
        self.assert_refused("team_needs_admin", user=None, group=self.north_desk)
        doctors = Group.objects.get(name=roles.DOCTOR)
        self.assert_refused("role_group", user=None, group=doctors, actor=self.admin)

    def test_it_ends_a_share_with_history_and_takes_the_access_away(self):
        share = self.share(can_change=True)
        services.patient_unshare(share=share, actor=self.alice, reason="Back from leave")
        self.assertFalse(self.sees(self.bob, self.alice_patient))
        self.assertFalse(
            PatientUserObjectPermission.objects.filter(
                user=self.bob, content_object=self.alice_patient
            ).exists()
        )
        row = share.history.latest()
        self.assertIsNotNone(row.revoked_at)
        self.assertEqual(
            (row.history_type, row.history_user, row.history_change_reason),
            ("~", self.alice, "Back from leave"),
        )

    def test_it_keeps_what_the_primary_doctor_holds_when_her_share_ends(self):
        share = services.patient_share(
            patient=self.alice_patient, actor=self.admin, reason="Extra", user=self.alice
        )
        services.patient_unshare(share=share, actor=self.admin, reason="Not needed")
        self.assertTrue(self.sees(self.alice, self.alice_patient, "change"))

    def test_it_keeps_what_another_live_share_grants_when_one_ends(self):
        viewing = self.share(reason="Weekend cover")
        changing = self.share(reason="Night cover", can_change=True)
        services.patient_unshare(share=changing, actor=self.alice, reason="Night over")
        self.assertTrue(self.sees(self.bob, self.alice_patient))
        self.assertFalse(self.sees(self.bob, self.alice_patient, "change"))
        services.patient_unshare(share=viewing, actor=self.alice, reason="Weekend over")
        self.assertFalse(self.sees(self.bob, self.alice_patient))

    def test_it_refuses_to_end_a_share_for_someone_who_may_not_share_the_patient(self):
        share = self.share()
        for actor in (self.bob, self.front_desk):
            with self.subTest(actor=actor.email), self.assertRaises(ValidationError) as caught:
                services.patient_unshare(share=share, actor=actor, reason="Mine now")
            self.assertEqual(caught.exception.code, "not_sharable")
        self.assertTrue(self.sees(self.bob, self.alice_patient))
        self.assertEqual(share.history.count(), 1)

    def test_it_refuses_to_end_a_share_twice(self):
        share = self.share()
        services.patient_unshare(share=share, actor=self.alice, reason="Done")
        with self.assertRaises(ValidationError) as caught:
            services.patient_unshare(share=share, actor=self.alice, reason="Done again")
        self.assertEqual(caught.exception.code, "share_ended")

    # -- expiry at request time ------------------------------------------------------

    def test_it_stops_a_share_that_expired_a_minute_ago_before_any_cleanup(self):
        start = timezone.now()
        share = self.share(can_change=True, expires_at=start + timedelta(hours=1))
        with clock(start + timedelta(minutes=59)):
            self.assertTrue(self.sees(self.bob, self.alice_patient, "change"))
        with clock(share.expires_at + timedelta(minutes=1)):
            self.assertFalse(self.sees(self.bob, self.alice_patient))
            self.assertFalse(self.sees(self.bob, self.alice_patient, "change"))
            # The primary doctor is untouched, and the grant rows still wait for cleanup.
            self.assertTrue(self.sees(self.alice, self.alice_patient, "change"))
        self.assertTrue(PatientUserObjectPermission.objects.filter(user=self.bob).exists())

    def test_it_keeps_a_live_share_working_beside_an_expired_one(self):
        start = timezone.now()
        self.share(can_change=True, expires_at=start + timedelta(hours=1))
        self.share(reason="Longer cover", expires_at=start + timedelta(days=7))
        with clock(start + timedelta(hours=1, minutes=1)):
            self.assertTrue(self.sees(self.bob, self.alice_patient))
            self.assertFalse(self.sees(self.bob, self.alice_patient, "change"))

    def test_it_keeps_the_primary_doctors_access_when_a_share_to_her_expires(self):
        start = timezone.now()
        services.patient_share(
            patient=self.alice_patient,
            actor=self.admin,
            reason="Belt and braces",
            user=self.alice,
            can_change=True,
            expires_at=start + timedelta(hours=1),
        )
        with clock(start + timedelta(hours=1, minutes=1)):
            self.assertTrue(self.sees(self.alice, self.alice_patient))
            self.assertTrue(self.sees(self.alice, self.alice_patient, "change"))
            services.shares_expire()
        self.assertTrue(self.sees(self.alice, self.alice_patient))
        self.assertTrue(self.sees(self.alice, self.alice_patient, "change"))

    def test_it_hides_an_expired_share_from_the_admin_pages(self):
        start = timezone.now()
        share = self.share(expires_at=start + timedelta(hours=1))
        self.login(self.bob)
        change = reverse("admin:clinic_patient_change", args=[self.alice_patient.pk])
        self.assertEqual(self.client.get(change).status_code, 200)
        with clock(share.expires_at + timedelta(minutes=1)):
            # An hour idle ends the session (SESSION_IDLE_TIMEOUT): Bob signs in again.
            self.login(self.bob)
            self.assertRedirects(self.client.get(change), reverse("admin:index"))

    def test_it_stops_an_expired_team_share_for_its_members(self):
        start = timezone.now()
        services.patients_share(
            patients=self.north_patients,
            actor=self.admin,
            reason="Front desk cover",
            group=self.north_desk,
            expires_at=start + timedelta(hours=1),
        )
        with clock(start + timedelta(hours=1, minutes=1)):
            self.assertFalse(Patient.objects.visible_to(self.nina).exists())

    def test_it_ends_expired_shares_once_and_records_why(self):
        start = timezone.now()
        share = self.share(expires_at=start + timedelta(hours=1))
        self.share(reason="Open-ended")
        self.assertEqual(services.shares_expire(now=start + timedelta(minutes=30)), 0)
        later = start + timedelta(hours=1, minutes=1)
        with clock(later):
            self.assertEqual(services.shares_expire(), 1)
            self.assertEqual(services.shares_expire(), 0)
        share.refresh_from_db()
        self.assertEqual(share.revoked_at, later)
        row = share.history.latest()
        self.assertEqual(
            (row.history_user, row.history_change_reason), (None, services.REASON_SHARE_EXPIRED)
        )
        # The open-ended share still stands behind Bob's grant.
        self.assertTrue(self.sees(self.bob, self.alice_patient))

    def test_it_removes_the_grants_of_an_expired_share(self):
        start = timezone.now()
        self.share(expires_at=start + timedelta(hours=1))
        with clock(start + timedelta(hours=2)):
            services.shares_expire()
        self.assertFalse(PatientUserObjectPermission.objects.filter(user=self.bob).exists())

    # -- the command -----------------------------------------------------------------

    def test_it_expires_shares_from_the_command_and_prints_the_count(self):
        start = timezone.now()
        share = self.share(expires_at=start + timedelta(hours=1))
        out = StringIO()
        with clock(start + timedelta(hours=2)):
            call_command("expire_shares", "--dry-run", stdout=out)
            self.assertIn("1 expired share would be ended.", out.getvalue())
            share.refresh_from_db()
            self.assertIsNone(share.revoked_at)
            call_command("expire_shares", stdout=out)
        self.assertIn("Ended 1 expired share.", out.getvalue())
        share.refresh_from_db()
        self.assertIsNotNone(share.revoked_at)

    # -- group grants ----------------------------------------------------------------

    def test_it_lets_an_administrator_grant_a_team_a_set_of_patients(self):
        shares = services.patients_share(
            patients=Patient.objects.filter(last_name__startswith="North"),
            actor=self.admin,
            reason="North site front desk",
            group=self.north_desk,
            can_change=True,
        )
        self.assertEqual(len(shares), 3)
        self.assertCountEqual(Patient.objects.visible_to(self.nina), self.north_patients)
        self.assertCountEqual(Patient.objects.visible_to(self.nina, "change"), self.north_patients)
        self.assertFalse(self.sees(self.bob, self.north_patients[0]))

    def test_it_keeps_a_members_own_share_when_the_team_share_ends(self):
        patient = self.north_patients[0]
        team = services.patient_share(
            patient=patient, actor=self.admin, reason="Team", group=self.north_desk
        )
        services.patient_share(patient=patient, actor=self.admin, reason="Nina", user=self.nina)
        services.patient_unshare(share=team, actor=self.admin, reason="Team moved")
        self.assertCountEqual(Patient.objects.visible_to(self.nina), [patient])

    def test_it_shares_a_set_all_or_nothing(self):
        with self.assertRaises(ValidationError):
            services.patients_share(
                patients=[self.alice_patient, self.other_patient],
                actor=self.alice,
                reason="Cover",
                user=self.bob,
            )
        self.assertFalse(PatientShare.objects.exists())
        self.assertFalse(self.sees(self.bob, self.alice_patient))

    # -- the admin action --------------------------------------------------------------

    def changelist_post(self, patients, **data):
        return self.client.post(
            reverse("admin:clinic_patient_changelist"),
            {
                "action": "share_access",
                "index": 0,
                "select_across": 0,
                ACTION_CHECKBOX_NAME: [p.pk for p in patients],
                **data,
            },
        )

    def offered_actions(self, user):
        self.login(user)
        response = self.client.get(reverse("admin:clinic_patient_changelist"))
        if response.status_code != 200:
            return []
        return [name for name, _ in response.context["action_form"].fields["action"].choices]

    def test_it_offers_the_action_only_to_users_who_may_share(self):
        for user, offered in [
            (self.admin, True),
            (self.operator, True),
            (self.alice, True),
            (self.bob, False),
            (self.front_desk, False),
            (self.steward, False),
            (self.auditor, False),
        ]:
            with self.subTest(user=user.email):
                self.assertEqual("share_access" in self.offered_actions(user), offered)

    def test_it_asks_for_the_share_on_an_intermediate_page(self):
        self.login(self.alice)
        response = self.changelist_post([self.alice_patient])
        self.assertTemplateUsed(response, "admin/clinic/share_access.html")
        self.assertContains(response, str(self.alice_patient))
        self.assertContains(response, 'name="reason"')
        self.assertNotContains(response, 'name="group"')

    def test_it_shares_the_selection_from_the_action(self):
        self.login(self.admin)
        response = self.changelist_post(
            self.north_patients[:2],
            apply="1",
            group=self.north_desk.pk,
            can_change="change",
            reason="North front desk",
            expires_at="",
        )
        self.assertRedirects(response, reverse("admin:clinic_patient_changelist"))
        self.assertCountEqual(Patient.objects.visible_to(self.nina), self.north_patients[:2])

    def test_it_shows_service_errors_on_the_action_page(self):
        self.login(self.admin)
        response = self.changelist_post(
            [self.other_patient],
            apply="1",
            user=self.bob.pk,
            group=self.north_desk.pk,
            can_change="view",
            reason="Both",
        )
        self.assertContains(response, services.MSG_SHARE_ONE_HOLDER)
        self.assertFalse(PatientShare.objects.exists())

    def test_it_writes_nothing_for_a_crafted_share_post(self):
        shared_with_alice = services.patient_share(
            patient=self.other_patient, actor=self.admin, reason="Cover", user=self.alice
        ).patient
        for user, patient in [
            (self.front_desk, self.alice_patient),  # may not share at all
            (self.alice, self.north_patients[0]),  # does not see it
            (self.alice, shared_with_alice),  # sees it through a share only
        ]:
            with self.subTest(user=user.email, patient=str(patient)):
                self.login(user)
                before = (PatientShare.objects.count(), grant_count())
                self.changelist_post(
                    [patient], apply="1", user=self.bob.pk, can_change="change", reason="x"
                )
                self.assertEqual((PatientShare.objects.count(), grant_count()), before)
                self.assertFalse(self.sees(self.bob, patient))

    # -- the patient page ------------------------------------------------------------

    def change_page(self, user, patient=None):
        self.login(user)
        patient = patient or self.alice_patient
        return self.client.get(reverse("admin:clinic_patient_change", args=[patient.pk]))

    def test_it_lists_live_shares_on_the_patient_page_for_who_may_share(self):
        share = self.share(can_change=True, expires_at=timezone.now() + timedelta(days=3))
        ended = self.share(reason="Old cover")
        services.patient_unshare(share=ended, actor=self.alice, reason="Over")
        revoke = reverse("admin:clinic_patient_unshare", args=[self.alice_patient.pk, share.pk])
        for user in (self.alice, self.admin):
            with self.subTest(user=user.email):
                response = self.change_page(user)
                self.assertContains(response, "Shared access")
                self.assertContains(response, "Covering while on leave")
                self.assertContains(response, "View and change")
                self.assertContains(response, revoke)
                self.assertNotContains(response, "Old cover")

    def test_it_leaves_the_section_off_for_who_may_not_share(self):
        self.share()
        for user in (self.front_desk, self.bob, self.auditor):
            with self.subTest(user=user.email):
                self.assertNotContains(self.change_page(user), "Shared access")

    def test_it_shares_from_the_patient_page(self):
        self.login(self.alice)
        url = reverse("admin:clinic_patient_share", args=[self.alice_patient.pk])
        self.assertEqual(self.client.get(url).status_code, 200)
        response = self.client.post(
            url, {"user": self.bob.pk, "can_change": "view", "reason": "Cover", "expires_at": ""}
        )
        self.assertRedirects(
            response, reverse("admin:clinic_patient_change", args=[self.alice_patient.pk])
        )
        self.assertTrue(self.sees(self.bob, self.alice_patient))

    def test_it_refuses_a_past_expiry_on_the_form(self):
        self.login(self.alice)
        url = reverse("admin:clinic_patient_share", args=[self.alice_patient.pk])
        past = timezone.localtime() - timedelta(days=1)
        response = self.client.post(
            url,
            {
                "user": self.bob.pk,
                "can_change": "view",
                "reason": "Cover",
                "expires_at": past.strftime("%Y-%m-%dT%H:%M"),
            },
        )
        self.assertContains(response, services.MSG_SHARE_EXPIRY_PAST)
        self.assertFalse(PatientShare.objects.exists())

    def test_it_revokes_from_the_patient_page_with_a_reason(self):
        share = self.share()
        self.login(self.alice)
        url = reverse("admin:clinic_patient_unshare", args=[self.alice_patient.pk, share.pk])
        self.assertContains(self.client.get(url), "Revoke access")
        self.assertContains(self.client.post(url, {"reason": ""}), "This field is required")
        response = self.client.post(url, {"reason": "Back early"})
        self.assertRedirects(
            response, reverse("admin:clinic_patient_change", args=[self.alice_patient.pk])
        )
        self.assertFalse(self.sees(self.bob, self.alice_patient))
        self.assertEqual(share.history.latest().history_change_reason, "Back early")

    def test_it_answers_missing_to_crafted_share_and_revoke_posts(self):
        share = self.share()
        revoke = reverse("admin:clinic_patient_unshare", args=[self.alice_patient.pk, share.pk])
        share_page = reverse("admin:clinic_patient_share", args=[self.alice_patient.pk])
        for user in (self.bob, self.front_desk, self.auditor, self.steward):
            with self.subTest(user=user.email):
                self.login(user)
                self.assertRedirects(
                    self.client.post(revoke, {"reason": "Mine"}), reverse("admin:index")
                )
                self.assertRedirects(
                    self.client.post(
                        share_page, {"user": self.steward.pk, "can_change": "view", "reason": "x"}
                    ),
                    reverse("admin:index"),
                )
        self.assertEqual(share.history.count(), 1)
        self.assertEqual(PatientShare.objects.count(), 1)
        self.assertTrue(self.sees(self.bob, self.alice_patient))

    def test_it_answers_missing_for_a_share_of_another_patient(self):
        other = services.patient_share(
            patient=self.other_patient, actor=self.admin, reason="Cover", user=self.bob
        )
        self.login(self.alice)
        url = reverse("admin:clinic_patient_unshare", args=[self.alice_patient.pk, other.pk])
        self.assertRedirects(self.client.post(url, {"reason": "x"}), reverse("admin:index"))
        other.refresh_from_db()
        self.assertIsNone(other.revoked_at)

    # -- guardian's object-permission pages (guardian issue #756) ----------------------

    def test_it_offers_no_guardian_object_permission_page_for_any_model(self):
        guardian_pages = ("permissions", "permissions_manage_user", "permissions_manage_group")
        for model in admin.site._registry:
            prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
            for page in guardian_pages:
                with self.subTest(url_name=f"{prefix}_{page}"), self.assertRaises(NoReverseMatch):
                    reverse(f"{prefix}_{page}", args=[1])

    def test_it_reaches_no_guardian_view_by_path_for_any_role(self):
        users = (self.operator, self.admin, self.front_desk, self.steward, self.auditor, self.alice)
        before = grant_count()
        for model in admin.site._registry:
            base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/1/permissions/"
            for path in (base, f"{base}user-manage/{self.bob.pk}/", f"{base}group-manage/1/"):
                self.assertFalse(resolve(path).func.__module__.startswith("guardian"))
                for user in users:
                    with self.subTest(path=path, user=user.email):
                        self.login(user)
                        response = self.client.post(
                            path, {"permissions": ["view_patient", "change_patient"]}, follow=True
                        )
                        self.assertIn(response.status_code, (200, 403))
                        used = [t.name for t in response.templates if t.name]
                        self.assertFalse(any(name.startswith("admin/guardian") for name in used))
        self.assertEqual(grant_count(), before)


class PrimaryDoctorChangeKeepsSharesTests(ClinicTestCase):
    """Losing the primary-doctor role takes only what that role granted."""

    def share_other_patient_with_bob(self):
        services.patient_share(
            patient=self.other_patient,
            user=self.bob,
            can_change=True,
            actor=self.admin,
            reason="Covering while Dr. Adams is away",
        )

    def assert_bob_may_change(self):
        self.assertTrue(
            Patient.objects.visible_to(self.bob, "change").filter(pk=self.other_patient.pk).exists()
        )

    def test_reassigning_the_patient_keeps_the_access_a_share_gives(self):
        self.share_other_patient_with_bob()
        services.patient_assign_primary_doctor(
            patient=self.other_patient, doctor=self.dr_bob, actor=self.front_desk, reason="r"
        )
        services.patient_assign_primary_doctor(
            patient=Patient.objects.get(pk=self.other_patient.pk),
            doctor=self.dr_alice,
            actor=self.front_desk,
            reason="back to Dr. Adams",
        )
        self.assert_bob_may_change()

    def test_unlinking_the_doctors_login_keeps_the_access_a_share_gives(self):
        self.share_other_patient_with_bob()
        services.patient_assign_primary_doctor(
            patient=self.other_patient, doctor=self.dr_bob, actor=self.front_desk, reason="r"
        )
        doctor = type(self.dr_bob).objects.get(pk=self.dr_bob.pk)
        doctor.user = None
        services.doctor_save(doctor=doctor, actor=self.admin, reason="left the practice")
        self.assert_bob_may_change()

    def test_without_a_share_the_old_doctor_loses_access(self):
        services.patient_assign_primary_doctor(
            patient=self.other_patient, doctor=self.dr_bob, actor=self.front_desk, reason="r"
        )
        services.patient_assign_primary_doctor(
            patient=Patient.objects.get(pk=self.other_patient.pk),
            doctor=self.dr_alice,
            actor=self.front_desk,
            reason="back",
        )
        self.assertFalse(
            Patient.objects.visible_to(self.bob).filter(pk=self.other_patient.pk).exists()
        )
