"""django-import-export Resources: the native CSV and Synthea's CSV files, for the admin and
``import_synthea``.

Native format (``OrganizationResource``, ``DoctorResource``, ``PatientResource``):
what export writes, import reads back unchanged. Columns are the model field
names; foreign keys (``organization``, ``primary_doctor``) are written as the
related row's ``external_id``; dates are ``YYYY-MM-DD``; booleans ``1``/``0``.
A patient's ``mrn`` is exported but assigned by the back office, so import
ignores it. ``ssn`` is exported masked (``***-**-6789``) to users without
``clinic.view_ssn``, and a masked SSN read back never overwrites the stored one.

Synthea formats (``SyntheaOrganizationResource``, ``SyntheaProviderResource``,
``SyntheaPatientResource``): ``organizations.csv``, ``providers.csv`` and
``patients.csv`` read unmodified, in every column version seen so far (with or
without MIDDLE, FIPS, INCOME, UTILIZATION or ENCOUNTERS/PROCEDURES). Column
meanings come from Synthea's CSV data dictionary,
https://github.com/synthetichealth/synthea/wiki/CSV-File-Data-Dictionary ; the
file syntax is RFC 4180. Columns not listed here are ignored. These formats are
import-only.

Shared behaviour (service writes, validation, row/column/value errors, row
numbering: spreadsheet rows with the header as row 1) lives in
``admin_ext.imports.resources.ServiceModelResource``.
"""

import re

from import_export.fields import Field
from import_export.widgets import IntegerWidget

from admin_ext.imports.resources import (
    ExternalIdWidget,
    ReadonlyField,
    ServiceModelResource,
    StrictDateWidget,
    TextWidget,
    changed_fields,
)
from clinic import services
from clinic.models import Doctor, Organization, Patient, mask_ssn, patient_match_key

_MASKED_SSN = re.compile(r"^\*{3}-\*{2}-(\d{4}|\*{4})$")


# -- value rules ---------------------------------------------------------------------


def normalize_zip(text: str) -> str:
    """A US ZIP code as ``12345`` or ``12345-6789``, repaired from Synthea's shapes.

    Synthea writes ZIPs as text in several shapes (see the SOURCE.md of each set
    under ``../shared/data/synthea``): 9 digits without a hyphen become ZIP+4
    (``020722571`` -> ``02072-2571``); a code that lost its leading zero to a
    spreadsheet gets it back (``2128`` -> ``02128``, 8 digits -> ZIP+4);
    ``00000`` (Synthea's "unknown") becomes ''. Anything else is kept as written.
    """
    value = (text or "").strip()
    if not value:
        return ""
    digits = value.replace("-", "")
    if not digits.isdigit():
        return value
    if set(digits) == {"0"}:
        return ""
    if len(digits) in (8, 9) and (
        len(digits) == len(value) or re.fullmatch(r"\d{4,5}-\d{4}", value)
    ):
        digits = digits.zfill(9)
        return f"{digits[:5]}-{digits[5:]}"
    if len(digits) == len(value) and 3 <= len(digits) <= 5:
        return digits.zfill(5)
    return value


def normalize_phone(text: str) -> str:
    """A phone number with its whitespace tidied, kept in the shape it came in.

    Synthea's organizations write phones as ``8595723100``, ``859-431-3624``,
    ``(781) 848-3100`` and once as ``978-342-9781 Or 978-342-9781``: runs of
    spaces collapse to one, and alternatives joined by "or" that are the same
    number become that one number. Different alternatives are kept as written.
    """
    value = " ".join((text or "").split())
    alternatives = re.split(r"\s+or\s+", value, flags=re.IGNORECASE)
    if len(alternatives) > 1:
        numbers = {re.sub(r"\D", "", a) for a in alternatives}
        if len(numbers) == 1:
            return alternatives[0]
    return value


class ZipWidget(TextWidget):
    """Synthea ZIP codes through :func:`normalize_zip`."""

    def clean(self, value, row=None, **kwargs):
        return normalize_zip(super().clean(value, row, **kwargs))


class PhoneWidget(TextWidget):
    """Synthea phone numbers through :func:`normalize_phone`."""

    def clean(self, value, row=None, **kwargs):
        return normalize_phone(super().clean(value, row, **kwargs))


