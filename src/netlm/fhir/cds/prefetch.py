"""What netlm asks the EHR for: the prefetch templates, one search per kind of data it reads.

Every template stays inside the query subset CDS Hooks 2.0.1 recommends ("Prefetch query
restrictions": reads, type searches on `patient={{context.patientId}}`, token equality, `_count`
and `_sort`); its only token is `{{context.patientId}}`. The spec's tokens cannot compute a date
("today minus five years" is not a token), so each search is bounded by count: `_count` asks
for at most that many matches, and `_sort` on the resource's date makes them the most recent.
netlm follows a paginated answer's next links only until it holds `_count` matches (BOUNDS), and
keeps the newest `_count` of an answer that ignored it, on prefetch and on its own reads alike;
the card says when a search had more.

Observations are searched by the codes netlm reads rather than by category, so an Observation
filed under vital-signs or under no category at all is found as `netlm fhir import` finds it,
and routine labs netlm has no use for never travel (Epic and Oracle Health both accept `code`
in place of `category`). Medicine searches include their Medication, report searches their
result Observations (some feeds send those without a subject of their own).
"""

from typing import Any, Final

from netlm.fhir import codes

PATIENT_TOKEN: Final = "{{context.patientId}}"
COUNT: Final = 100  # matches per search; Oracle Health serves at most 200 a page


def _loinc(*wanted: str) -> str:
    return ",".join(f"{codes.LOINC}|{code}" for code in wanted)


# Findings that decide the grade, performance and course: rare in a chart, so never crowded out
# by the daily labs, which have a search of their own.
FINDINGS: Final = (
    codes.KI67,
    codes.HISTOLOGY,
    codes.ECOG,
    codes.CANCER_DISEASE_STATUS,
    codes.TUMOR_SIZE,
)
LABS: Final = tuple(code for code in codes.LOINC_OBSERVATIONS if code not in FINDINGS)

_BY_PATIENT = f"patient={PATIENT_TOKEN}"
_BOUND = f"_count={COUNT}"

PREFETCH: Final[dict[str, str]] = {
    "patient": f"Patient/{PATIENT_TOKEN}",
    "conditions": f"Condition?{_BY_PATIENT}&{_BOUND}",
    "observationsFindings": (
        f"Observation?{_BY_PATIENT}&code={_loinc(*FINDINGS)}&_sort=-date&{_BOUND}"
    ),
    "observationsLabs": f"Observation?{_BY_PATIENT}&code={_loinc(*LABS)}&_sort=-date&{_BOUND}",
    # any code of netlm's own system (the FHIR token form `system|`)
    "observationsNetlm": (
        f"Observation?{_BY_PATIENT}&code={codes.NETLM_OBSERVATION}|&_sort=-date&{_BOUND}"
    ),
    "diagnosticReports": (
        f"DiagnosticReport?{_BY_PATIENT}&_sort=-date&{_BOUND}&_include=DiagnosticReport:result"
    ),
    "procedures": f"Procedure?{_BY_PATIENT}&_sort=-date&{_BOUND}",
    "medicationStatements": (
        f"MedicationStatement?{_BY_PATIENT}&_sort=-effective&{_BOUND}"
        "&_include=MedicationStatement:medication"
    ),
    "medicationRequests": (
        f"MedicationRequest?{_BY_PATIENT}&_sort=-authoredon&{_BOUND}"
        "&_include=MedicationRequest:medication"
    ),
    "medicationAdministrations": (
        f"MedicationAdministration?{_BY_PATIENT}&_sort=-effective-time&{_BOUND}"
        "&_include=MedicationAdministration:medication"
    ),
}

# Matches netlm reads per search key, over all pages (a read has no bound).
BOUNDS: Final[dict[str, int]] = {key: COUNT for key, query in PREFETCH.items() if "?" in query}

# The element each template's `_sort` date searches (FHIR R4 search parameters `date`,
# `effective`, `authoredon`, `effective-time`), then what dates a Condition.
_SORT_DATES: Final = (
    "effectiveDateTime",
    "effectiveInstant",
    "effectivePeriod",
    "performedDateTime",
    "performedPeriod",
    "authoredOn",
    "issued",
    "recordedDate",
    "onsetDateTime",
)


def sort_date(resource: dict[str, Any]) -> str:
    """The date a template sorts `resource` by, as sent (ISO 8601 sorts as text); "" if none."""
    for name in _SORT_DATES:
        value = resource.get(name)
        if isinstance(value, dict):
            value = value.get("start")
        if isinstance(value, str):
            return value
    return ""
