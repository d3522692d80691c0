"""Writes to clinic data: one function per operation (DESIGN.md, "Writes: one path each").

Admin forms (``save_model``), admin actions, imports and management commands all
call these, so validation, history and object permissions are the same whichever
door a change comes through. Each function:

- takes keyword-only arguments, including ``actor`` (the acting ``User``, or None
  for the system) and ``reason`` (text stored as ``history_change_reason``);
- runs ``full_clean()`` and raises ``django.core.exceptions.ValidationError``
  (with a ``code``) before anything is written;
- runs in one transaction and writes one simple-history row per changed record,
  attributed to ``actor``.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from guardian.shortcuts import assign_perm, remove_perm

from clinic.models import Doctor, Organization, Patient, Sequence

#: Object permissions a doctor's login holds on each patient they are primary for.
PRIMARY_DOCTOR_PERMS = ("clinic.view_patient", "clinic.change_patient")

MSG_ALREADY_ARCHIVED = "This patient is already archived."
MSG_NOT_ARCHIVED = "This patient is not archived."
MSG_INACTIVE_DOCTOR = "Dr. %(name)s is inactive and cannot take patients."


def _attribute(obj, *, actor, reason: str) -> None:
    # simple-history reads these two attributes when it writes the historical row.
    obj._history_user = actor
    obj._change_reason = reason


def mrn_allocate(count: int = 1) -> list[str]:
    """Reserve ``count`` new medical record numbers and return them (8 digits, zero-padded).

    The counter row is bumped with one ``UPDATE ... SET value = value + count``,
    which takes the row lock (PostgreSQL) or the database write lock (SQLite)
    first, so two concurrent callers never get the same numbers. Call it inside
    the transaction that saves the patients, so a rollback returns nothing used.
    """
    if count < 1:
        return []
    Sequence.objects.get_or_create(name="mrn")
    Sequence.objects.filter(name="mrn").update(value=F("value") + count)
    last = Sequence.objects.get(name="mrn").value
    return [f"{n:08d}" for n in range(last - count + 1, last + 1)]


@transaction.atomic
def organization_save(*, organization: Organization, actor, reason: str) -> Organization:
    """Create or update an organization (clinic site).

    Args: ``organization`` (a new or changed instance), ``actor``, ``reason``.
    Returns it saved. Raises ``ValidationError`` (``full_clean``).
    """
    organization.full_clean()
    _attribute(organization, actor=actor, reason=reason)
    organization.save()
    return organization


def _doctor_patient_grants(doctor: Doctor, user, *, grant: bool) -> None:
    """Grant (or revoke) the primary-doctor permissions on all of ``doctor``'s patients."""
    if user is None:
        return
    patients = Patient.objects.filter(primary_doctor=doctor)
    if not patients.exists():
        return
    for perm in PRIMARY_DOCTOR_PERMS:
        (assign_perm if grant else remove_perm)(perm, user, patients)


@transaction.atomic
def doctor_save(*, doctor: Doctor, actor, reason: str) -> Doctor:
    """Create or update a doctor.

    When the doctor's linked login (``user``) changes, the object permissions on
    their patients move from the old login to the new one. Returns the saved
    doctor. Raises ``ValidationError`` (``full_clean``; a login already linked to
    another doctor fails the one-to-one uniqueness check).
    """
    doctor.full_clean()
    old_user = None
    if doctor.pk:
        old_user = Doctor.objects.filter(pk=doctor.pk).values_list("user", flat=True).first()
    _attribute(doctor, actor=actor, reason=reason)
    doctor.save()
    if old_user != doctor.user_id:
        from people.models import User

        _doctor_patient_grants(doctor, User.objects.filter(pk=old_user).first(), grant=False)
        _doctor_patient_grants(doctor, doctor.user, grant=True)
    return doctor


