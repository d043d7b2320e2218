"""Patient: sex, age at the assessment date, and whether the patient was alive on that date."""

import datetime as dt

from netlm.fhir.mapping.builder import Builder, Entry
from netlm.fhir.mapping.elements import instant
from netlm.model.parse import Problem


def map_patient(b: Builder, patient: Entry) -> None:
    gender = patient.data.get("gender")
    if gender in ("male", "female", "other", "unknown"):
        b.offer("patient.sex", gender, patient, None)
    if _deceased_before(b, patient):
        return
    birth = patient.data.get("birthDate")
    if not isinstance(birth, str):
        b.miss("patient.age_years", f"{patient.label} has no birthDate")
        return
    parts = [int(p) for p in birth.split("-")]
    first = dt.date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    if len(parts) == 3:
        last = first
    elif len(parts) == 2:
        following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        last = following - dt.timedelta(days=1)
    else:
        last = dt.date(first.year, 12, 31)
    if last > b.on:
        b.miss("patient.age_years", f"birthDate {birth} is after {b.on.isoformat()}")
        return
    oldest, youngest = _years(first, b.on), _years(last, b.on)
    if oldest != youngest:
        b.miss(
            "patient.age_years",
            f"birthDate {birth} is partial: age is {youngest} or {oldest} on {b.on.isoformat()}",
        )
        return
    b.offer("patient.age_years", oldest, patient, None)


def _deceased_before(b: Builder, patient: Entry) -> bool:
    """Refuse a patient who had died by the assessment date: an age or a plan for the living
    would be wrong. A date on or before the death assesses the chart as it stood then."""
    data = patient.data
    died = instant(data.get("deceasedDateTime"))
    if died is not None:
        day = died.date()
        if b.on <= day:
            return False
        b.refusals.append(
            Problem(
                "(patient)",
                f"{patient.label} died on {day.isoformat()}; netlm assesses a living patient: "
                f"give a date on or before {day.isoformat()} (CLI --date, API ?date=) to assess "
                "the chart as it stood then",
            )
        )
        return True
    if data.get("deceasedBoolean") is True:
        b.refusals.append(
            Problem(
                "(patient)",
                f"{patient.label} is recorded as deceased (deceasedBoolean) without a date; netlm "
                "assesses a living patient, and without deceasedDateTime no earlier date can be "
                "checked",
            )
        )
        return True
    return False


def _years(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
