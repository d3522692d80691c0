"""Audit trail test data shared by the trail page and the dashboard's "Recent actions".

``TrailDataTestCase`` builds, once per class, on top of ``ClinicTestCase``'s personas:

- two patient changes by ``cls.admin``, each with a reason (history rows), in this
  order: ``cls.alice_patient``'s city set to "Salem" (reason "Moved house"), then
  ``cls.other_patient``'s city set to "Lowell" (reason "Other moved");
- only when the class sets ``access_rows = True``, three access-log rows written after
  the changes, in this order: ``cls.alice_view`` (Dr. Alice viewed her patient),
  ``cls.other_view`` (the auditor viewed the other patient) and ``cls.sign_in`` (the
  front desk signed in).
"""

from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access
from admin_ext.testing import ClinicTestCase
from clinic import services


class TrailDataTestCase(ClinicTestCase):
    """Personas plus a change with a reason on each patient, and (``access_rows``) views
    and a sign-in; see the module docstring."""

    access_rows = False

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.alice_patient.city = "Salem"
        services.patient_save(patient=cls.alice_patient, actor=cls.admin, reason="Moved house")
        cls.other_patient.city = "Lowell"
        services.patient_save(patient=cls.other_patient, actor=cls.admin, reason="Other moved")
        if cls.access_rows:
            cls.alice_view = log_access(
                action=AccessLog.Action.VIEW, actor=cls.alice, obj=cls.alice_patient
            )
            cls.other_view = log_access(
                action=AccessLog.Action.VIEW, actor=cls.auditor, obj=cls.other_patient
            )
            cls.sign_in = log_access(action=AccessLog.Action.LOGIN, actor=cls.front_desk)