class SSNField(Field):
    """A patient's SSN: masked on export and preview unless the user may see it.

    ``reveal`` is set per resource instance from the user's ``clinic.view_ssn``.
    On import a masked value (``***-**-6789``) leaves the stored SSN as it is, so
    a masked export read back changes nothing; and a user without ``view_ssn``
    never changes an existing patient's SSN (their file's SSN counts for new
    patients only), so the preview cannot serve as an SSN oracle.
    """

    reveal = False

    def save(self, instance, row, is_m2m=False, **kwargs):
        if _MASKED_SSN.match(str(self.clean(row, **kwargs) or "")):
            return
        if instance.pk and not self.reveal:
            # A user who may not read SSNs does not change a stored one: otherwise a
            # preview's "changed" or "unchanged" would tell them whether the SSN they
            # typed is the patient's (issue 6). New patients take the file's SSN.
            return
        super().save(instance, row, is_m2m, **kwargs)

    def export(self, instance, **kwargs):
        value = self.get_value(instance) or ""
        return value if self.reveal else mask_ssn(value)


class VersionField(Field):
    """A patient's ``version`` (optimistic concurrency), exported with every row.

    On import a version read from the file is the one the row was exported at:
    ``patient_save`` refuses the row when the patient was saved since (the
    ``stale`` error names what changed and who). An empty cell, or a file without
    the column, leaves the version loaded at import time.
    """

    def save(self, instance, row, is_m2m=False, **kwargs):
        if TextWidget().clean(row.get(self.column_name)):
            super().save(instance, row, is_m2m, **kwargs)


class ProviderNameField(Field):
    """Synthea's provider NAME ("First Last") into ``first_name`` and ``last_name``.

    The last whitespace-separated word is the last name and the rest the first
    name (``María del Carmen27 Garza151`` -> ``María del Carmen27`` /
    ``Garza151``); Synthea's numeric suffixes are kept. A single word raises
    ``ValueError``.
    """

    model_fields = ("first_name", "last_name")

    def save(self, instance, row, is_m2m=False, **kwargs):
        words = (self.clean(row, **kwargs) or "").split()
        if len(words) == 1:
            raise ValueError("is not a first and a last name separated by a space")
        instance.first_name = " ".join(words[:-1])
        instance.last_name = words[-1] if words else ""

    def get_value(self, instance):
        return " ".join(p for p in (instance.first_name, instance.last_name) if p)


def _text(attribute: str, column: str) -> Field:
    return Field(attribute=attribute, column_name=column, widget=TextWidget())


def _date(attribute: str, column: str) -> Field:
    return Field(attribute=attribute, column_name=column, widget=StrictDateWidget())


class _SSNMixin:
    """Sets the ``ssn`` field's ``reveal`` from the user (None, the system: revealed)."""

    def __init__(self, user=None, **kwargs):
        super().__init__(user=user, **kwargs)
        self.fields["ssn"].reveal = user is None or user.has_perm("clinic.view_ssn")


# -- native format -------------------------------------------------------------------


class OrganizationResource(ServiceModelResource):
    """Native CSV for organizations (clinic sites)."""

    column_aliases = {}
    required_columns = ("external_id", "name")

    class Meta(ServiceModelResource.Meta):
        model = Organization
        name = "Organizations (native CSV)"
        fields = ["external_id", "name", "address", "city", "state", "zip", "phone"]
        export_order = fields

    def write_batch(self, created, updated, *, actor, reason):
        services.records_bulk_save(
            model=Organization, created=created, updated=updated, actor=actor, reason=reason
        )


class DoctorResource(ServiceModelResource):
    """Native CSV for doctors; ``organization`` is the organization's external_id.

    The login link (``user``) is not part of the file.
    """

    required_columns = ("external_id", "first_name", "last_name")

    organization = Field(
        attribute="organization",
        column_name="organization",
        widget=ExternalIdWidget(Organization, source_file="the organizations file"),
    )

    class Meta(ServiceModelResource.Meta):
        model = Doctor
        name = "Doctors (native CSV)"
        fields = [
            "external_id",
            "first_name",
            "last_name",
            "gender",
            "specialty",
            "organization",
            "email",
            "phone",
            "address",
            "city",
            "state",
            "zip",
            "active",
        ]
        export_order = fields

    def write_batch(self, created, updated, *, actor, reason):
        services.records_bulk_save(
            model=Doctor, created=created, updated=updated, actor=actor, reason=reason
        )


