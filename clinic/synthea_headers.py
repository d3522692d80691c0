"""The header lines of Synthea's newest CSV exporter, one per file the back office reads.

As in ``../shared/data/synthea/yael-icu-2025`` and Synthea's CSV data dictionary
(https://github.com/synthetichealth/synthea/wiki/CSV-File-Data-Dictionary). Written by
the demo data (``clinic.demo``) and the benchmark's generator (``bench.synthea_data``);
no Django import, so the generator runs without settings.
"""

HEADERS: dict[str, list[str]] = {
    "organizations.csv": ("Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION").split(
        ","
    ),
    "providers.csv": (
        "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,"
        "ENCOUNTERS,PROCEDURES"
    ).split(","),
    "patients.csv": (
        "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,"
        "MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,"
        "ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME"
    ).split(","),
    "encounters.csv": (
        "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,"
        "BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION"
    ).split(","),
}
