"""Project-wide pytest configuration."""


def pytest_configure(config):
    from django.conf import settings

    # Hashing every persona's password with PBKDF2 costs about a second per test
    # class; the hasher is not what these tests are about (cookiecutter-django
    # does the same in its test settings).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
