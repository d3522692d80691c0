"""Field rules for clinic records that hold whatever the door (form, action, import, service).

Each validator raises ``django.core.exceptions.ValidationError`` with a ``code`` and
a message that names the value, so the admin shows it on the field and an import
reports it with its row and column. Where a database can check the same rule, the
model also declares a ``CheckConstraint`` (see ``clinic.models``); the patterns
here are the ones those constraints use.
"""

import datetime

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from localflavor.us.us_states import STATES_NORMALIZED

#: ``NNN-NN-NNNN``: the SSN as the Social Security Administration prints it. Synthea's
#: fictitious SSNs (``999-…``) have this shape too, so no area-number rule applies.
SSN_PATTERN = r"^[0-9]{3}-[0-9]{2}-[0-9]{4}$"
#: A US ZIP code, ``12345`` or ZIP+4 ``12345-6789`` (USPS Publication 28).
ZIP_PATTERN = r"^[0-9]{5}(-[0-9]{4})?$"

MSG_SSN = "“%(value)s” is not an SSN: use the form 123-45-6789."
MSG_ZIP = "“%(value)s” is not a ZIP code: use 12345 or 12345-6789."
MSG_STATE = "“%(value)s” is not a US state: use its name or its two-letter code (MA)."
MSG_FUTURE = "%(value)s is in the future."

validate_ssn = RegexValidator(SSN_PATTERN, MSG_SSN, code="invalid_ssn")
validate_zip = RegexValidator(ZIP_PATTERN, MSG_ZIP, code="invalid_zip")


def validate_us_state(value: str) -> None:
    """Accept a US state, DC or territory by name (``Massachusetts``) or USPS code (``MA``).

    Case and surrounding spaces do not matter; the value is stored as written.
    Both spellings occur in Synthea output (patients carry names, providers and
    organizations codes). The table is django-localflavor's ``STATES_NORMALIZED``.
    Raises ``ValidationError`` (code ``invalid_state``).
    """
    if value and value.strip().lower() not in STATES_NORMALIZED:
        raise ValidationError(MSG_STATE, code="invalid_state", params={"value": value})


def validate_not_future(value: datetime.date | None) -> None:
    """Refuse a date after today (in ``TIME_ZONE``). Raises ``ValidationError`` (``future_date``).

    A database constraint cannot say this (today changes), so it lives only here.
    """
    if value and value > timezone.localdate():
        raise ValidationError(MSG_FUTURE, code="future_date", params={"value": value.isoformat()})
