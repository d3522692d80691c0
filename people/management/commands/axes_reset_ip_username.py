"""django-axes' ``axes_reset_ip_username``, refused like ``axes_reset`` (see that module)."""

from people.management.commands.axes_reset import Command  # noqa: F401
