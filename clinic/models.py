"""Clinic data: sites (``Organization``), ``Doctor`` and ``Patient``, with their querysets.

Field meanings follow Synthea's CSV columns (https://github.com/synthetichealth/synthea/wiki/CSV-File-Data-Dictionary):
``external_id`` holds Synthea's ``Id`` (a UUID), so re-importing matches rows.
Writes go through ``clinic/services.py``; do not call ``save()`` from views.
"""

import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from simple_history.models import HistoricalRecords

from clinic.querysets import DoctorQuerySet, PatientQuerySet
from clinic.validators import (
    SSN_PATTERN,
    ZIP_PATTERN,
    validate_not_future,
    validate_ssn,
    validate_us_state,
    validate_zip,
)

#: The attribute that marks an instance whose "-" history row was already written in
#: bulk (:class:`BulkDeleteHistoricalRecords`).
HISTORY_WRITTEN = "_history_written"


class BulkDeleteHistoricalRecords(HistoricalRecords):
    """simple-history records for rows that services delete in bulk (object-permission grants).

    simple-history writes a deleted row's history from Django's ``post_delete``: one
    ``INSERT`` per row, attributed to the request's user if any and with no reason (it
    has no bulk delete: django-simple-history issue #717). ``clinic.services`` deletes
    grants in bulk instead: it writes their "-" rows in one ``bulk_create`` with the
    actor and reason and marks each deleted instance ``_history_written``; this
    receiver skips those. Any other delete (a patient's cascade) still gets its row.
    """

    def post_delete(self, instance, using=None, **kwargs):
        """simple-history's receiver, unless the instance's row was already written."""
        if getattr(instance, HISTORY_WRITTEN, False):
            return
        super().post_delete(instance, using=using, **kwargs)


def _history(*, records_class=HistoricalRecords, **kwargs) -> HistoricalRecords:
    """simple-history records whose change reason (text, as settings'
    ``SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD`` makes it everywhere) is
    indexed: an import job's page finds the rows it wrote by their reason ("Import #12").
    ``records_class`` is ``HistoricalRecords`` or :class:`BulkDeleteHistoricalRecords`."""
    return records_class(
        history_change_reason_field=models.TextField(null=True, db_index=True),
        **kwargs,
    )


def _imported_history(*, excluded_fields: list[str]) -> HistoricalRecords:
    """:func:`_history` for the models imports write by the thousand (organizations,
    doctors, patients): the history table copies the record's columns without their
    indexes (simple-history's ``no_db_index``).

    Every index is one more write per history row, and nothing reads history by a
    copied column but the record's key, which the audit trail's
    ``(id, history_date, history_id)`` index serves
    (``admin_ext/audit/migrations/0002``). Measured on the Synthea import
    (``make bench``, ``import_new``): docs/operations.md.
    """
    return _history(excluded_fields=excluded_fields, no_db_index=_EveryField())


class _EveryField:
    """simple-history's ``no_db_index`` asks ``name in no_db_index`` of each copied
    field; this answers yes to all of them."""

    def __contains__(self, name) -> bool:
        return True


def _import_digest() -> models.CharField:
    """``import_digest``: a hash of the file row an import last wrote this record from
    (``admin_ext.imports.resources.ServiceModelResource.row_digest``). A re-import of
    the same row skips the record without reading it field by field; every other save
    clears it (the services), so a record changed since is compared in full."""
    return models.CharField(
        _("import digest"), max_length=32, blank=True, default="", editable=False
    )


class Gender(models.TextChoices):
    """Administrative gender as Synthea writes it (``M``/``F``)."""

    FEMALE = "F", _("Female")
    MALE = "M", _("Male")
    OTHER = "O", _("Other")
    UNKNOWN = "U", _("Unknown")


class Organization(models.Model):
    """A clinic site (Synthea ``organizations.csv``)."""

    external_id = models.CharField(_("external ID"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=50, blank=True, validators=[validate_us_state])
    zip = models.CharField(_("ZIP"), max_length=10, blank=True, validators=[validate_zip])
    phone = models.CharField(_("phone"), max_length=60, blank=True)
    import_digest = _import_digest()

    history = _imported_history(excluded_fields=["import_digest"])

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]
        permissions = [
            ("import_organization", "Can import organizations"),
            ("export_organization", "Can export organizations"),
        ]

    def __str__(self):
        return f"{self.name} ({self.city}, {self.state})" if self.city else self.name


