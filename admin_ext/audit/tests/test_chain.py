"""The hash chain: sealing, verifying, and the tampering it must detect (issue 7, item 5).

Each tamper test edits or deletes a row directly in the database, as a database
administrator could, and expects ``verify_audit`` to fail naming that row.
"""

import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.test import TransactionTestCase, override_settings

from admin_ext.audit import chain
from admin_ext.audit.models import AccessLog, AuditSeal
from admin_ext.audit.services import log_access
from admin_ext.testing import ClinicTestCase
from clinic import services
from clinic.models import Patient
from people import roles
from people.models import LoginEvent
from people.services import user_create


def verify_command(*args) -> str:
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


class SealAndVerifyTests(ClinicTestCase):
    def setUp(self):
        self.view = log_access(
            action=AccessLog.Action.VIEW, actor=self.auditor, obj=self.alice_patient
        )
        (self.seal,) = chain.seal(trigger="test")

    def assert_altered(self, expected: str):
        with pytest.raises(CommandError) as caught:
            verify_command()
        assert caught.value.returncode == 1
        assert expected in str(caught.value)

    def history_row(self, patient):
        return Patient.history.filter(id=patient.pk).order_by("history_id").first()

    def test_a_seal_covers_history_and_access_rows_and_verifies(self):
        assert self.seal.row_count > 0
        sources = self.seal.sources
        assert sources["audit.AccessLog"]["count"] == AccessLog.objects.count()
        assert sources["audit.AccessLog"]["upto"] == self.view.pk
        assert sources["clinic.HistoricalPatient"]["count"] == Patient.history.count()
        assert "people.LoginEvent" in sources
        output = verify_command()
        assert "Audit trail intact: 1 seals" in output
        assert "0 rows are not sealed yet" in output

    def test_nothing_new_writes_no_seal_and_new_rows_chain_to_the_last(self):
        assert chain.seal(trigger="again") == []
        services.patient_archive(patient=self.other_patient, actor=self.admin, reason="moved away")
        assert "1 rows are not sealed yet" in verify_command()
        (second,) = chain.seal(trigger="again")
        assert second.previous == self.seal.digest
        assert second.sources["clinic.HistoricalPatient"]["count"] == 1
        assert "2 seals" in verify_command()

    def test_many_rows_are_sealed_as_a_chain_of_bounded_seals(self):
        views = [
            log_access(action=AccessLog.Action.VIEW, actor=self.admin, obj=self.other_patient)
            for _ in range(5)
        ]
        services.patient_archive(patient=self.other_patient, actor=self.admin, reason="moved")

        made = chain.seal(trigger="bounded", max_rows=2)

        # 6 new rows (5 views, 1 history row), 2 per seal, each chained to the one before.
        assert [s.row_count for s in made] == [2, 2, 2]
        assert [s.previous for s in made] == [self.seal.digest, made[0].digest, made[1].digest]
        assert made[0].sources["audit.AccessLog"]["upto"] == views[1].pk
        assert made[2].sources["clinic.HistoricalPatient"]["count"] == 1
        assert "Audit trail intact: 4 seals" in verify_command()
        # A row in the middle seal is still named when it is changed.
        AccessLog.objects.filter(pk=views[2].pk).update(object_repr="forged")
        self.assert_altered(f"audit.AccessLog #{views[2].pk} was changed after seal #{made[1].pk}")

    def test_seal_audit_writes_every_seal_to_the_digest_file(self):
        for _ in range(3):
            log_access(action=AccessLog.Action.VIEW, actor=self.admin, obj=self.other_patient)
        digest_file = self.tmp_path / "digests.txt"
        out = io.StringIO()
        with override_settings(AUDIT_SEAL_MAX_ROWS=2):
            call_command("seal_audit", "--digest-file", str(digest_file), stdout=out)
        made = list(AuditSeal.objects.order_by("id"))[1:]
        assert [s.row_count for s in made] == [2, 1]
        lines = digest_file.read_text().splitlines()
        assert [line.split()[:2] for line in lines] == [[str(s.pk), s.digest] for s in made]
        assert out.getvalue().count("Sealed ") == 2
        assert "intact" in verify_command("--digests", str(digest_file))

    def test_an_edited_history_row_is_named(self):
        row = self.history_row(self.alice_patient)
        Patient.history.filter(history_id=row.history_id).update(last_name="Forged")
        self.assert_altered(f"clinic.HistoricalPatient #{row.history_id} was changed after seal")

    def test_an_edited_history_reason_is_named(self):
        row = self.history_row(self.other_patient)
        Patient.history.filter(history_id=row.history_id).update(history_change_reason="")
        self.assert_altered(f"clinic.HistoricalPatient #{row.history_id} was changed")

    def test_an_edited_access_log_row_is_named(self):
        AccessLog.objects.filter(pk=self.view.pk).update(actor_label="someone@else.example")
        self.assert_altered(f"audit.AccessLog #{self.view.pk} was changed after seal")

    def test_a_deleted_history_row_is_named(self):
        row = self.history_row(self.other_patient)
        Patient.history.filter(history_id=row.history_id).delete()
        self.assert_altered(f"clinic.HistoricalPatient #{row.history_id} was deleted after seal")

    def test_a_deleted_access_log_row_is_named(self):
        AccessLog.objects.filter(pk=self.view.pk).delete()
        self.assert_altered(f"audit.AccessLog #{self.view.pk} was deleted after seal")

    def test_a_deleted_login_event_is_named(self):
        event = LoginEvent.objects.create(email="x@example.com", kind=LoginEvent.Kind.FAILURE)
        chain.seal(trigger="test")
        LoginEvent.objects.filter(pk=event.pk).delete()
        self.assert_altered(f"people.LoginEvent #{event.pk} was deleted")

    def test_the_first_mismatch_is_reported_in_seal_and_key_order(self):
        later = log_access(action=AccessLog.Action.VIEW, actor=self.admin, obj=self.other_patient)
        chain.seal(trigger="test")
        AccessLog.objects.filter(pk=later.pk).update(object_repr="x")
        AccessLog.objects.filter(pk=self.view.pk).update(object_repr="y")
        self.assert_altered(
            f"audit.AccessLog #{self.view.pk} was changed after seal #{self.seal.pk}"
        )

    def test_a_rewritten_seal_digest_is_detected(self):
        AuditSeal.objects.filter(pk=self.seal.pk).update(digest="f" * 64)
        self.assert_altered(f"seal #{self.seal.pk}'s row list or digest was altered")

    def test_a_rewritten_chain_is_caught_by_the_digests_kept_outside(self):
        digest_file = self.tmp_path / "digests.txt"
        digest_file.write_text(f"{self.seal.pk} {self.seal.digest} then\n")
        assert "intact" in verify_command("--digests", str(digest_file))
        # A database administrator edits a row, then re-seals everything so the chain
        # inside the database is consistent again.
        AccessLog.objects.filter(pk=self.view.pk).update(actor_label="forged@example.com")
        AuditSeal.objects.all().delete()
        (forged,) = chain.seal(trigger="forged")
        assert "intact" in verify_command()
        with pytest.raises(CommandError) as caught:
            verify_command("--digests", str(digest_file))
        assert caught.value.returncode == 1
        if forged.pk == self.seal.pk:  # SQLite may reuse the id
            assert "differs from the copy kept outside" in str(caught.value)
        else:
            assert "kept outside, is missing from the database" in str(caught.value)

    def test_a_malformed_digest_file_names_its_line(self):
        digest_file = self.tmp_path / "digests.txt"
        digest_file.write_text(f"{self.seal.pk} {self.seal.digest}\nnot a digest\n")
        with pytest.raises(CommandError, match="line 2"):
            verify_command("--digests", str(digest_file))

    def test_seal_audit_prints_and_appends_the_digest(self):
        log_access(action=AccessLog.Action.VIEW, actor=self.admin, obj=self.other_patient)
        digest_file = self.tmp_path / "digests.txt"
        out = io.StringIO()
        call_command("seal_audit", "--digest-file", str(digest_file), stdout=out)
        sealed = AuditSeal.objects.order_by("-id").first()
        assert f"Sealed 1 rows as seal #{sealed.pk}: {sealed.digest}" in out.getvalue()
        assert digest_file.read_text().startswith(f"{sealed.pk} {sealed.digest} ")
        out = io.StringIO()
        call_command("seal_audit", stdout=out)
        assert "Nothing to seal" in out.getvalue()

    @pytest.fixture(autouse=True)
    def _tmp_path(self, tmp_path):
        self.tmp_path = tmp_path


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")
class ConcurrentSealTests(TransactionTestCase):
    """A seal never skips a row that another transaction is still writing."""

    def test_a_seal_waits_for_an_open_insert_and_gives_up_busy(self):
        user = user_create(
            email="w@example.com", password="x", role=roles.FRONT_DESK, actor=None, reason="t"
        )
        chain.seal(trigger="before")
        inserted, release = threading.Event(), threading.Event()

        def writer():
            try:
                with transaction.atomic():
                    log_access(action=AccessLog.Action.VIEW, actor=user, object_repr="open")
                    inserted.set()
                    release.wait(10)
            finally:
                connections.close_all()

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            assert inserted.wait(10)
            late = log_access(action=AccessLog.Action.VIEW, actor=user, object_repr="committed")
            with override_settings(AUDIT_SEAL_LOCK_TIMEOUT=0.2):
                with pytest.raises(chain.SealBusy):
                    chain.seal(trigger="busy")
        finally:
            release.set()
            thread.join()
        (sealed,) = chain.seal(trigger="after")
        # Both rows, the one committed first with the larger id included.
        assert sealed.sources["audit.AccessLog"]["count"] == 2
        assert sealed.sources["audit.AccessLog"]["upto"] == late.pk
        assert chain.verify().mismatch is None
