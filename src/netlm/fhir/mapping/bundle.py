"""The Bundle's entries: version check, validation with the R4B models, the chosen Patient."""

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from netlm.fhir.mapping.builder import Entry
from netlm.fhir.mapping.result import NOT_USED, FhirMappingError, Unmapped
from netlm.fhir.mapping.versions import other_version
from netlm.model.parse import Problem

CLINICAL_TYPES = frozenset(
    {
        "Condition",
        "Observation",
        "DiagnosticReport",
        "Procedure",
        "MedicationStatement",
        "MedicationRequest",
        "MedicationAdministration",
    }
)


def _validation_problems(label: str, exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        out.append(Problem(f"{label}.{loc}" if loc else label, message))
    return out


def _refuse_other_version(bundle: Mapping[str, Any]) -> None:
    """Refuse a non-R4 Bundle by name, listing every clinical resource it would have read."""
    found = other_version(dict(bundle))
    if found is None:
        return
    version, evidence = found
    more = len(evidence) - 3
    shown = "; ".join(evidence[:3]) + (f"; and {more} more" if more > 0 else "")
    resources = [raw.get("resource") for raw in bundle.get("entry", []) if isinstance(raw, dict)]
    unread = [
        Unmapped(NOT_USED, f"{r['resourceType']}/{r.get('id', '?')}: not read (FHIR {version})")
        for r in resources
        if isinstance(r, dict) and r.get("resourceType") in CLINICAL_TYPES | {"MedicationOrder"}
    ]
    message = (
        f"this is a FHIR {version} Bundle ({shown}); netlm reads FHIR R4 (4.0.1) only: "
        "convert it to R4 first"
    )
    raise FhirMappingError([Problem("(bundle)", message)], unread)


def validated_entries(bundle: Mapping[str, Any]) -> tuple[list[Entry], list[Problem]]:
    """The valid entries, and the problems of the clinical resources left out.

    A Bundle of another FHIR version, or a malformed Bundle or Patient, refuses the whole
    import; an invalid Condition, Observation or other resource is left out and reported, so
    that the rest of the chart is still used.
    """
    if not isinstance(bundle, Mapping):
        raise FhirMappingError([Problem("(bundle)", "must be a JSON object (a FHIR Bundle)")])
    if bundle.get("resourceType") != "Bundle":
        got = bundle.get("resourceType")
        raise FhirMappingError([Problem("(bundle)", f"resourceType must be Bundle, got {got!r}")])
    raw_entries = bundle.get("entry", [])
    if not isinstance(raw_entries, list):
        raise FhirMappingError([Problem("Bundle.entry", "must be a list")])
    _refuse_other_version(bundle)
    problems: list[Problem] = []
    skipped: list[Problem] = []
    shell = {**bundle, "entry": [_without_resource(e) for e in raw_entries]}
    try:
        Bundle.model_validate(shell)
    except ValidationError as exc:
        problems += _validation_problems("Bundle", exc)
    entries: list[Entry] = []
    for i, raw in enumerate(raw_entries):
        resource = raw.get("resource") if isinstance(raw, dict) else None
        if resource is None:
            continue
        entry = Entry(i, raw.get("fullUrl"), resource if isinstance(resource, dict) else {})
        kind = entry.data.get("resourceType")
        found = problems if kind == "Patient" else skipped
        if not isinstance(kind, str):
            skipped.append(Problem(f"Bundle.entry[{i}].resource", "has no resourceType"))
            continue
        try:
            get_fhir_model_class(kind).model_validate(entry.data)
        except ValueError as exc:  # ValidationError is a ValueError; so is an unknown type
            if isinstance(exc, ValidationError):
                found += _validation_problems(entry.label, exc)
            else:
                found.append(Problem(entry.label, f"{kind!r} is not an R4 resource type"))
            continue
        entries.append(entry)
    if problems:
        raise FhirMappingError(problems)
    return entries, skipped


def _without_resource(raw: Any) -> Any:
    return {k: v for k, v in raw.items() if k != "resource"} if isinstance(raw, dict) else raw


def select_patient(entries: list[Entry], patient_id: str | None) -> Entry:
    patients = [e for e in entries if e.type == "Patient" and "id" in e.data]
    ids = ", ".join(str(p.data["id"]) for p in patients) or "none"
    if patient_id is not None:
        for p in patients:
            if p.data["id"] == patient_id:
                return p
        raise FhirMappingError(
            [Problem("(patient)", f"no Patient with id {patient_id!r} (Patients: {ids})")]
        )
    if len(patients) == 1:
        return patients[0]
    if not patients:
        raise FhirMappingError([Problem("(patient)", "the Bundle holds no Patient with an id")])
    raise FhirMappingError(
        [Problem("(patient)", f"{len(patients)} Patients ({ids}); choose one with patient_id")]
    )


def is_patient(reference: str, refs: set[str], pid: str) -> bool:
    if reference in refs:
        return True
    tail = reference.split("/_history/")[0]
    return tail.endswith(f"/Patient/{pid}")
