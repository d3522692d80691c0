from django.apps import AppConfig


class ClinicConfig(AppConfig):
    """Organizations, doctors and patients, their CSV formats and services."""

    name = "clinic"
    verbose_name = "Clinic"
