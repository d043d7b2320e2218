"""Telling a FHIR STU3, DSTU2 or R5 Bundle from R4, so it is refused by name, not misread.

An older or newer Bundle often validates in part against R4 and would otherwise be mapped with
elements silently missing. The evidence is what each version does differently in the resources
netlm reads: declared versions and profile URLs, resource types that exist only in one version,
and element shapes (DSTU2 `Patient.name.family` is a list; STU3 `Condition.clinicalStatus` is a
code; R5 medicines are a CodeableReference `medication`).
"""

from collections.abc import Iterator
from typing import Any

R4 = "R4"
_DECLARED = (("1.0", "DSTU2"), ("3.0", "STU3"), ("4.0", R4), ("4.3", R4), ("5.0", "R5"))
_PROFILE_HINTS = (
    ("hl7.org/fhir/dstu2/", "DSTU2"),
    ("hl7.org/fhir/stu3/", "STU3"),
    ("hl7.org/fhir/r5/", "R5"),
)
_TYPES_ONLY_IN = {
    "MedicationOrder": "DSTU2",
    "DiagnosticOrder": "DSTU2",
    "Order": "DSTU2",
    "OrderResponse": "DSTU2",
    "DeviceUseRequest": "DSTU2",
    "ProcedureRequest": "STU3",
    "ReferralRequest": "STU3",
    "ProcessRequest": "STU3",
    "DataElement": "STU3",
    "Transport": "R5",
    "InventoryItem": "R5",
    "NutritionIntake": "R5",
    "ArtifactAssessment": "R5",
    "GenomicStudy": "R5",
    "ImagingSelection": "R5",
    "DeviceUsage": "R5",
    "DeviceDispense": "R5",
    "FormularyItem": "R5",
    "Permission": "R5",
    "Requirements": "R5",
    "ActorDefinition": "R5",
}


def _label(resource: dict[str, Any], i: int) -> str:
    kind = resource.get("resourceType", "resource")
    return f"{kind}/{resource['id']}" if "id" in resource else f"{kind} at entry[{i}]"


def _declared(version: Any) -> str | None:
    text = str(version)
    return next((name for prefix, name in _DECLARED if text.startswith(prefix)), None)


def _shapes(resource: dict[str, Any], label: str) -> Iterator[tuple[str, str]]:
    """(version, evidence) for element shapes that belong to one version only."""
    kind = resource.get("resourceType")
    if kind == "Patient" and any(
        isinstance(name, dict) and isinstance(name.get("family"), list)
        for name in resource.get("name", [])
    ):
        yield "DSTU2", f"{label}.name.family is a list"
    if kind in ("Condition", "MedicationStatement", "Procedure") and "patient" in resource:
        yield "DSTU2", f"{label} names its patient in `patient`, not `subject`"
    if kind == "Observation" and isinstance(resource.get("category"), dict):
        yield "DSTU2", f"{label}.category is one concept, not a list"
    if kind == "Condition":
        for element in ("clinicalStatus", "verificationStatus"):
            if isinstance(resource.get(element), str) and "patient" not in resource:
                yield "STU3", f"{label}.{element} is a code, not a CodeableConcept"
        if "assertedDate" in resource:
            yield "STU3", f"{label} has assertedDate (R4: recordedDate)"
    if kind == "MedicationStatement" and "taken" in resource:
        yield "STU3", f"{label} has `taken`"
    if kind == "Observation" and "context" in resource:
        yield "STU3", f"{label} has `context` (R4: encounter)"
    if kind in ("MedicationStatement", "MedicationRequest") and isinstance(
        resource.get("medication"), dict
    ):
        yield "R5", f"{label}.medication is a CodeableReference"
    if kind == "Procedure" and any(key.startswith("occurrence") for key in resource):
        yield "R5", f"{label} has occurrence[x] (R4: performed[x])"


def _evidence(bundle: dict[str, Any]) -> Iterator[tuple[str, str]]:
    declared = _declared(bundle.get("fhirVersion", ""))
    if declared not in (None, R4):
        yield str(declared), f"Bundle.fhirVersion {bundle['fhirVersion']}"
    entries = bundle.get("entry")
    for i, raw in enumerate(entries if isinstance(entries, list) else []):
        resource = raw.get("resource") if isinstance(raw, dict) else None
        if not isinstance(resource, dict):
            continue
        label = _label(resource, i)
        kind = resource.get("resourceType")
        if kind in _TYPES_ONLY_IN:
            yield _TYPES_ONLY_IN[kind], f"{label} is a {_TYPES_ONLY_IN[kind]} resource type"
        declared = _declared(resource.get("fhirVersion", ""))
        if "fhirVersion" in resource and declared not in (None, R4):
            yield str(declared), f"{label}.fhirVersion {resource['fhirVersion']}"
        meta = resource.get("meta")
        for profile in meta.get("profile", []) if isinstance(meta, dict) else []:
            for hint, version in _PROFILE_HINTS:
                if isinstance(profile, str) and hint in profile.lower():
                    yield version, f"{label} claims profile {profile}"
        yield from _shapes(resource, label)


def other_version(bundle: dict[str, Any]) -> tuple[str, list[str]] | None:
    """(version, evidence) when the Bundle is not FHIR R4, naming the best-supported version."""
    found: dict[str, list[str]] = {}
    for version, evidence in _evidence(bundle):
        found.setdefault(version, []).append(evidence)
    if not found:
        return None
    version = max(found, key=lambda v: len(found[v]))
    return version, found[version]