class PatientResource(_SSNMixin, ServiceModelResource):
    """Native CSV for patients; ``primary_doctor`` is the doctor's external_id.

    ``mrn`` is exported and ignored on import (new patients get one from
    ``patient_save``); ``ssn`` follows :class:`SSNField`; ``version`` follows
    :class:`VersionField`. A new row that matches a registered patient is refused
    as a likely duplicate (naming the MRN) unless the import was confirmed with
    ``confirmed_not_duplicate=True`` (the admin's "Not duplicates" checkbox).
    """

    required_columns = ("external_id", "first_name", "last_name", "birth_date", "gender")
    system_fields = ("mrn",)

    mrn = ReadonlyField(attribute="mrn", column_name="mrn", widget=TextWidget())
    ssn = SSNField(attribute="ssn", column_name="ssn", widget=TextWidget())
    primary_doctor = Field(
        attribute="primary_doctor",
        column_name="primary_doctor",
        widget=ExternalIdWidget(Doctor, source_file="the doctors file"),
    )
    version = VersionField(attribute="version", column_name="version", widget=IntegerWidget())

    class Meta(ServiceModelResource.Meta):
        model = Patient
        name = "Patients (native CSV)"
        fields = [
            "external_id",
            "mrn",
            "prefix",
            "first_name",
            "middle_name",
            "last_name",
            "suffix",
            "maiden_name",
            "birth_date",
            "death_date",
            "gender",
            "marital_status",
            "race",
            "ethnicity",
            "ssn",
            "address",
            "city",
            "state",
            "county",
            "zip",
            "primary_doctor",
            "status",
            "version",
        ]
        export_order = fields

    def import_data(self, dataset, *args, confirmed_not_duplicate: bool = False, **kwargs):
        """import-export's ``import_data``; ``confirmed_not_duplicate`` lets likely
        duplicates in (each such row's history reason records the confirmation)."""
        self.confirmed_not_duplicate = confirmed_not_duplicate
        self._dataset = dataset
        self._duplicates = None
        return super().import_data(dataset, *args, **kwargs)

    def check_instance(self, instance, stored):
        """``clinic.services.patient_check`` for one row, against a duplicate index
        loaded once for every new row of the file (one query per 500 rows)."""
        if self._duplicates is None:
            self._duplicates = self._load_duplicates()
        instance._import_row = self._line(self._rows_done + 1)
        suffix = services.patient_check(
            patient=instance,
            stored=stored,
            actor=self._actor,
            duplicates=self._duplicates,
            confirmed_not_duplicate=self.confirmed_not_duplicate,
        )
        if suffix:
            instance._change_reason = self.reason(self._file_name) + suffix
        if stored is None:
            self._duplicates.add(instance)

    def _load_duplicates(self) -> services.DuplicateIndex:
        """A :class:`~clinic.services.DuplicateIndex` holding the registered patients
        who share a match key with any row of the file that is not a stored patient."""
        index = services.DuplicateIndex()
        dataset, fields = self._dataset, self.fields
        headers = dataset.headers or []
        columns = [fields[n].column_name for n in ("first_name", "last_name", "birth_date")]
        if not all(c in headers for c in columns):
            return index
        known = self._instance_loader.known_keys()
        id_column = fields["external_id"].column_name
        id_index = headers.index(id_column) if id_column in headers else None
        first, last, born = (headers.index(c) for c in columns)
        dates = StrictDateWidget()
        keys = []
        for cells in dataset:
            if id_index is not None and TextWidget().clean(cells[id_index]) in known:
                continue
            try:
                birth_date = dates.clean(cells[born])
            except ValueError:
                continue
            keys.append(
                patient_match_key(str(cells[first] or ""), str(cells[last] or ""), birth_date)
            )
        index.load(keys)
        return index

    def write_batch(self, created, updated, *, actor, reason):
        services.patients_bulk_save(
            created=created,
            updated=updated,
            actor=actor,
            reason=reason,
            fields=changed_fields(updated),
        )


# -- Synthea formats -----------------------------------------------------------------


class SyntheaOrganizationResource(OrganizationResource):
    """Synthea ``organizations.csv``: Id, NAME, ADDRESS, CITY, STATE, ZIP, PHONE (others ignored)."""

    exportable = False
    required_columns = ("external_id", "name")

    external_id = _text("external_id", "Id")
    name = _text("name", "NAME")
    address = _text("address", "ADDRESS")
    city = _text("city", "CITY")
    state = _text("state", "STATE")
    zip = Field(attribute="zip", column_name="ZIP", widget=ZipWidget())
    phone = Field(attribute="phone", column_name="PHONE", widget=PhoneWidget())

    class Meta(OrganizationResource.Meta):
        name = "Synthea organizations.csv"