class Doctor(models.Model):
    """A provider (Synthea ``providers.csv``), optionally linked to a login ``User``.

    A doctor with a linked user can sign in and sees the patients whose primary
    doctor they are (object permissions granted by the assignment service).
    """

    external_id = models.CharField(_("external ID"), max_length=64, unique=True)
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    specialty = models.CharField(_("specialty"), max_length=100, blank=True)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="doctors",
        verbose_name=_("organization"),
    )
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=60, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=50, blank=True, validators=[validate_us_state])
    zip = models.CharField(_("ZIP"), max_length=10, blank=True, validators=[validate_zip])
    active = models.BooleanField(_("active"), default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="doctor",
        verbose_name=_("login"),
    )
    import_digest = _import_digest()

    objects = DoctorQuerySet.as_manager()
    history = _imported_history(excluded_fields=["import_digest"])

    class Meta:
        verbose_name = _("doctor")
        verbose_name_plural = _("doctors")
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["last_name", "first_name"])]
        permissions = [
            ("import_doctor", "Can import doctors"),
            ("export_doctor", "Can export doctors"),
        ]

    def __str__(self):
        return f"Dr. {self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


MSG_DEATH_BEFORE_BIRTH = "The death date is before the birth date."
MSG_DEAD_ACTIVE = "A patient with a death date cannot be active."
MSG_DECEASED_NO_DATE = "A deceased patient needs a death date."

# Kept by name so the work-queue proxies below can share its post_save receiver.
# match_key is derived from the name and birth date (no information of its own).
_patient_history = _imported_history(excluded_fields=["updated_at", "match_key", "import_digest"])


def normalized_name(text: str) -> str:
    """A name reduced for duplicate matching: accents, case, spaces and punctuation dropped.

    ``"José-Luis O'Keefe"`` and ``"jose luis okeefe"`` compare equal; digits stay, so
    Synthea's numeric suffixes (``Guy979``) keep generated people apart.
    """
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed.casefold() if ch.isalnum())


def patient_match_key(first_name: str, last_name: str, birth_date) -> str:
    """The duplicate-matching key of a patient: ``"1980-05-17|ann|patel"``.

    Birth date (ISO 8601: a ``date`` or its text) and :func:`normalized_name` of the
    first and last names;
    '' without a birth date. Stored in ``Patient.match_key`` (indexed), so checking
    a whole import file for likely duplicates is one ``IN`` lookup per chunk of keys.
    """
    if not birth_date:
        return ""
    return f"{birth_date}|{normalized_name(first_name)}|{normalized_name(last_name)}"


