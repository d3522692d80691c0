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
- when it changes what the admin dashboard counts (patients, doctors, grants),
  calls ``admin_ext.dashboard.cache.counts_changed()``, so no dashboard shows the
  numbers from before the commit.
"""

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, router, transaction
from django.db.models import F, QuerySet
from django.db.models.deletion import Collector
from django.utils import timezone
from django.utils.text import capfirst, get_text_list
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from admin_ext.audit.models import AccessLog
from admin_ext.audit.services import log_access, request_of
from admin_ext.dashboard.cache import counts_changed
from clinic.models import (
    HISTORY_WRITTEN,
    Doctor,
    Organization,
    Patient,
    PatientGroupObjectPermission,
    PatientShare,
    PatientUserObjectPermission,
    Sequence,
)
from clinic.querysets import lapsed_shares_q, live_shares_q

#: Object permissions a doctor's login holds on each patient they are primary for.
PRIMARY_DOCTOR_PERMS = ("clinic.view_patient", "clinic.change_patient")

MSG_ALREADY_ARCHIVED = "This patient is already archived."
MSG_NOT_ARCHIVED = "This patient is not archived."
MSG_INACTIVE_DOCTOR = "Dr. %(name)s is inactive and cannot take patients."
MSG_STALE = (
    "This patient was changed after you opened or exported it: %(changes)s. Nothing was saved."
)
MSG_STALE_IMPORT = (
    "%(patients)s changed after the import read them (someone saved them meanwhile). "
    "Nothing was imported; preview the file again."
)
MSG_NOT_PERMITTED_FIELD = (
    "Only staff who manage all patients may change the %(field)s; ask the front desk."
)
MSG_LIKELY_DUPLICATE = (
    "This looks like a patient already registered: %(matches)s. "
    "If it is a different person, confirm that it is not a duplicate and save again."
)

#: Fields only holders of the model-wide ``clinic.change_patient`` may change. A user
#: who reaches a patient through an object grant (their doctor, a covering
#: colleague) edits the clinical-contact fields, never who looks after the patient,
#: whether the record is current, or how it is identified (issue 5, item 5).
MANAGED_PATIENT_FIELDS = ("primary_doctor", "status", "external_id")


class StaleRecordError(ValidationError):
    """A save from a form or file that carried an older ``version`` than the stored one.

    ``changes`` lists what was saved meanwhile, as :func:`patient_changes_since`
    returns it. Made by :func:`stale_record_error`.
    """

    def __init__(self, message, *, changes):
        super().__init__(message, code="stale")
        self.changes = changes


class LikelyDuplicateError(ValidationError):
    """A new (or re-identified) patient who matches patients already registered.

    ``matches`` is the list of those patients. Raised by ``patient_save`` unless
    the caller passes ``confirmed_not_duplicate=True``.
    """

    def __init__(self, message, *, matches, params):
        super().__init__(message, code="likely_duplicate", params=params)
        self.matches = matches


def _attribute(obj, *, actor, reason: str) -> None:
    # simple-history reads these two attributes when it writes the historical row.
    obj._history_user = actor
    obj._change_reason = reason


#: The PostgreSQL sequence MRNs come from (clinic migration 0004).
MRN_SEQUENCE = "clinic_patient_mrn_seq"


def mrn_allocate(count: int = 1) -> list[str]:
    """Reserve ``count`` new medical record numbers and return them (8 digits, zero-padded).

    Numbers are never handed out twice; gaps are allowed (DESIGN.md, "Concurrency").

    - PostgreSQL: one ``SELECT nextval(...) FROM generate_series(1, count)`` on the
      MRN sequence. ``nextval`` is outside transactions: it never waits for another
      transaction and is not rolled back, so a long import does not hold up the
      front desk's "Add patient" (issue 6), and a rolled-back import leaves a gap.
    - SQLite: one ``UPDATE ... SET value = value + count`` on the counter row. SQLite
      has one writer at a time, so the import's own transaction already excludes
      other writers; the block keeps it to one statement per batch.

    Returns ``[]`` for ``count < 1``.
    """
    if count < 1:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [MRN_SEQUENCE, count])
            numbers = sorted(row[0] for row in cursor.fetchall())
        return [f"{n:08d}" for n in numbers]
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
    organization.import_digest = ""  # no longer the file row it may have come from
    _attribute(organization, actor=actor, reason=reason)
    organization.save()
    return organization


# -- object-permission grants ---------------------------------------------------------
#
# A grant is a guardian row (PatientUserObjectPermission, PatientGroupObjectPermission:
# holder, permission, patient). Every grant and revoke goes through _grants_add and
# _grants_remove: the rows' history in bulk, with the actor and reason, and one
# access-log row per holder and operation (DESIGN.md, "Audit": "per permission grant or
# revoke"; HIPAA 45 CFR 164.312(b)). Callers hold the patients' row locks (as
# patients_share, patient_save and patients_bulk_save do), so two transactions never
# insert the same grant row.

#: ``detail["via"]`` of a grant's access-log row: what the access comes from.
VIA_PRIMARY_DOCTOR = "primary doctor"
VIA_SHARE = "share"

#: At most this many patient ids are listed in a grant's access-log row (``detail["patients"]``
#: always counts them all).
LOGGED_PATIENT_IDS = 100

#: Patients per lookup of the grant tables (SQLite's limit on query parameters).
_GRANT_CHUNK = 500


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _grant_table(holder) -> tuple[type, str]:
    """The grant model for ``holder`` (a ``User`` or a ``Group``) and its holder column."""
    if isinstance(holder, Group):
        return PatientGroupObjectPermission, "group_id"
    return PatientUserObjectPermission, "user_id"


def _patient_permissions(perms) -> dict[str, Permission]:
    """``{"clinic.view_patient": <Permission>, ...}`` for the dotted names ``perms`` (one query)."""
    codenames = {perm.split(".", 1)[1] for perm in perms}
    found = Permission.objects.filter(
        content_type=ContentType.objects.get_for_model(Patient), codename__in=codenames
    )
    return {f"{Patient._meta.app_label}.{p.codename}": p for p in found}


def _log_grants(
    action, rows, *, holders: dict, names: dict, actor, reason: str, via: str, patient=None
) -> None:
    """One ``grant``/``revoke`` access-log row per holder among ``rows`` (grant instances
    of one model; ``holders`` maps their holder ids to the users or groups, ``names``
    their permission ids to dotted names).

    ``detail``: ``patients`` (count), ``patient_ids`` (at most :data:`LOGGED_PATIENT_IDS`),
    ``user`` or ``group`` (``{"id", "label"}``), ``permissions`` (dotted names),
    ``reason`` and ``via``. The record is the patient when there is one (``patient``,
    else read), the ``Patient`` model otherwise.
    """
    column = _grant_table(next(iter(holders.values())))[1]
    by_holder: dict[int, list] = {}
    for row in rows:
        by_holder.setdefault(getattr(row, column), []).append(row)
    kind = "group" if column == "group_id" else "user"
    for holder_id, held in by_holder.items():
        patient_ids = sorted({row.content_object_id for row in held})
        if len(patient_ids) == 1 and (patient is None or patient.pk != patient_ids[0]):
            patient = Patient.objects.filter(pk=patient_ids[0]).first()
        record = {"obj": patient} if len(patient_ids) == 1 and patient else {"model": Patient}
        log_access(
            action=action,
            request=request_of(actor),
            actor=actor,
            **record,
            detail={
                "patients": len(patient_ids),
                "patient_ids": patient_ids[:LOGGED_PATIENT_IDS],
                kind: {"id": holder_id, "label": str(holders[holder_id])},
                "permissions": sorted({names[row.permission_id] for row in held}),
                "reason": reason,
                "via": via,
            },
        )


def _grants_add(grants: dict, *, actor, reason: str, via: str, patient=None) -> int:
    """Give each holder in ``grants`` its permissions on its patients; rows already there stay.

    ``grants`` maps a holder (a ``User`` or a ``Group``; None is skipped) to
    ``{patient id: dotted permission names}``. Each row inserted gets a "+" history row
    (``actor``, ``reason``), and each holder who gained a row one ``grant`` access-log
    row (:func:`_log_grants`; ``via`` says what the access comes from, ``patient`` is
    the one patient concerned if known). A few statements per 500 patients whatever
    the count: one lookup of the rows already there, then the rows and their history
    with ``bulk_create_with_history``. Returns the number of rows inserted.
    """
    grants = {holder: wanted for holder, wanted in grants.items() if holder is not None and wanted}
    if not grants:
        return 0
    permissions = _patient_permissions(
        {name for wanted in grants.values() for names in wanted.values() for name in names}
    )
    names = {p.pk: name for name, p in permissions.items()}
    inserted = 0
    for model in (PatientUserObjectPermission, PatientGroupObjectPermission):
        held = {h: wanted for h, wanted in grants.items() if _grant_table(h)[0] is model}
        if not held:
            continue
        column = _grant_table(next(iter(held)))[1]
        keys = {
            (holder.pk, permissions[name].pk, patient_id)
            for holder, wanted in held.items()
            for patient_id, perm_names in wanted.items()
            for name in perm_names
        }
        there = set()
        for chunk in _chunks(sorted({key[2] for key in keys}), _GRANT_CHUNK):
            there.update(
                model.objects.filter(
                    content_object_id__in=chunk,
                    permission_id__in=names,
                    **{f"{column}__in": [holder.pk for holder in held]},
                ).values_list(column, "permission_id", "content_object_id")
            )
        rows = []
        for holder_id, permission_id, patient_id in sorted(keys - there):
            row = model(
                **{column: holder_id}, permission_id=permission_id, content_object_id=patient_id
            )
            _attribute(row, actor=actor, reason=reason)
            rows.append(row)
        if not rows:
            continue
        bulk_create_with_history(
            rows, model, batch_size=1000, default_user=actor, default_change_reason=reason
        )
        _log_grants(
            AccessLog.Action.GRANT,
            rows,
            holders={holder.pk: holder for holder in held},
            names=names,
            actor=actor,
            reason=reason,
            via=via,
            patient=patient,
        )
        inserted += len(rows)
    return inserted


def _grants_remove(rows: list, *, holder, names: dict, actor, reason: str, via: str, patient=None):
    """Delete the grant ``rows`` (instances of one grant model, all of ``holder``).

    Their "-" history rows (``actor``, ``reason``) are written in one bulk insert, the
    way ``bulk_history_create`` writes "+" and "~" rows (simple-history has no bulk
    delete); the rows are then deleted through Django's ``Collector`` with those very
    instances, marked ``HISTORY_WRITTEN`` so the ``post_delete`` receiver does not write
    them again (``clinic.models.BulkDeleteHistoricalRecords``). One ``revoke``
    access-log row for the holder. ``names`` maps permission ids to dotted names.
    Returns the number of rows deleted.
    """
    if not rows:
        return 0
    model = type(rows[0])
    history = model.history.model
    now = timezone.now()
    history.objects.bulk_create(
        [
            history(
                history_date=now,
                history_type="-",
                history_user=actor,
                history_change_reason=reason,
                **{field.attname: getattr(row, field.attname) for field in history.tracked_fields},
            )
            for row in rows
        ],
        batch_size=1000,
    )
    for row in rows:
        setattr(row, HISTORY_WRITTEN, True)
    collector = Collector(using=router.db_for_write(model))
    collector.collect(rows)
    collector.delete()
    _log_grants(
        AccessLog.Action.REVOKE,
        rows,
        holders={holder.pk: holder},
        names=names,
        actor=actor,
        reason=reason,
        via=via,
        patient=patient,
    )
    return len(rows)


def _revoke_primary_doctor_grants(user, patient_ids, *, actor, reason: str, patient=None) -> None:
    """Take ``user``'s primary-doctor grants on ``patient_ids`` away, keeping what a live
    share of theirs on the same patient still grants (a covering colleague who was
    also the primary doctor keeps the access the share gave them).

    One query for the shares, one per 500 patients for the rows, then the bulk delete
    with history and one access-log row (:func:`_grants_remove`), whatever the count.
    """
    patient_ids = list(patient_ids)
    if user is None or not patient_ids:
        return
    kept = _perms_live_shares_grant(patient_ids=patient_ids, now=timezone.now(), user_id=user.pk)
    permissions = _patient_permissions(PRIMARY_DOCTOR_PERMS)
    names = {p.pk: name for name, p in permissions.items()}
    rows = []
    for chunk in _chunks(patient_ids, _GRANT_CHUNK):
        rows += [
            row
            for row in PatientUserObjectPermission.objects.filter(
                user=user, permission_id__in=names, content_object_id__in=chunk
            )
            if names[row.permission_id] not in kept.get(row.content_object_id, ())
        ]
    _grants_remove(
        rows,
        holder=user,
        names=names,
        actor=actor,
        reason=reason,
        via=VIA_PRIMARY_DOCTOR,
        patient=patient,
    )


def _doctor_patient_grants(doctor: Doctor, user, *, grant: bool, actor, reason: str) -> None:
    """Grant (or revoke) the primary-doctor permissions on all of ``doctor``'s patients.

    The patients' rows are locked first, as every other grant path holds them.
    """
    if user is None:
        return
    patient_ids = list(
        Patient.objects.filter(primary_doctor=doctor)
        .order_by("pk")
        .select_for_update()
        .values_list("pk", flat=True)
    )
    if not grant:
        _revoke_primary_doctor_grants(user, patient_ids, actor=actor, reason=reason)
        return
    _grants_add(
        {user: {pk: PRIMARY_DOCTOR_PERMS for pk in patient_ids}},
        actor=actor,
        reason=reason,
        via=VIA_PRIMARY_DOCTOR,
    )


@transaction.atomic
def doctor_save(*, doctor: Doctor, actor, reason: str) -> Doctor:
    """Create or update a doctor.

    When the doctor's linked login (``user``) changes, the object permissions on
    their patients move from the old login to the new one. Returns the saved
    doctor. Raises ``ValidationError`` (``full_clean``; a login already linked to
    another doctor fails the one-to-one uniqueness check).
    """
    doctor.full_clean()
    doctor.import_digest = ""  # no longer the file row it may have come from
    old_user = None
    if doctor.pk:
        old_user = Doctor.objects.filter(pk=doctor.pk).values_list("user", flat=True).first()
    _attribute(doctor, actor=actor, reason=reason)
    doctor.save()
    counts_changed()
    if old_user != doctor.user_id:
        from people.models import User

        old_login = User.objects.filter(pk=old_user).first()
        _doctor_patient_grants(doctor, old_login, grant=False, actor=actor, reason=reason)
        _doctor_patient_grants(doctor, doctor.user, grant=True, actor=actor, reason=reason)
    return doctor


def _move_primary_doctor_grants(
    patient: Patient, old_doctor_id, new_doctor, *, actor, reason: str
) -> None:
    """Revoke what the previous assignment granted; grant to the new doctor's login.

    History rows and access-log rows carry ``actor`` and ``reason`` (the save's).
    """
    if old_doctor_id == (new_doctor.pk if new_doctor else None):
        return
    if old_doctor_id:
        old_user = Doctor.objects.filter(pk=old_doctor_id).values_list("user", flat=True).first()
        if old_user:
            from people.models import User

            _revoke_primary_doctor_grants(
                User.objects.get(pk=old_user),
                [patient.pk],
                actor=actor,
                reason=reason,
                patient=patient,
            )
    if new_doctor is not None and new_doctor.user_id:
        _grants_add(
            {new_doctor.user: {patient.pk: PRIMARY_DOCTOR_PERMS}},
            actor=actor,
            reason=reason,
            via=VIA_PRIMARY_DOCTOR,
            patient=patient,
        )


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


class DuplicateIndex:
    """Registered patients by duplicate-matching key, for checking many patients at once.

    ``load(keys)`` fetches the patients whose ``match_key`` is among ``keys`` (one
    indexed ``IN`` query per :data:`_MATCH_CHUNK` keys, only the keys not loaded
    before); ``add(patient)`` records a patient accepted earlier in the same import,
    so a file that lists one person twice is caught before anything is written;
    ``matches(patient, compare_ssn=...)`` answers from memory.

    A match has the same birth date and the same normalized first and last name
    (``clinic.models.patient_match_key``), and, when ``compare_ssn`` and both have
    an SSN, the same SSN. Archived and deceased patients count too. ``compare_ssn``
    must be False for an actor who may not read SSNs: otherwise whether a warning
    appears would reveal whether a typed SSN is the stored one.
    """

    _FIELDS = ("id", "mrn", "first_name", "last_name", "birth_date", "ssn", "status", "match_key")

    def __init__(self):
        self._by_key: dict[str, list[Patient]] = {}
        self._loaded: set[str] = set()

    def load(self, keys) -> None:
        """Fetch the registered patients with any of ``keys`` (match keys; '' ignored)."""
        keys = sorted({k for k in keys if k} - self._loaded)
        for start in range(0, len(keys), _MATCH_CHUNK):
            chunk = keys[start : start + _MATCH_CHUNK]
            for other in Patient.objects.filter(match_key__in=chunk).only(*self._FIELDS):
                self._by_key.setdefault(other.match_key, []).append(other)
        self._loaded.update(keys)

    def add(self, patient: Patient) -> None:
        """Count ``patient`` (saved or about to be) as registered from now on."""
        if patient.match_key:
            self._by_key.setdefault(patient.match_key, []).append(patient)

    def matches(self, patient: Patient, *, compare_ssn: bool) -> list[Patient]:
        """The registered patients ``patient`` probably duplicates, ordered by MRN.

        Loads ``patient.match_key`` first if it was not loaded. ``patient`` itself
        (same pk, or the same object) never matches.
        """
        key = patient.match_key
        if not key:
            return []
        self.load([key])
        found = [
            other
            for other in self._by_key.get(key, ())
            if other is not patient
            and not (patient.pk and other.pk == patient.pk)
            and not (compare_ssn and patient.ssn and other.ssn and patient.ssn != other.ssn)
        ]
        return sorted(found, key=lambda p: p.mrn or "")


#: Match keys per ``IN (...)`` lookup (SQLite's limit on query parameters).
_MATCH_CHUNK = 500


def _patient_label(patient) -> str:
    """``"MRN 00000012"``, or ``"row 7 of this file"`` for a patient an import has not saved yet."""
    if patient.mrn:
        return f"MRN {patient.mrn}"
    return f"row {getattr(patient, '_import_row', '?')} of this file"


def describe_patients(patients) -> str:
    """``"MRN 00000012 (Ann Patel, born 1980-05-17, active)"``, joined with "and"."""
    return get_text_list(
        [
            f"{_patient_label(p)} ({p.first_name} {p.last_name}, born {p.birth_date:%Y-%m-%d}, "
            f"{p.get_status_display().lower()})"
            for p in patients
        ],
        "and",
    )


#: Fields left out of "what changed" summaries: bookkeeping, not content.
_UNTRACKED_CHANGE_FIELDS = {"version", "updated_at", "updated_by"}


def patient_changes_since(*, patient_id: int, version: int) -> list[dict]:
    """What was saved to a patient after ``version``, oldest first, from its history.

    Returns one dict per later save: ``{"user": User or None, "date": datetime,
    "fields": [field label, ...], "reason": str}``. Field names only, never
    values, so the summary is safe to show to users without ``clinic.view_ssn``.
    """
    rows = list(
        Patient.history.filter(id=patient_id, version__gte=version)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    base = None
    changes = []
    for row in rows:
        if row.version <= version:
            base = row
            continue
        fields = []
        if base is not None:
            delta = row.diff_against(base, excluded_fields=_UNTRACKED_CHANGE_FIELDS)
            fields = [
                capfirst(Patient._meta.get_field(name).verbose_name)
                for name in delta.changed_fields
            ]
        changes.append(
            {
                "user": row.history_user,
                "date": row.history_date,
                "fields": fields,
                "reason": row.history_change_reason or "",
            }
        )
        base = row
    return changes


def describe_changes(changes: list[dict]) -> str:
    """``"City by Dana Desk <desk@…> at 2026-11-21 14:02; …"`` for :func:`patient_changes_since`."""
    parts = []
    for change in changes:
        who = change["user"] or "the system"
        when = timezone.localtime(change["date"]).strftime("%Y-%m-%d %H:%M")
        what = get_text_list(change["fields"], "and") if change["fields"] else "a save"
        parts.append(f"{what} by {who} at {when}")
    return "; ".join(parts) or "a save"


def stale_record_error(*, patient_id: int, version: int) -> StaleRecordError:
    """The refusal of a save that carried ``version`` of a patient saved since.

    Its message (:data:`MSG_STALE`) names each later save: the fields, who, when.
    Used by ``patient_save`` and by the patient form, which checks first so the
    message shows on the form. Returns the error; raises nothing.
    """
    changes = patient_changes_since(patient_id=patient_id, version=version)
    return StaleRecordError(MSG_STALE % {"changes": describe_changes(changes)}, changes=changes)


def _check_managed_fields(patient: Patient, stored: dict | None, actor) -> None:
    """Refuse changes to :data:`MANAGED_PATIENT_FIELDS` by an actor without model-wide change."""
    if actor is None or actor.has_perm("clinic.change_patient"):
        return
    errors = {}
    for name in MANAGED_PATIENT_FIELDS:
        attname = Patient._meta.get_field(name).attname
        before = stored[attname] if stored else Patient._meta.get_field(name).get_default()
        if getattr(patient, attname) != before:
            label = Patient._meta.get_field(name).verbose_name
            errors[name] = ValidationError(
                MSG_NOT_PERMITTED_FIELD, code="not_permitted", params={"field": label}
            )
    if errors:
        raise ValidationError(errors)


_STORED_FIELDS = (
    "version",
    "primary_doctor_id",
    "status",
    "external_id",
    "first_name",
    "last_name",
    "birth_date",
    "ssn",
)
_IDENTITY_FIELDS = ("first_name", "last_name", "birth_date", "ssn")


def patient_check(
    *,
    patient: Patient,
    stored: dict | None,
    actor,
    duplicates: DuplicateIndex | None = None,
    confirmed_not_duplicate: bool = False,
) -> str:
    """The rules a patient save must pass beyond ``full_clean()``; shared by
    :func:`patient_save` and the import, which checks row by row.

    Args: ``patient`` after ``full_clean()`` (which sets ``match_key``); ``stored``
    the stored values (a dict with at least ``primary_doctor_id``, ``status``,
    ``external_id``, ``first_name``, ``last_name``, ``birth_date`` and ``ssn``;
    None for a new patient); ``actor``; ``duplicates`` a :class:`DuplicateIndex`
    (an import passes one loaded for the whole file; None: a fresh one).

    - A row carrying another ``version`` than ``stored`` (a file exported before a
      later save) is refused with :class:`StaleRecordError`, naming the saves since.
    - A newly chosen primary doctor must be active (code ``inactive_doctor``).
    - A new patient, or a change of name, birth date or SSN, that matches a
      registered patient is refused unless ``confirmed_not_duplicate``
      (:class:`LikelyDuplicateError`). SSNs take part only when ``actor`` may read them.

    Returns what to add to the history reason ('' or `` (confirmed not a duplicate
    of MRN …)``). Raises ``ValidationError`` as above.
    """
    if stored is not None and stored.get("version", patient.version) != patient.version:
        raise stale_record_error(patient_id=patient.pk, version=patient.version)
    old_doctor_id = stored["primary_doctor_id"] if stored else None
    if patient.primary_doctor_id != old_doctor_id:
        primary_doctor_check(doctor=patient.primary_doctor, previous_doctor_id=old_doctor_id)
    if stored is not None and all(getattr(patient, f) == stored[f] for f in _IDENTITY_FIELDS):
        return ""
    compare_ssn = actor is None or actor.has_perm("clinic.view_ssn")
    index = duplicates if duplicates is not None else DuplicateIndex()
    matches = index.matches(patient, compare_ssn=compare_ssn)
    if matches and not confirmed_not_duplicate:
        raise LikelyDuplicateError(
            MSG_LIKELY_DUPLICATE, matches=matches, params={"matches": describe_patients(matches)}
        )
    if matches:
        return f" (confirmed not a duplicate of {described_mrns(matches)})"
    return ""


@transaction.atomic
def patient_save(
    *, patient: Patient, actor, reason: str, confirmed_not_duplicate: bool = False
) -> Patient:
    """Create or update a patient: the one write path for forms, actions and single rows.

    - A new patient gets the next MRN; ``created_by``/``updated_by`` are stamped
      with ``actor``.
    - Optimistic concurrency: ``patient.version`` must equal the stored version
      (the form carries the version it showed; actions the one they loaded). The
      stored row is locked (``SELECT ... FOR UPDATE``) while it is compared and
      saved, and the version goes up by one.
    - An actor without the model-wide ``clinic.change_patient`` (a doctor, a
      covering colleague) may not change :data:`MANAGED_PATIENT_FIELDS` (code
      ``not_permitted``, keyed on the field).
    - ``full_clean()``, then :func:`patient_check` (inactive doctor, likely
      duplicates; a confirmed duplicate is noted in the history reason).
    - If ``primary_doctor`` changed, the previous doctor's login loses and the new
      doctor's login gains ``view_patient``/``change_patient`` on this patient.

    Imports use :func:`patients_bulk_save`, its bulk twin. Returns the saved
    patient. Raises ``ValidationError``: from ``full_clean``; from
    :func:`patient_check`; :class:`StaleRecordError` (code ``stale``).
    """
    stored = None
    if patient.pk:
        stored = (
            Patient.objects.select_for_update()
            .filter(pk=patient.pk)
            .values(*_STORED_FIELDS)
            .first()
        )
    if stored is not None and stored["version"] != patient.version:
        raise stale_record_error(patient_id=patient.pk, version=patient.version)
    # Before full_clean, which derives the status from a death date.
    _check_managed_fields(patient, stored, actor)
    if stored is None:
        if not patient.mrn:
            patient.mrn = mrn_allocate(1)[0]
        patient.created_by = actor
    patient.updated_by = actor
    old_doctor_id = stored["primary_doctor_id"] if stored else None
    patient.full_clean()
    reason += patient_check(
        patient=patient,
        stored=stored,
        actor=actor,
        confirmed_not_duplicate=confirmed_not_duplicate,
    )
    patient.import_digest = ""  # no longer the file row it may have come from
    # Bumped last, so a refused save leaves the caller's version as it was.
    patient.version = stored["version"] + 1 if stored else 1
    _attribute(patient, actor=actor, reason=reason)
    patient.save()
    counts_changed()
    _move_primary_doctor_grants(
        patient, old_doctor_id, patient.primary_doctor, actor=actor, reason=reason
    )
    return patient


#: Fields a bulk update never writes: set once, when the patient is created.
_CREATE_ONLY_FIELDS = ("id", "mrn", "created_at", "created_by")
#: Fields every bulk update writes (stamped by patients_bulk_save).
_BOOKKEEPING_FIELDS = ("version", "updated_at", "updated_by")


@transaction.atomic
def patients_bulk_save(
    *,
    created: list[Patient],
    updated: list[Patient],
    actor,
    reason: str,
    fields: list[str] | None = None,
    batch_size: int = 1000,
) -> None:
    """Create and update many patients at once: the bulk twin of :func:`patient_save`, for imports.

    Every patient must already have passed ``full_clean()`` and :func:`patient_check`
    (the import runs both row by row, so each error names its row); a patient's own
    ``_change_reason`` (set by the import, e.g. with a duplicate confirmation) wins
    over ``reason``. Then, in a few statements per ``batch_size`` patients:

    - updates: the stored rows are locked (``SELECT ... FOR UPDATE``) and each
      ``version`` compared; if any moved since the import loaded it, nothing is
      written and :class:`StaleRecordError` names those patients' MRNs;
    - new patients get MRNs in one block (:func:`mrn_allocate`); ``created_by``,
      ``updated_by``, ``updated_at`` and ``version`` are stamped;
    - rows and their history rows (actor, reason) are written with simple-history's
      ``bulk_create_with_history`` / ``bulk_update_with_history``;
    - primary-doctor grants move as in :func:`patient_save` (bulk inserts and one
      delete per previous doctor's login).

    Args: ``created``/``updated`` lists of patients; ``actor`` (User or None);
    ``reason`` the history reason (an import's ``Import #<id>``); ``fields`` the
    names of the fields the updates change (None: every field). Django's
    ``bulk_update`` writes one ``CASE`` per field, so naming the changed fields
    keeps a batch to a few statements' worth of SQL. Returns None.
    Raises :class:`StaleRecordError` (code ``stale``) as above; ``ValidationError``
    (code ``not_permitted``) when ``actor`` lacks the model-wide ``clinic.add_patient``
    or ``clinic.change_patient`` (imports write whole files, never per-object grants).
    """
    for action, rows in (("add", created), ("change", updated)):
        if rows and actor is not None and not actor.has_perm(f"clinic.{action}_patient"):
            raise ValidationError(f"{actor} may not {action} patients.", code="not_permitted")
    now = timezone.now()
    counts_changed()
    old_doctors: dict[int, int | None] = {}
    if updated:
        stored = {}
        ids = [p.pk for p in updated]
        for start in range(0, len(ids), _MATCH_CHUNK):
            rows = (
                Patient.objects.select_for_update()
                .filter(pk__in=ids[start : start + _MATCH_CHUNK])
                .values_list("pk", "version", "primary_doctor_id", "mrn")
            )
            stored.update({pk: (version, doctor, mrn) for pk, version, doctor, mrn in rows})
        moved = [p for p in updated if stored[p.pk][0] != p.version]
        if moved:
            mrns = get_text_list([f"MRN {stored[p.pk][2]}" for p in moved[:10]], "and")
            more = f" and {len(moved) - 10} more" if len(moved) > 10 else ""
            raise StaleRecordError(MSG_STALE_IMPORT % {"patients": mrns + more}, changes=[])
        old_doctors = {p.pk: stored[p.pk][1] for p in updated}
    mrns = iter(mrn_allocate(sum(1 for p in created if not p.mrn)))
    for patient in created:
        if not patient.mrn:
            patient.mrn = next(mrns)
        patient.created_by = actor
        patient.version = 1
    for patient in updated:
        patient.version += 1
        patient.updated_at = now
    for patient in (*created, *updated):
        patient.updated_by = actor
        patient._history_user = actor
        if not getattr(patient, "_change_reason", None):
            patient._change_reason = reason
    if created:
        bulk_create_with_history(created, Patient, batch_size=batch_size, default_user=actor)
    if updated:
        if fields is None:
            fields = [f.name for f in Patient._meta.concrete_fields]
        written = {*fields, *_BOOKKEEPING_FIELDS} - set(_CREATE_ONLY_FIELDS)
        bulk_update_with_history(
            updated, Patient, sorted(written), batch_size=batch_size, default_user=actor
        )
    moves = [
        (p.pk, old_doctors.get(p.pk), p.primary_doctor_id)
        for p in (*created, *updated)
        if old_doctors.get(p.pk) != p.primary_doctor_id
    ]
    _move_primary_doctor_grants_bulk(moves, actor=actor, reason=reason)


def _move_primary_doctor_grants_bulk(
    moves: list[tuple[int, int | None, int | None]], *, actor, reason: str
) -> None:
    """Grant and revoke primary-doctor object permissions for ``(patient id, old doctor id,
    new doctor id)`` triples, with history and access-log rows (``actor``, ``reason``):
    a few statements per previous doctor's login, bulk inserts for the new ones (a grant
    already there stays). Never a query per patient."""
    if not moves:
        return
    doctor_ids = {d for _, old, new in moves for d in (old, new) if d}
    users = dict(Doctor.objects.filter(pk__in=doctor_ids).values_list("pk", "user_id"))
    revoke: dict[int, list[int]] = {}
    grant: list[tuple[int, int]] = []
    for patient_id, old, new in moves:
        if old and users.get(old):
            revoke.setdefault(users[old], []).append(patient_id)
        if new and users.get(new):
            grant.append((patient_id, users[new]))
    from people.models import User

    if revoke:
        for user in User.objects.filter(pk__in=revoke):
            _revoke_primary_doctor_grants(user, revoke[user.pk], actor=actor, reason=reason)
    if grant:
        users = User.objects.in_bulk({user_id for _, user_id in grant})
        wanted: dict = {}
        for patient_id, user_id in grant:
            wanted.setdefault(users[user_id], {})[patient_id] = PRIMARY_DOCTOR_PERMS
        _grants_add(wanted, actor=actor, reason=reason, via=VIA_PRIMARY_DOCTOR)


@transaction.atomic
def records_bulk_save(
    *, model, created: list, updated: list, actor, reason: str, batch_size: int = 1000
) -> None:
    """Create and update many organizations or doctors at once (imports).

    The bulk twin of :func:`organization_save` and, for what a file can change,
    :func:`doctor_save` (a file never carries a doctor's login link, so no object
    permission moves). Every record must already have passed ``full_clean()`` (the
    import checks row by row). Rows and history rows (``actor``, ``reason``) are
    written with ``bulk_create_with_history`` / ``bulk_update_with_history``.

    Args: ``model`` (``Organization`` or ``Doctor``), ``created``/``updated`` lists
    of its instances. Raises ``ValueError`` for another model. Returns None.
    """
    if model not in (Organization, Doctor):
        raise ValueError(f"records_bulk_save writes organizations and doctors, not {model}")
    counts_changed()
    for record in (*created, *updated):
        _attribute(record, actor=actor, reason=getattr(record, "_change_reason", None) or reason)
    if created:
        bulk_create_with_history(created, model, batch_size=batch_size, default_user=actor)
    if updated:
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if not f.primary_key and f.name not in ("user", "created_at")
        ]
        bulk_update_with_history(updated, model, fields, batch_size=batch_size, default_user=actor)


def described_mrns(patients) -> str:
    """``"MRN 00000012 and MRN 00000031"`` for a history reason."""
    return get_text_list([_patient_label(p) for p in patients], "and")


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


@transaction.atomic
def patients_assign_primary_doctors(
    *, assignments: dict[int, Doctor], actor, reason: str, batch_size: int = 1000
) -> int:
    """Make ``assignments[patient_id]`` each patient's primary doctor: the bulk twin of
    :func:`patient_assign_primary_doctor`, for imports (Synthea's ``encounters.csv``).

    Patients already with that doctor are left alone (no history row). The others
    are changed through :func:`patients_bulk_save` (version check, history with
    ``actor`` and ``reason``, grants moved), ``batch_size`` at a time. Raises
    ``ValidationError`` (code ``inactive_doctor``) naming the first inactive doctor
    newly chosen; :class:`StaleRecordError` as :func:`patients_bulk_save`.
    Returns the number of patients changed.
    """
    changed = 0
    ids = sorted(assignments)
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        current = Patient.objects.filter(pk__in=chunk).values_list("pk", "primary_doctor_id")
        moving = [pk for pk, doctor_id in current if doctor_id != assignments[pk].pk]
        batch = []
        for patient in Patient.objects.filter(pk__in=moving):
            doctor = assignments[patient.pk]
            primary_doctor_check(doctor=doctor, previous_doctor_id=patient.primary_doctor_id)
            patient.primary_doctor = doctor
            patient.import_digest = ""  # no longer the file row it came from
            batch.append(patient)
        patients_bulk_save(
            created=[],
            updated=batch,
            actor=actor,
            reason=reason,
            fields=["primary_doctor", "import_digest"],
        )
        changed += len(batch)
    return changed


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


# -- sharing --------------------------------------------------------------------
#
# A share (issue 5, item 11) is a PatientShare row (who, why, until when, shared by
# whom) plus the guardian grants it stands for. A grant row is per (holder, patient,
# permission), and more than one source can stand behind the same row: the primary-
# doctor assignment, or several shares. So ending a share removes a grant only when
# no other source still stands behind it, and visible_to ignores a grant that only
# an expired share stands behind (clinic/querysets.py), so expiry needs no job to
# take effect on time.

MSG_SHARE_NO_REASON = "Say why you are sharing; the reason is kept in the history."
MSG_SHARE_EXPIRY_PAST = "The expiry must be in the future."
MSG_SHARE_ONE_HOLDER = "Share with either a colleague or a team (one of them)."
MSG_SHARE_NOT_SHARABLE = (
    "You may share only the patients whose primary doctor you are; not %(patients)s."
)
MSG_SHARE_TEAM_NEEDS_ADMIN = "Only an administrator may share patients with a team."
MSG_SHARE_ROLE_GROUP = (
    "%(name)s is a role, not a team: sharing with it would open the patient to everyone "
    "holding the role."
)
MSG_SHARE_SELF = "You cannot share a patient with yourself."
MSG_SHARE_INACTIVE_USER = "%(name)s cannot sign in (the login is inactive)."
MSG_UNSHARE_NO_REASON = "Say why you are ending this share; the reason is kept in the history."
MSG_UNSHARE_NOT_PERMITTED = "You may end only the shares of patients you may share."
MSG_SHARE_ENDED = "This share has already ended."

#: History reason of a share ended by ``shares_expire``.
REASON_SHARE_EXPIRED = "Share expired"

# Rows per bulk insert when sharing a set of patients (SQLite's parameter limit).
_SHARE_CHUNK = 500


def share_perms(*, can_change: bool) -> tuple[str, ...]:
    """The object permissions a share grants: view, plus change when ``can_change``."""
    return PRIMARY_DOCTOR_PERMS if can_change else ("clinic.view_patient",)


def _share_check(*, actor, reason: str, user, group, expires_at, now) -> None:
    """Refuse a share's parameters; see :func:`patients_share` for the rules and codes."""
    from people.roles import ROLES

    errors = {}
    if not (reason or "").strip():
        errors["reason"] = ValidationError(MSG_SHARE_NO_REASON, code="reason_required")
    if expires_at is not None and expires_at <= now:
        errors["expires_at"] = ValidationError(MSG_SHARE_EXPIRY_PAST, code="expiry_past")
    if (user is None) == (group is None):
        errors[NON_FIELD_ERRORS] = ValidationError(MSG_SHARE_ONE_HOLDER, code="one_holder")
    elif user is not None:
        if actor is not None and user.pk == actor.pk:
            errors["user"] = ValidationError(MSG_SHARE_SELF, code="share_with_self")
        elif not user.is_active:
            errors["user"] = ValidationError(
                MSG_SHARE_INACTIVE_USER, code="inactive_user", params={"name": str(user)}
            )
    elif group.name in ROLES:
        errors["group"] = ValidationError(
            MSG_SHARE_ROLE_GROUP, code="role_group", params={"name": group.name}
        )
    elif actor is not None and not actor.has_perm("clinic.share_patient"):
        errors["group"] = ValidationError(MSG_SHARE_TEAM_NEEDS_ADMIN, code="team_needs_admin")
    if errors:
        raise ValidationError(errors)


def _grant_share_rows(
    *, patient_ids: list[int], user, group, perms: tuple[str, ...], actor, reason: str
) -> None:
    """Insert the guardian grant rows of a share on ``patient_ids``; existing rows stay.

    The holder's own rows, whatever else reaches the patient: guardian's bulk
    ``assign_perm(perm, user, queryset)`` skips a patient the user already reaches
    through a group, which would leave a user share without its own row once the
    team's share ends. History and one access-log row with ``actor`` and ``reason``
    (:func:`_grants_add`).
    """
    _grants_add(
        {user or group: {pk: perms for pk in patient_ids}},
        actor=actor,
        reason=reason,
        via=VIA_SHARE,
    )


@transaction.atomic
def patients_share(
    *,
    patients,
    actor,
    reason: str,
    user=None,
    group=None,
    can_change: bool = False,
    expires_at=None,
) -> list[PatientShare]:
    """Share each of ``patients`` with a covering colleague (``user``) or a team (``group``).

    Args: ``patients`` (a Patient queryset or an iterable of patients), ``actor``
    (the sharer, or None for the system), ``reason`` (required; kept on the share
    and in its history), exactly one of ``user`` and ``group`` (a team: a Django
    Group that is not a role group), ``can_change`` (view only, or view and
    change), ``expires_at`` (an aware datetime in the future, or None).

    Writes one ``PatientShare`` per patient with a history row attributed to
    ``actor``, and grants the holder ``view_patient`` (and ``change_patient``)
    through guardian. All or nothing: one refused patient writes nothing.
    Returns the shares, in patient id order.

    Raises ``ValidationError`` with codes ``reason_required``, ``expiry_past``
    (keyed on those fields), ``one_holder``, ``share_with_self``,
    ``inactive_user`` (keyed on ``user``), ``role_group`` and ``team_needs_admin``
    (keyed on ``group``: only holders of ``clinic.share_patient`` share with a
    team), and ``not_sharable`` when the actor may not share one of the patients
    (``Patient.objects.sharable_by``: an administrator any patient, a doctor only
    those they are primary doctor of).
    """
    now = timezone.now()
    _share_check(actor=actor, reason=reason, user=user, group=group, expires_at=expires_at, now=now)
    if isinstance(patients, QuerySet):
        selected = Patient.objects.filter(pk__in=patients.values("pk"))
    else:
        selected = Patient.objects.filter(pk__in=[p.pk for p in patients])
    if actor is not None:
        refused = selected.exclude(pk__in=Patient.objects.sharable_by(actor).values("pk"))
        refused = list(refused.order_by("mrn")[:5])
        if refused:
            raise ValidationError(
                MSG_SHARE_NOT_SHARABLE,
                code="not_sharable",
                params={"patients": described_mrns(refused)},
            )
    # Grants on a patient change under its row lock: ending another share of the same
    # holder (patient_unshare, shares_expire) checks for live shares before removing
    # the grant row this share also needs, so the two must not interleave.
    patient_ids = list(selected.order_by("pk").select_for_update().values_list("pk", flat=True))
    if not patient_ids:
        return []
    template = PatientShare(
        patient_id=patient_ids[0],
        user=user,
        group=group,
        can_change=can_change,
        reason=reason.strip(),
        expires_at=expires_at,
        created_by=actor,
    )
    # Rows differ only by patient, whose ids come from the table: one full_clean
    # validates them all, instead of four foreign-key queries per row.
    template.full_clean()
    fields = {
        f.attname: getattr(template, f.attname)
        for f in PatientShare._meta.concrete_fields
        if not f.primary_key and f.attname not in ("patient_id", "created_at")
    }
    counts_changed()
    shares = []
    for chunk in _chunks(patient_ids, _SHARE_CHUNK):
        shares += bulk_create_with_history(
            [PatientShare(patient_id=pk, **fields) for pk in chunk],
            PatientShare,
            default_user=actor,
            default_change_reason=template.reason,
        )
    # One grant operation for the whole selection: one access-log row, not one per chunk.
    _grant_share_rows(
        patient_ids=patient_ids,
        user=user,
        group=group,
        perms=share_perms(can_change=can_change),
        actor=actor,
        reason=template.reason,
    )
    return shares


def patient_share(
    *,
    patient: Patient,
    actor,
    reason: str,
    user=None,
    group=None,
    can_change: bool = False,
    expires_at=None,
) -> PatientShare:
    """Share one patient with a covering colleague or a team; see :func:`patients_share`.

    Returns the new ``PatientShare``. Raises ``ValidationError`` as
    :func:`patients_share` does.
    """
    return patients_share(
        patients=[patient],
        actor=actor,
        reason=reason,
        user=user,
        group=group,
        can_change=can_change,
        expires_at=expires_at,
    )[0]


def _perms_live_shares_grant(
    *, patient_ids, now, exclude_share_id: int | None = None, **holder
) -> dict[int, set[str]]:
    """Per patient, the permissions the holder's live shares on it grant at ``now``.

    ``holder`` is ``user_id=`` or ``group_id=``; ``exclude_share_id`` leaves one
    share out (the one being ended). Patients without such a share are absent.
    One query. Used wherever a grant is removed, so a grant a live share still
    stands behind stays.
    """
    shares = PatientShare.objects.filter(live_shares_q(now), patient_id__in=patient_ids, **holder)
    if exclude_share_id is not None:
        shares = shares.exclude(pk=exclude_share_id)
    kept: dict[int, set[str]] = {}
    for patient_id, can_change in shares.values_list("patient_id", "can_change"):
        kept.setdefault(patient_id, set()).update(share_perms(can_change=can_change))
    return kept


def _release_share_grants(share: PatientShare, *, now, actor, reason: str) -> None:
    """Remove the grants ``share`` stood for, keeping those another source stands behind.

    Kept: what the holder's other live shares on the patient grant, and, for a
    user, everything when they are the patient's primary doctor's login. The
    removed rows get history and one access-log row with ``actor`` and ``reason``.
    """
    holder = {"user_id": share.user_id} if share.user_id else {"group_id": share.group_id}
    kept = _perms_live_shares_grant(
        patient_ids=[share.patient_id], now=now, exclude_share_id=share.pk, **holder
    ).get(share.patient_id, set())
    if (
        share.user_id
        and Patient.objects.filter(
            pk=share.patient_id, primary_doctor__user_id=share.user_id
        ).exists()
    ):
        kept.update(PRIMARY_DOCTOR_PERMS)
    holder = share.user or share.group
    model, column = _grant_table(holder)
    permissions = _patient_permissions(share_perms(can_change=share.can_change))
    removed = {p.pk: name for name, p in permissions.items() if name not in kept}
    if not removed:
        return
    rows = list(
        model.objects.filter(
            **{column: holder.pk}, content_object_id=share.patient_id, permission_id__in=removed
        )
    )
    _grants_remove(
        rows,
        holder=holder,
        names=removed,
        actor=actor,
        reason=reason,
        via=VIA_SHARE,
        patient=share.patient,
    )


def _share_end(*, share_id: int, actor, reason: str, now, expired_only: bool) -> bool:
    """End one share under its patient's row lock; False when there was nothing to end.

    The caller holds the transaction. ``expired_only`` ends it only if it has lapsed
    (``shares_expire``); otherwise ending an already ended share raises
    ``ValidationError`` (``share_ended``).
    """
    patient_id = PatientShare.objects.filter(pk=share_id).values_list("patient_id", flat=True)
    # Lock order: the patient row, then the share (as patients_share locks patients).
    list(Patient.objects.filter(pk__in=patient_id).select_for_update().values_list("pk"))
    share = (
        PatientShare.objects.select_for_update(of=("self",))
        .select_related("user", "group", "patient")
        .filter(pk=share_id)
        .first()
    )
    if share is None or share.revoked_at is not None:
        if expired_only:
            return False
        raise ValidationError(MSG_SHARE_ENDED, code="share_ended")
    if expired_only and not (share.expires_at and share.expires_at <= now):
        return False
    share.revoked_at = now
    _attribute(share, actor=actor, reason=reason)
    share.save(update_fields=["revoked_at"])
    counts_changed()
    _release_share_grants(share, now=now, actor=actor, reason=reason)
    return True


@transaction.atomic
def patient_unshare(*, share: PatientShare, actor, reason: str) -> PatientShare:
    """End ``share`` now: revoke its grants (those no other source stands behind).

    Args: the share, ``actor`` (or None for the system), ``reason`` (required; the
    revoke's history row carries it and the actor). An expired share not yet
    cleaned up may be ended too. Returns the share, ``revoked_at`` set.

    Raises ``ValidationError``: ``reason_required`` (keyed on ``reason``),
    ``not_sharable`` when the actor may not share the patient
    (``Patient.objects.sharable_by``), ``share_ended`` when it was already revoked.
    """
    if not (reason or "").strip():
        raise ValidationError(
            {"reason": ValidationError(MSG_UNSHARE_NO_REASON, code="reason_required")}
        )
    if (
        actor is not None
        and not Patient.objects.sharable_by(actor).filter(pk=share.patient_id).exists()
    ):
        raise ValidationError(MSG_UNSHARE_NOT_PERMITTED, code="not_sharable")
    _share_end(
        share_id=share.pk,
        actor=actor,
        reason=reason.strip(),
        now=timezone.now(),
        expired_only=False,
    )
    share.refresh_from_db()
    return share


def shares_expire(*, now=None) -> int:
    """End every share whose expiry has passed and remove its grants (``expire_shares``).

    Access already stopped at ``expires_at`` (``Patient.objects.visible_to``); this
    cleans the grant rows and records the end: each share gets ``revoked_at`` and a
    history row with no actor and the reason ``"Share expired"``. Each share is
    ended in a transaction of its own, so a long run never holds locks for long.
    Args: ``now`` (an aware datetime; defaults to the current time). Returns the
    number of shares ended. Raises nothing for a share ended meanwhile.
    """
    now = now or timezone.now()
    ended = 0
    for share_id in PatientShare.objects.filter(lapsed_shares_q(now)).values_list("pk", flat=True):
        with transaction.atomic():
            ended += _share_end(
                share_id=share_id,
                actor=None,
                reason=REASON_SHARE_EXPIRED,
                now=now,
                expired_only=True,
            )
    return ended