class SyntheaProviderResource(DoctorResource):
    """Synthea ``providers.csv`` to doctors: Id, ORGANIZATION, NAME, GENDER, SPECIALITY,
    ADDRESS, CITY, STATE, ZIP (others, e.g. UTILIZATION or ENCOUNTERS, ignored).

    NAME is split by :class:`ProviderNameField`; SPECIALITY (Synthea's spelling;
    SPECIALTY is accepted too) becomes ``specialty``; ORGANIZATION is an
    organization's external_id and must already exist.
    """

    exportable = False
    column_aliases = {"specialty": ("SPECIALITY", "SPECIALTY")}
    required_columns = ("external_id", "name")

    external_id = _text("external_id", "Id")
    organization = Field(
        attribute="organization",
        column_name="ORGANIZATION",
        widget=ExternalIdWidget(Organization, source_file="organizations.csv"),
    )
    name = ProviderNameField(attribute="first_name", column_name="NAME", widget=TextWidget())
    gender = _text("gender", "GENDER")
    specialty = _text("specialty", "SPECIALITY")
    address = _text("address", "ADDRESS")
    city = _text("city", "CITY")
    state = _text("state", "STATE")
    zip = Field(attribute="zip", column_name="ZIP", widget=ZipWidget())

    class Meta(DoctorResource.Meta):
        name = "Synthea providers.csv"
        fields = [
            "external_id",
            "organization",
            "name",
            "gender",
            "specialty",
            "address",
            "city",
            "state",
            "zip",
        ]
        export_order = fields


class SyntheaPatientResource(PatientResource):
    """Synthea ``patients.csv``: Id, BIRTHDATE, DEATHDATE, SSN, PREFIX, FIRST, MIDDLE
    (optional: only newer Synthea writes it), LAST, SUFFIX, MAIDEN, MARITAL, RACE,
    ETHNICITY, GENDER, ADDRESS, CITY, STATE, COUNTY, ZIP (others, e.g. DRIVERS, FIPS,
    INCOME, ignored). Names are kept as written, numeric suffixes included.
    """

    exportable = False
    required_columns = ("external_id", "first_name", "last_name", "birth_date", "gender")

    external_id = _text("external_id", "Id")
    birth_date = _date("birth_date", "BIRTHDATE")
    death_date = _date("death_date", "DEATHDATE")
    ssn = SSNField(attribute="ssn", column_name="SSN", widget=TextWidget())
    prefix = _text("prefix", "PREFIX")
    first_name = _text("first_name", "FIRST")
    middle_name = _text("middle_name", "MIDDLE")
    last_name = _text("last_name", "LAST")
    suffix = _text("suffix", "SUFFIX")
    maiden_name = _text("maiden_name", "MAIDEN")
    marital_status = _text("marital_status", "MARITAL")
    race = _text("race", "RACE")
    ethnicity = _text("ethnicity", "ETHNICITY")
    gender = _text("gender", "GENDER")
    address = _text("address", "ADDRESS")
    city = _text("city", "CITY")
    state = _text("state", "STATE")
    county = _text("county", "COUNTY")
    zip = Field(attribute="zip", column_name="ZIP", widget=ZipWidget())

    #: Set by ``clinic.synthea.import_folder`` when the folder has ``encounters.csv``:
    #: each patient's primary provider (patient Id to provider Id) and the doctors by
    #: Id, so a new patient is created with their primary doctor (one history row)
    #: instead of being created and then assigned (two).
    primary_provider_of: dict[str, str] | None = None
    doctors: dict[str, Doctor] | None = None
    #: How many rows got a primary doctor from ``primary_provider_of`` (new or changed).
    doctors_assigned = 0

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        if self.primary_provider_of is not None:
            doctor = self.doctors.get(self.primary_provider_of.get(instance.external_id))
            if doctor is not None and doctor.pk != instance.primary_doctor_id:
                instance.primary_doctor = doctor
                self.doctors_assigned += 1

    class Meta(PatientResource.Meta):
        name = "Synthea patients.csv"
        fields = [
            "external_id",
            "birth_date",
            "death_date",
            "ssn",
            "prefix",
            "first_name",
            "middle_name",
            "last_name",
            "suffix",
            "maiden_name",
            "marital_status",
            "race",
            "ethnicity",
            "gender",
            "address",
            "city",
            "state",
            "county",
            "zip",
        ]
        export_order = fields
