"""FHIR R4 Bundle -> netlm.case/1, reporting everything it could not map instead of guessing.

The Bundle is refused by name when it is another FHIR version; the Bundle and each resource are
then validated with the fhir.resources R4B models, so invalid FHIR is refused with the resource
and element at fault. The mapping reads the (now known valid) JSON, Conditions first so that a
resection can be matched to the primary tumour. When several resources fill the same field, the
most recent one (effective, issued or recorded date) wins; ties go to the later Bundle entry.
docs/fhir-mapping.md has the whole table.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any

from netlm.fhir.mapping.assembly import assemble
from netlm.fhir.mapping.builder import Builder, Entry
from netlm.fhir.mapping.bundle import CLINICAL_TYPES, is_patient, select_patient, validated_entries
from netlm.fhir.mapping.conditions import map_condition
from netlm.fhir.mapping.elements import first_date
from netlm.fhir.mapping.medications import map_medication
from netlm.fhir.mapping.observations import map_observation
from netlm.fhir.mapping.patient import map_patient
from netlm.fhir.mapping.procedures import map_procedure
from netlm.fhir.mapping.reports import map_report
from netlm.fhir.mapping.result import AFTER_DATE, RESOURCE, FhirImport
from netlm.knowledge.load import KnowledgeBase, load_knowledge_base
from netlm.knowledge.walk import thresholds

_MAPPERS = {
    "Condition": map_condition,
    "Observation": map_observation,
    "Procedure": map_procedure,
    "MedicationStatement": map_medication,
    "MedicationRequest": map_medication,
    "MedicationAdministration": map_medication,
    "DiagnosticReport": map_report,
}
# The dates that say when a resource became known: any of them after the assessment date means
# the chart did not hold it then (an Observation effective before but issued after included).
_KNOWN_ON = {
    "Observation": ("effectiveDateTime", "effectiveInstant", "effectivePeriod.start", "issued"),
    "DiagnosticReport": ("effectiveDateTime", "effectivePeriod.start", "issued"),
    "Condition": ("recordedDate", "onsetDateTime", "onsetPeriod.start"),
    "Procedure": ("performedDateTime", "performedPeriod.start"),
    "MedicationStatement": ("effectiveDateTime", "effectivePeriod.start", "dateAsserted"),
    "MedicationRequest": ("authoredOn",),
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod.start"),
}


def bundle_to_case(
    bundle: Mapping[str, Any],
    *,
    patient_id: str | None = None,
    on: dt.date,
    case_id: str | None = None,
    kb: KnowledgeBase | None = None,
) -> FhirImport:
    """Map one patient's resources in a FHIR R4 Bundle to a validated netlm.case/1.

    `on` is the assessment date (never the wall clock): ages are computed at it, and only what
    was known on it is used (a resource dated later is left out and reported under AFTER_DATE).
    `kb` gives the thresholds a comparator (`<30`) must decide to be kept (default: bundled).
    """
    entries, invalid = validated_entries(bundle)
    patient = select_patient(entries, patient_id)
    pid = str(patient.data["id"])
    b = Builder(entries, on, thresholds(kb or load_knowledge_base()))
    for problem in invalid:  # one broken resource must not silence the rest of the chart
        b.miss(RESOURCE, f"{problem}; resource not used")
    for entry in entries:
        if entry.full_url:
            b.by_reference[entry.full_url] = entry
        if "id" in entry.data:
            b.by_reference[entry.label] = entry
    map_patient(b, patient)
    refs = {f"Patient/{pid}", *([patient.full_url] if patient.full_url else [])}
    results = _report_results(entries, refs, pid)
    mine = [e for e in entries if e.type in CLINICAL_TYPES and _is_mine(b, e, refs, pid, results)]
    known = [e for e in mine if _known_on(b, e)]
    for entry in sorted(known, key=lambda e: e.type != "Condition"):
        _MAPPERS[entry.type](b, entry)
    return assemble(b, case_id or f"fhir-{pid}")


def _report_results(entries: list[Entry], refs: set[str], pid: str) -> set[str]:
    """References in this patient's DiagnosticReport.result: those Observations are the
    patient's even when, as some feeds send them, they name no subject of their own."""
    return {
        str(ref.get("reference"))
        for e in entries
        if e.type == "DiagnosticReport"
        and is_patient(str(e.data.get("subject", {}).get("reference")), refs, pid)
        for ref in e.data.get("result", [])
    }


def _is_mine(b: Builder, entry: Entry, refs: set[str], pid: str, results: set[str]) -> bool:
    subject = entry.data.get("subject", {}).get("reference")
    if subject is None:
        if entry.label in results or entry.full_url in results:
            return True
        b.miss(RESOURCE, f"{entry.label} names no subject patient; not used")
        return False
    return is_patient(subject, refs, pid)  # another patient's resources are not this chart


def _known_on(b: Builder, entry: Entry) -> bool:
    """False (and reported) for a resource dated after the assessment date."""
    for path in _KNOWN_ON[entry.type]:
        when = first_date(entry.data, path)
        if when is not None and when.date() > b.on:
            b.miss(AFTER_DATE, f"{entry.label} has {path} {when.date().isoformat()}, after "
                               f"{b.on.isoformat()}: not known on that date; not used")  # fmt: skip
            return False
    return True
