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
from netlm.fhir.mapping.medications import map_medication
from netlm.fhir.mapping.observations import map_observation
from netlm.fhir.mapping.patient import map_patient
from netlm.fhir.mapping.procedures import map_procedure
from netlm.fhir.mapping.result import RESOURCE, FhirImport
from netlm.knowledge.load import KnowledgeBase, load_knowledge_base
from netlm.knowledge.walk import thresholds

_MAPPERS = {
    "Condition": map_condition,
    "Observation": map_observation,
    "Procedure": map_procedure,
    "MedicationStatement": map_medication,
    "MedicationRequest": map_medication,
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

    `on` is the date ages are computed at (the assessment date, never the wall clock). `kb`
    gives the thresholds a comparator (`<30`) must decide to be kept (default: the bundled one).
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
    mine = [e for e in entries if e.type in CLINICAL_TYPES and _is_mine(b, e, refs, pid)]
    for entry in sorted(mine, key=lambda e: e.type != "Condition"):
        _MAPPERS[entry.type](b, entry)
    return assemble(b, case_id or f"fhir-{pid}")


def _is_mine(b: Builder, entry: Entry, refs: set[str], pid: str) -> bool:
    subject = entry.data.get("subject", {}).get("reference")
    if subject is None:
        b.miss(RESOURCE, f"{entry.label} names no subject patient; not used")
        return False
    return is_patient(subject, refs, pid)  # another patient's resources are not this chart
