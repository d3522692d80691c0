"""Object-permission grants and revokes leave history and access-log rows (issue 7, items 1-2)."""

from datetime import timedelta

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from admin_ext.audit.models import AccessLog
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import (
    Patient,
    PatientGroupObjectPermission,
    PatientUserObjectPermission,
)
from clinic.tests.factories import DoctorFactory, PatientFactory
from people import roles
from people.services import user_create

VIEW, CHANGE = "clinic.view_patient", "clinic.change_patient"

UserGrantHistory = PatientUserObjectPermission.history.model
GroupGrantHistory = PatientGroupObjectPermission.history.model


def user_rows(user, **filters) -> list[tuple]:
    """``(type, patient id, codename, actor, reason)`` of ``user``'s grant history, oldest first."""
    return [
        (row.history_type, row.content_object_id, row.permission.codename)
        + (row.history_user, row.history_change_reason)
        for row in UserGrantHistory.objects.filter(user_id=user.pk, **filters)
        .select_related("permission", "history_user")
        .order_by("history_id")
    ]


class GrantHistoryTests(ClinicTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.carol = user_create(
            email="carol@example.com",
            password="password",
            role=roles.DOCTOR,
            first_name="Carol",
            last_name="Cole",
            actor=None,
            reason="test",
        )
        cls.dr_carol = DoctorFactory(first_name="Carol", last_name="Cole", user=cls.carol)

    def setUp(self):
        # What the fixture wrote (Alice's own grants) is not what these tests look at.
        self.history_after = UserGrantHistory.objects.aggregate(last=Max("history_id"))["last"]
        self.log_after = AccessLog.objects.aggregate(last=Max("id"))["last"] or 0

    def new_history(self, user) -> list[tuple]:
        return user_rows(user, history_id__gt=self.history_after or 0)

    def new_log(self, action) -> list[AccessLog]:
        return list(AccessLog.objects.filter(id__gt=self.log_after, action=action).order_by("id"))

    # -- primary doctor ---------------------------------------------------------------

    def test_it_records_each_primary_doctor_grant_with_actor_and_reason(self):
        patient = PatientFactory()
        services.patient_assign_primary_doctor(
            patient=patient, doctor=self.dr_carol, actor=self.front_desk, reason="New GP"
        )
        self.assertEqual(
            sorted(self.new_history(self.carol)),
            [
                ("+", patient.pk, "change_patient", self.front_desk, "New GP"),
                ("+", patient.pk, "view_patient", self.front_desk, "New GP"),
            ],
        )

    def test_it_records_the_revoke_when_a_patient_moves_to_another_doctor(self):
        services.patient_assign_primary_doctor(
            patient=self.alice_patient, doctor=self.dr_carol, actor=self.admin, reason="Moved"
        )
        self.assertEqual(
            sorted(self.new_history(self.alice)),
            [
                ("-", self.alice_patient.pk, "change_patient", self.admin, "Moved"),
                ("-", self.alice_patient.pk, "view_patient", self.admin, "Moved"),
            ],
        )
        self.assertEqual(
            [row[0] for row in self.new_history(self.carol)], ["+", "+"], "Carol gains both"
        )

    def test_it_writes_one_history_row_per_revoked_grant_not_two(self):
        services.patient_assign_primary_doctor(
            patient=self.alice_patient, doctor=None, actor=self.admin, reason="Unassigned"
        )
        deleted = UserGrantHistory.objects.filter(user_id=self.alice.pk, history_type="-")
        self.assertEqual(deleted.count(), 2)
        self.assertFalse(deleted.filter(history_user__isnull=True).exists())

    def test_it_logs_one_grant_and_one_revoke_per_assignment(self):
        services.patient_assign_primary_doctor(
            patient=self.alice_patient, doctor=self.dr_carol, actor=self.admin, reason="Moved"
        )
        (revoke,) = self.new_log(AccessLog.Action.REVOKE)
        (grant,) = self.new_log(AccessLog.Action.GRANT)
        self.assertEqual(
            (revoke.actor, revoke.object_id, revoke.object_repr),
            (self.admin, str(self.alice_patient.pk), str(self.alice_patient)),
        )
        self.assertEqual(
            revoke.detail,
            {
                "patients": 1,
                "patient_ids": [self.alice_patient.pk],
                "user": {"id": self.alice.pk, "label": str(self.alice)},
                "permissions": [CHANGE, VIEW],
                "reason": "Moved",
                "via": services.VIA_PRIMARY_DOCTOR,
            },
        )
        self.assertEqual(grant.detail["user"], {"id": self.carol.pk, "label": str(self.carol)})
        self.assertEqual(grant.detail["permissions"], [CHANGE, VIEW])

    def test_it_moves_grants_with_history_when_a_doctors_login_changes(self):
        dana = user_create(
            email="dana@example.com", password=None, role=roles.DOCTOR, actor=None, reason="test"
        )
        self.dr_alice.user = dana
        services.doctor_save(doctor=self.dr_alice, actor=self.admin, reason="New login")
        self.assertEqual(
            sorted(row[0] for row in self.new_history(self.alice)), ["-", "-"], "old login"
        )
        self.assertEqual(
            sorted(self.new_history(dana)),
            [
                ("+", self.alice_patient.pk, "change_patient", self.admin, "New login"),
                ("+", self.alice_patient.pk, "view_patient", self.admin, "New login"),
            ],
        )
        self.assertEqual(len(self.new_log(AccessLog.Action.GRANT)), 1)
        self.assertEqual(len(self.new_log(AccessLog.Action.REVOKE)), 1)

    def test_it_writes_nothing_for_a_grant_already_there(self):
        services.patient_share(
            patient=self.alice_patient, actor=self.admin, reason="Belt and braces", user=self.alice
        )
        self.assertEqual(self.new_history(self.alice), [])
        self.assertEqual(self.new_log(AccessLog.Action.GRANT), [])

    # -- shares -----------------------------------------------------------------------

    def test_it_logs_one_grant_row_for_a_share_of_many_patients(self):
        patients = [PatientFactory() for _ in range(3)]
        services.patients_share(
            patients=patients, actor=self.admin, reason="Ward round", user=self.bob
        )
        self.assertEqual(
            sorted(self.new_history(self.bob)),
            [("+", p.pk, "view_patient", self.admin, "Ward round") for p in patients],
        )
        (grant,) = self.new_log(AccessLog.Action.GRANT)
        self.assertEqual(
            (grant.actor, grant.content_type.model, grant.object_id), (self.admin, "patient", "")
        )
        self.assertEqual(grant.detail["patients"], 3)
        self.assertEqual(grant.detail["patient_ids"], sorted(p.pk for p in patients))
        self.assertEqual(grant.detail["via"], services.VIA_SHARE)

    def test_it_lists_at_most_a_hundred_patient_ids_in_a_log_row(self):
        patients = Patient.objects.bulk_create(
            PatientFactory.build(mrn=f"7{n:07d}") for n in range(services.LOGGED_PATIENT_IDS + 1)
        )
        services.patients_share(
            patients=patients, actor=self.admin, reason="Whole ward", user=self.bob
        )
        (grant,) = self.new_log(AccessLog.Action.GRANT)
        self.assertEqual(grant.detail["patients"], services.LOGGED_PATIENT_IDS + 1)
        self.assertEqual(len(grant.detail["patient_ids"]), services.LOGGED_PATIENT_IDS)

    def test_it_records_the_end_of_a_share_with_actor_and_reason(self):
        share = services.patient_share(
            patient=self.alice_patient,
            actor=self.alice,
            reason="Cover",
            user=self.bob,
            can_change=True,
        )
        services.patient_unshare(share=share, actor=self.alice, reason="Back from leave")
        removed = [row for row in self.new_history(self.bob) if row[0] == "-"]
        self.assertEqual(
            sorted(removed),
            [
                ("-", self.alice_patient.pk, "change_patient", self.alice, "Back from leave"),
                ("-", self.alice_patient.pk, "view_patient", self.alice, "Back from leave"),
            ],
        )
        (revoke,) = self.new_log(AccessLog.Action.REVOKE)
        self.assertEqual((revoke.actor, revoke.detail["reason"]), (self.alice, "Back from leave"))

    def test_it_revokes_nothing_another_source_still_stands_behind(self):
        share = services.patient_share(
            patient=self.alice_patient, actor=self.admin, reason="Extra", user=self.alice
        )
        services.patient_unshare(share=share, actor=self.admin, reason="Not needed")
        self.assertEqual(self.new_history(self.alice), [])
        self.assertEqual(self.new_log(AccessLog.Action.REVOKE), [])

    def test_it_records_an_expired_share_as_ended_by_the_system(self):
        start = timezone.now()
        services.patient_share(
            patient=self.alice_patient,
            actor=self.alice,
            reason="Cover",
            user=self.bob,
            expires_at=start + timedelta(hours=1),
        )
        services.shares_expire(now=start + timedelta(hours=2))
        removed = [row for row in self.new_history(self.bob) if row[0] == "-"]
        self.assertEqual(
            removed,
            [("-", self.alice_patient.pk, "view_patient", None, services.REASON_SHARE_EXPIRED)],
        )
        (revoke,) = self.new_log(AccessLog.Action.REVOKE)
        self.assertEqual((revoke.actor, revoke.actor_label), (None, ""))

    def test_it_records_a_team_share_and_its_end_in_the_group_grant_history(self):
        team = Group.objects.create(name="Night team")
        share = services.patient_share(
            patient=self.other_patient, actor=self.admin, reason="Night cover", group=team
        )
        services.patient_unshare(share=share, actor=self.admin, reason="Morning")
        rows = GroupGrantHistory.objects.filter(group_id=team.pk).order_by("history_id")
        self.assertEqual(
            [(r.history_type, r.history_user, r.history_change_reason) for r in rows],
            [("+", self.admin, "Night cover"), ("-", self.admin, "Morning")],
        )
        (grant,) = self.new_log(AccessLog.Action.GRANT)
        (revoke,) = self.new_log(AccessLog.Action.REVOKE)
        self.assertEqual(grant.detail["group"], {"id": team.pk, "label": "Night team"})
        self.assertEqual(revoke.detail["group"], {"id": team.pk, "label": "Night team"})

    def test_it_logs_an_admin_share_with_the_request_it_came_from(self):
        self.login(self.alice)
        self.client.post(
            reverse("admin:clinic_patient_share", args=[self.alice_patient.pk]),
            {"user": self.bob.pk, "can_change": "view", "reason": "Weekend"},
            HTTP_USER_AGENT="GrantTest/1.0",
        )
        (grant,) = self.new_log(AccessLog.Action.GRANT)
        self.assertEqual(
            (grant.actor, grant.ip_address, grant.user_agent),
            (self.alice, "127.0.0.1", "GrantTest/1.0"),
        )
        self.assertTrue(grant.request_id)

    def test_it_logs_an_admin_action_share_once_for_the_selection(self):
        patients = [PatientFactory() for _ in range(2)]
        self.login(self.admin)
        self.client.post(
            reverse("admin:clinic_patient_changelist"),
            {
                "action": "share_access",
                ACTION_CHECKBOX_NAME: [p.pk for p in patients],
                "apply": "1",
                "user": self.bob.pk,
                "can_change": "change",
                "reason": "Audit cover",
            },
        )
        (grant,) = self.new_log(AccessLog.Action.GRANT)
        self.assertEqual((grant.actor, grant.detail["patients"]), (self.admin, 2))
        self.assertEqual(len(self.new_history(self.bob)), 4)

    # -- deletes outside the services ---------------------------------------------------

    def test_it_still_records_a_grant_deleted_with_its_patient(self):
        patient = PatientFactory()
        services.patient_assign_primary_doctor(
            patient=patient, doctor=self.dr_carol, actor=self.admin, reason="New GP"
        )
        patient.delete()
        self.assertEqual(
            sorted(row[0] for row in self.new_history(self.carol)), ["+", "+", "-", "-"]
        )

    # -- the bulk path (imports) ------------------------------------------------------------

    def bulk_move(self, count: int, doctor) -> list:
        """``count`` patients of Dr. Bob's moved in bulk to ``doctor``; returns the SQL run."""
        patients = Patient.objects.bulk_create(
            PatientFactory.build(mrn=f"{count}{n:06d}", primary_doctor=self.dr_bob)
            for n in range(count)
        )
        services._grants_add(
            {self.bob: {p.pk: services.PRIMARY_DOCTOR_PERMS for p in patients}},
            actor=None,
            reason="Setup",
            via=services.VIA_PRIMARY_DOCTOR,
        )
        with CaptureQueriesContext(connection) as captured:
            services.patients_assign_primary_doctors(
                assignments={p.pk: doctor for p in patients}, actor=self.admin, reason="Import #9"
            )
        return [q["sql"] for q in captured.captured_queries]

    def test_it_moves_grants_in_bulk_with_history_and_one_log_row_per_login(self):
        self.bulk_move(3, self.dr_carol)
        bob = [row for row in self.new_history(self.bob) if row[0] == "-"]
        carol = self.new_history(self.carol)
        self.assertEqual(len(bob), 6)
        self.assertEqual(len(carol), 6)
        self.assertEqual({row[3:] for row in bob + carol}, {(self.admin, "Import #9")})
        (revoke,) = self.new_log(AccessLog.Action.REVOKE)
        grants = self.new_log(AccessLog.Action.GRANT)
        self.assertEqual(revoke.detail["patients"], 3)
        self.assertEqual(
            [(g.actor, g.detail["patients"]) for g in grants],
            [(None, 3), (self.admin, 3)],
            "the setup's grant, then the move's",
        )

    def test_it_moves_grants_in_bulk_with_as_many_queries_for_5_as_for_30_patients(self):
        self.admin.has_perm("clinic.change_patient")  # the actor's permission cache, once
        small = self.bulk_move(5, self.dr_carol)
        # 30: below SQLite's batch of history rows for patients (999 parameters), so
        # both sizes write each table in one statement.
        large = self.bulk_move(30, self.dr_alice)
        self.assertEqual(len(large), len(small), "\n".join(q[:100] for q in large))
