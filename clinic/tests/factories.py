"""factory-boy factories for clinic models.

They save through ``Model.save()`` for speed; tests of the write paths call the
services explicitly.
"""

import datetime

import factory

from clinic.models import Doctor, Organization, Patient


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    external_id = factory.Faker("uuid4")
    name = factory.Sequence(lambda n: f"Clinic {n}")
    city = "Boston"
    state = "MA"


class DoctorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Doctor

    external_id = factory.Faker("uuid4")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    gender = "F"
    specialty = "GENERAL PRACTICE"
    organization = factory.SubFactory(OrganizationFactory)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    external_id = factory.Faker("uuid4")
    mrn = factory.Sequence(lambda n: f"9{n:07d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    birth_date = datetime.date(1980, 5, 17)
    gender = "F"
    ssn = factory.Sequence(lambda n: f"999-00-{n % 10000:04d}")
