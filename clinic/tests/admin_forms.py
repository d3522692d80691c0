"""Helpers for posting the patient admin form in tests."""

from clinic.models import Patient


def patient_form_data(patient: Patient, *, with_ssn: bool, **changes) -> dict:
    """The patient change form as the browser would post it, with ``changes`` applied."""
    data = {
        "prefix": patient.prefix,
        "first_name": patient.first_name,
        "middle_name": patient.middle_name,
        "last_name": patient.last_name,
        "suffix": patient.suffix,
        "maiden_name": patient.maiden_name,
        "external_id": patient.external_id,
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
    }
    if with_ssn:
        data["ssn"] = patient.ssn
    data.update(changes)
    return data