class Patient(models.Model):
    """A patient (Synthea ``patients.csv``) with a medical record number and a primary doctor.

    ``status`` is ``active``, ``deceased`` (set by ``patient_save`` when a death date
    is recorded) or ``archived``; archiving is the only "delete" staff get.
    ``external_id`` is optional (a walk-in has none) and unique when present.
    ``ssn`` is PHI: shown masked to users without ``clinic.view_ssn``.
    ``version`` counts saves, for optimistic concurrency: a save carrying an older
    version than the stored one is refused (``clinic.services.patient_save``).

    Rules that hold whatever the door (``clean()`` and, where the database can,
    ``Meta.constraints``): birth and death dates not in the future, death date not
    before birth date, SSN shaped ``NNN-NN-NNNN``, ZIP ``12345[-6789]``, state a US
    state, a patient with a death date is not active and a deceased one has one.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        DECEASED = "deceased", _("Deceased")
        ARCHIVED = "archived", _("Archived")

    class MaritalStatus(models.TextChoices):
        MARRIED = "M", _("Married")
        SINGLE = "S", _("Single")
        DIVORCED = "D", _("Divorced")
        WIDOWED = "W", _("Widowed")

    external_id = models.CharField(
        _("external ID"),
        max_length=64,
        unique=True,
        null=True,
        blank=True,
        help_text=_("The ID in the source system (Synthea Id); empty for a walk-in."),
    )
    mrn = models.CharField(
        _("MRN"),
        max_length=20,
        unique=True,
        editable=False,
        help_text=_("Medical record number, assigned by the back office."),
    )
    prefix = models.CharField(_("prefix"), max_length=20, blank=True)
    first_name = models.CharField(_("first name"), max_length=100)
    middle_name = models.CharField(_("middle name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100)
    suffix = models.CharField(_("suffix"), max_length=20, blank=True)
    maiden_name = models.CharField(_("maiden name"), max_length=100, blank=True)
    birth_date = models.DateField(_("birth date"), validators=[validate_not_future])
    death_date = models.DateField(
        _("death date"), null=True, blank=True, validators=[validate_not_future]
    )
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices)
    marital_status = models.CharField(
        _("marital status"), max_length=1, choices=MaritalStatus.choices, blank=True
    )
    race = models.CharField(_("race"), max_length=50, blank=True)
    ethnicity = models.CharField(_("ethnicity"), max_length=50, blank=True)
    ssn = models.CharField(_("SSN"), max_length=11, blank=True, validators=[validate_ssn])
    address = models.CharField(_("address"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=50, blank=True, validators=[validate_us_state])
    county = models.CharField(_("county"), max_length=100, blank=True)
    zip = models.CharField(_("ZIP"), max_length=10, blank=True, validators=[validate_zip])
    primary_doctor = models.ForeignKey(
        Doctor,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="patients",
        verbose_name=_("primary doctor"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    version = models.PositiveIntegerField(
        _("version"), default=1, editable=False, help_text=_("Number of saves, for concurrency.")
    )
    match_key = models.CharField(
        _("duplicate-matching key"),
        max_length=255,
        default="",
        editable=False,
        db_index=True,
        help_text=_("Birth date and normalized names (patient_match_key); set on every save."),
    )
    import_digest = _import_digest()
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("updated by"),
    )

    objects = PatientQuerySet.as_manager()
    history = _patient_history

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["last_name", "first_name", "id"]),
            models.Index(fields=["birth_date"]),
        ]
        permissions = [
            ("view_ssn", "Can view unmasked SSNs"),
            ("enter_ssn", "Can enter the SSN of a new patient (write-only)"),
            ("share_patient", "Can share any patient with a colleague"),
            ("import_patient", "Can import patients"),
            ("export_patient", "Can export patients"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(death_date__isnull=True) | Q(death_date__gte=F("birth_date")),
                name="patient_death_not_before_birth",
                violation_error_message=MSG_DEATH_BEFORE_BIRTH,
            ),
            models.CheckConstraint(
                condition=Q(ssn="") | Q(ssn__regex=SSN_PATTERN),
                name="patient_ssn_shape",
            ),
            models.CheckConstraint(
                condition=Q(zip="") | Q(zip__regex=ZIP_PATTERN),
                name="patient_zip_shape",
            ),
            models.CheckConstraint(
                condition=Q(death_date__isnull=True) | ~Q(status="active"),
                name="patient_dead_not_active",
                violation_error_message=MSG_DEAD_ACTIVE,
            ),
            models.CheckConstraint(
                condition=~Q(status="deceased") | Q(death_date__isnull=False),
                name="patient_deceased_has_death_date",
                violation_error_message=MSG_DECEASED_NO_DATE,
            ),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="patient_external_id_not_empty"
            ),
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name} ({self.mrn})"

    def save(self, *args, **kwargs):
        """Save, keeping ``match_key`` in step with the names and birth date whatever the
        caller (``clean()`` sets it too, for bulk writes, which do not call ``save``)."""
        self.match_key = patient_match_key(self.first_name, self.last_name, self.birth_date)
        super().save(*args, **kwargs)

    def clean(self):
        """Normalize and check the rules that span fields (Django's ``Model.clean``).

        - an empty external ID is stored as NULL, so any number of walk-ins fit
          the unique index;
        - ``match_key`` is derived from the names and birth date;
        - recording a death date on an active patient makes them deceased (the
          status is derived, as Django's docs derive ``pub_date`` in ``clean``);
        - raises ``ValidationError`` keyed on ``death_date`` when the death date is
          before the birth date, or a deceased patient has no death date.
        """
        if self.external_id == "":
            self.external_id = None
        self.match_key = patient_match_key(self.first_name, self.last_name, self.birth_date)
        if self.death_date and self.status == self.Status.ACTIVE:
            self.status = self.Status.DECEASED
        errors = {}
        if self.death_date and self.birth_date and self.death_date < self.birth_date:
            errors["death_date"] = ValidationError(
                MSG_DEATH_BEFORE_BIRTH, code="death_before_birth"
            )
        elif self.status == self.Status.DECEASED and not self.death_date:
            errors["death_date"] = ValidationError(MSG_DECEASED_NO_DATE, code="deceased_no_date")
        if errors:
            raise ValidationError(errors)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name) if p)

    @property
    def masked_ssn(self) -> str:
        """The SSN with all but the last four digits hidden (``***-**-6789``), or ''."""
        return mask_ssn(self.ssn)


def mask_ssn(ssn: str) -> str:
    """Mask an SSN to ``***-**-NNNN`` (last four digits kept); '' stays ''.

    The masking rule is DESIGN.md's PHI rule; the last-four convention is the usual
    one for SSNs on screens and statements.
    """
    if not ssn:
        return ""
    digits = "".join(ch for ch in ssn if ch.isdigit())
    return f"***-**-{digits[-4:]}" if len(digits) >= 4 else "***-**-****"


class UnassignedPatient(Patient):
    """Work queue: active patients without a primary doctor (admin proxy)."""

    class Meta:
        proxy = True
        verbose_name = _("unassigned patient")
        verbose_name_plural = _("unassigned patients")


class ArchivedPatient(Patient):
    """Work queue: archived patients, restorable (admin proxy)."""

    class Meta:
        proxy = True
        verbose_name = _("archived patient")
        verbose_name_plural = _("archived patients")


# simple-history listens to Patient's own post_save, and Django sends a proxy
# instance's save with the proxy as sender: a patient saved from a work queue
# (unassigned, archived) would get no history row (django-simple-history #191).
# Route the proxies' saves to the same receiver; rows land in HistoricalPatient.
for _proxy in (UnassignedPatient, ArchivedPatient):
    post_save.connect(
        _patient_history.post_save,
        sender=_proxy,
        weak=False,
        dispatch_uid=f"clinic_history_{_proxy._meta.model_name}",
    )


class PatientUserObjectPermission(UserObjectPermissionBase):
    """guardian's per-user patient grant with a real foreign key.

    A direct FK (instead of guardian's generic ``object_pk`` text column) lets
    ``visible_to`` join on an indexed integer; see guardian's "Direct foreign keys"
    docs (https://django-guardian.readthedocs.io/en/stable/userguide/performance.html).

    History: one row per grant ("+") and revoke ("-"), with the actor and reason,
    written by ``clinic.services`` (who may see a patient is as much part of the
    audit trail as what changed on it: HIPAA 45 CFR 164.312(b)).
    """

    content_object = models.ForeignKey(Patient, on_delete=models.CASCADE)

    history = _history(records_class=BulkDeleteHistoricalRecords)


class PatientGroupObjectPermission(GroupObjectPermissionBase):
    """guardian's per-group patient grant with a real foreign key and history (see above)."""

    content_object = models.ForeignKey(Patient, on_delete=models.CASCADE)

    history = _history(records_class=BulkDeleteHistoricalRecords)


class PatientShare(models.Model):
    """Access to one patient shared with a covering colleague (a user) or a team (a group).

    The access itself is a django-guardian object permission (``view_patient``,
    plus ``change_patient`` when ``can_change``) granted and revoked by
    ``clinic.services``; this row keeps who shared it, why and until when, so a
    share can expire (``expires_at``: it stops working at that moment and
    ``manage.py expire_shares`` removes its grants) and be audited. Exactly one
    of ``user`` and ``group`` is set.
    """

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="shares", verbose_name=_("patient")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="patient_shares",
        verbose_name=_("colleague"),
    )
    group = models.ForeignKey(
        "auth.Group",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="patient_shares",
        verbose_name=_("team"),
    )
    can_change = models.BooleanField(_("may change"), default=False)
    reason = models.CharField(_("reason"), max_length=500)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("shared at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("shared by"),
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    history = _history()

    class Meta:
        verbose_name = _("patient share")
        verbose_name_plural = _("patient shares")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(group__isnull=True))
                | (Q(user__isnull=True) & Q(group__isnull=False)),
                name="patientshare_user_xor_group",
                violation_error_message="Share with either a colleague or a team.",
            )
        ]

    def __str__(self):
        who = self.user or self.group
        return f"{self.patient} shared with {who}"


class Sequence(models.Model):
    """A named counter (MRN numbers); bumped only by ``clinic.services.mrn_allocate``."""

    name = models.CharField(max_length=50, unique=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.name}={self.value}"
