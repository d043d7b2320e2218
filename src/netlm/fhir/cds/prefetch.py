"""What netlm asks the EHR for: the prefetch templates, one search per resource kind.

Observation searches carry a category, because EHRs such as Epic refuse an Observation search
without one; netlm asks for each category it reads. Medicine searches include the Medication
resources they reference, so a MedicationRequest coded only through `medicationReference` is
not lost.
"""

from typing import Final

from netlm.fhir.codes import READ_CATEGORIES

PATIENT_TOKEN: Final = "{{context.patientId}}"


def _observations(category: str) -> tuple[str, str]:
    key = "observations" + category.replace("-", " ").title().replace(" ", "")
    return key, f"Observation?patient={PATIENT_TOKEN}&category={category}"


PREFETCH: Final[dict[str, str]] = {
    "patient": f"Patient/{PATIENT_TOKEN}",
    "conditions": f"Condition?patient={PATIENT_TOKEN}",
    **dict(_observations(category) for category in READ_CATEGORIES),
    "procedures": f"Procedure?patient={PATIENT_TOKEN}",
    "medicationStatements": (
        f"MedicationStatement?patient={PATIENT_TOKEN}&_include=MedicationStatement:medication"
    ),
    "medicationRequests": (
        f"MedicationRequest?patient={PATIENT_TOKEN}&_include=MedicationRequest:medication"
    ),
}
