"""factory-boy factories for people models."""

import factory

from people.models import User


class UserFactory(factory.django.DjangoModelFactory):
    """A staff user with a usable password ``password``. Add roles with ``groups``."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()
