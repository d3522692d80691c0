from django.apps import AppConfig


class PeopleConfig(AppConfig):
    """Users, profiles, roles and login events."""

    name = "people"
    verbose_name = "People"

    def ready(self):
        from people import signals  # noqa: F401  (registers the receivers)
