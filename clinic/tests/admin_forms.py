"""Helpers for posting the patient and doctor admin forms in tests."""

from clinic.models import Doctor, Patient


def patient_form_data(patient: Patient, *, with_ssn: bool, **changes) -> dict:
    """The patient change form as the browser would post it, with ``changes`` applied.

    ``seen_version`` is the version the page showed: the patient's as passed in.
    """
    data = {
        "prefix": patient.prefix,
        "first_name": patient.first_name,
        "middle_name": patient.middle_name,
        "last_name": patient.last_name,
        "suffix": patient.suffix,
        "maiden_name": patient.maiden_name,
        "external_id": patient.external_id or "",
        "birth_date": patient.birth_date.isoformat(),
        "death_date": patient.death_date.isoformat() if patient.death_date else "",
        "gender": patient.gender,
        "marital_status": patient.marital_status,
        "race": patient.race,
        "ethnicity": patient.ethnicity,
        "address": patient.address,
        "city": patient.city,
        "county": patient.county,
        "state": patient.state,
        "zip": patient.zip,
        "primary_doctor": patient.primary_doctor_id or "",
        "status": patient.status,
        "change_reason": "",
        "seen_version": patient.version if patient.pk else "",
    }
    if with_ssn:
        data["ssn"] = patient.ssn
    data.update(changes)
    return data


def doctor_form_data(doctor: Doctor, *, patients=(), **changes) -> dict:
    """The doctor change form as the browser would post it, with ``changes`` applied.

    ``patients`` are the rows of the read-only patients inline (the doctor's
    patients the viewer may see), posted back as the inline's management form.
    """
    data = {
        "first_name": doctor.first_name,
        "last_name": doctor.last_name,
        "gender": doctor.gender,
        "specialty": doctor.specialty,
        "external_id": doctor.external_id,
        "organization": doctor.organization_id or "",
        "active": "on" if doctor.active else "",
        "user": doctor.user_id or "",
        "email": doctor.email,
        "phone": doctor.phone,
        "address": doctor.address,
        "city": doctor.city,
        "state": doctor.state,
        "zip": doctor.zip,
        "change_reason": "",
        "patients-TOTAL_FORMS": str(len(patients)),
        "patients-INITIAL_FORMS": str(len(patients)),
        "patients-MIN_NUM_FORMS": "0",
        "patients-MAX_NUM_FORMS": "0",
    }
    for i, patient in enumerate(patients):
        data[f"patients-{i}-id"] = patient.pk
        data[f"patients-{i}-primary_doctor"] = doctor.pk
    data.update(changes)
    return data
