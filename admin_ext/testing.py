"""Shared test base: one persona per role, plus Dr. Alice and Dr. Bob.

- ``self.admin``: Administrator role (not a superuser); ``self.operator``: superuser
- ``self.front_desk``, ``self.steward``, ``self.auditor``: one user per role
- ``self.alice``: a Doctor-role login linked to ``self.dr_alice``, primary doctor of
  ``self.alice_patient`` (granted through the service)
- ``self.bob``: a Doctor-role login linked to ``self.dr_bob``, with no patients
- ``self.other_patient``: a patient with no primary doctor

Every persona's password is ``password``.
"""

from django.test import TestCase

from clinic import services
from clinic.tests.factories import DoctorFactory, PatientFactory
from people import roles
from people.services import user_create
from people.two_factor.testing import sign_in

PASSWORD = "password"


class ClinicTestCase(TestCase):
    """TestCase with the personas above created once per class."""

    @classmethod
    def setUpTestData(cls):
        def make(email, role, **kwargs):
            return user_create(
                email=email, password=PASSWORD, role=role, actor=None, reason="test", **kwargs
            )

        cls.operator = make("operator@example.com", roles.ADMINISTRATOR, is_superuser=True)
        cls.admin = make("admin@example.com", roles.ADMINISTRATOR)
        cls.front_desk = make("desk@example.com", roles.FRONT_DESK)
        cls.steward = make("steward@example.com", roles.DATA_STEWARD)
        cls.auditor = make("auditor@example.com", roles.AUDITOR)
        cls.alice = make("alice@example.com", roles.DOCTOR, first_name="Alice", last_name="Adams")
        cls.bob = make("bob@example.com", roles.DOCTOR, first_name="Bob", last_name="Brown")
        cls.dr_alice = DoctorFactory(first_name="Alice", last_name="Adams", user=cls.alice)
        cls.dr_bob = DoctorFactory(first_name="Bob", last_name="Brown", user=cls.bob)
        cls.alice_patient = PatientFactory(first_name="Ann", last_name="Patel")
        services.patient_assign_primary_doctor(
            patient=cls.alice_patient, doctor=cls.dr_alice, actor=cls.front_desk, reason="test"
        )
        cls.other_patient = PatientFactory(first_name="Otto", last_name="Other")

    def login(self, user):
        """Sign the test client in as ``user`` (through the login backend, no request),
        with the second factor when their role requires it or they have one
        (``people.two_factor.testing.sign_in``)."""
        sign_in(self.client, user)