def _move_primary_doctor_grants(patient: Patient, old_doctor_id, new_doctor) -> None:
    """Revoke what the previous assignment granted; grant to the new doctor's login."""
    if old_doctor_id == (new_doctor.pk if new_doctor else None):
        return
    if old_doctor_id:
        old_user = Doctor.objects.filter(pk=old_doctor_id).values_list("user", flat=True).first()
        if old_user:
            from people.models import User

            user = User.objects.get(pk=old_user)
            for perm in PRIMARY_DOCTOR_PERMS:
                remove_perm(perm, user, patient)
    if new_doctor is not None and new_doctor.user_id:
        for perm in PRIMARY_DOCTOR_PERMS:
            assign_perm(perm, new_doctor.user, patient)


def primary_doctor_check(*, doctor: Doctor | None, previous_doctor_id: int | None) -> None:
    """Refuse a newly chosen primary doctor who is inactive (keeping one is allowed).

    Used by ``patient_save`` and by the admin's patient form, so the error shows
    on the form. Raises ``ValidationError`` keyed on ``primary_doctor``, code
    ``inactive_doctor``.
    """
    if doctor is not None and doctor.pk != previous_doctor_id and not doctor.active:
        raise ValidationError(
            {
                "primary_doctor": ValidationError(
                    MSG_INACTIVE_DOCTOR, code="inactive_doctor", params={"name": doctor.full_name}
                )
            }
        )


@transaction.atomic
def patient_save(*, patient: Patient, actor, reason: str) -> Patient:
    """Create or update a patient: the one write path for forms, imports and commands.

    A new patient gets the next MRN. ``created_by``/``updated_by`` are stamped
    with ``actor``. If ``primary_doctor`` changed, the previous doctor's login
    loses and the new doctor's login gains ``view_patient``/``change_patient`` on
    this patient (guardian object permissions).
    Returns the saved patient. Raises ``ValidationError`` (``full_clean``; an
    inactive primary doctor: code ``inactive_doctor``).
    """
    old_doctor_id = None
    if patient.pk:
        old_doctor_id = (
            Patient.objects.filter(pk=patient.pk).values_list("primary_doctor", flat=True).first()
        )
    else:
        if not patient.mrn:
            patient.mrn = mrn_allocate(1)[0]
        patient.created_by = actor
    patient.updated_by = actor
    doctor = patient.primary_doctor
    primary_doctor_check(doctor=doctor, previous_doctor_id=old_doctor_id)
    patient.full_clean()
    _attribute(patient, actor=actor, reason=reason)
    patient.save()
    _move_primary_doctor_grants(patient, old_doctor_id, doctor)
    return patient


def patient_assign_primary_doctor(
    *, patient: Patient, doctor: Doctor | None, actor, reason: str
) -> Patient:
    """Make ``doctor`` the patient's primary doctor (None unassigns).

    Grants the doctor's login ``view_patient`` and ``change_patient`` on the patient
    and revokes what the previous assignment granted. A no-op (no history row)
    when the doctor is already the primary one. Raises ``ValidationError`` as
    ``patient_save`` does.
    """
    if patient.primary_doctor_id == (doctor.pk if doctor else None):
        return patient
    patient.primary_doctor = doctor
    return patient_save(patient=patient, actor=actor, reason=reason)


def patient_archive(*, patient: Patient, actor, reason: str) -> Patient:
    """Archive a patient (the only "delete" staff get; the row and its history stay).

    Raises ``ValidationError`` (code ``already_archived``) if already archived.
    """
    if patient.status == Patient.Status.ARCHIVED:
        raise ValidationError(MSG_ALREADY_ARCHIVED, code="already_archived")
    patient.status = Patient.Status.ARCHIVED
    return patient_save(patient=patient, actor=actor, reason=reason)


def patient_restore(*, patient: Patient, actor, reason: str) -> Patient:
    """Return an archived patient to active. Raises ``ValidationError`` (``not_archived``)."""
    if patient.status != Patient.Status.ARCHIVED:
        raise ValidationError(MSG_NOT_ARCHIVED, code="not_archived")
    patient.status = Patient.Status.ACTIVE
    return patient_save(patient=patient, actor=actor, reason=reason)
