"""Small FHIR charts for the mapping tests: Patient p with a pancreatic primary and liver
metastases, plus the resources a test adds."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

from netlm.fhir import bundle_to_case
from netlm.fhir import codes as c

BUNDLES = Path(__file__).parent / "bundles"
ON = dt.date(2024, 6, 1)
SUBJECT = {"reference": "Patient/p"}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((BUNDLES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def bundle(*resources: dict[str, Any], birth: str = "1960-06-15") -> dict[str, Any]:
    """A Bundle with Patient p, a pancreatic primary and liver metastases, plus `resources`."""
    base = [
        {"resourceType": "Patient", "id": "p", "birthDate": birth, "gender": "female"},
        condition("prim", bodySite=[concept(c.SNOMED, "15776009")]),
        condition("liv", code=concept(c.SNOMED, "94381002")),
    ]
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"resource": r} for r in (*base, *resources)]}  # fmt: skip


def concept(system: str, code: str, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": system, "code": code}]}
    if text:
        out["text"] = text
    return out


def condition(rid: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": rid, "subject": SUBJECT,
            "code": fields.pop("code", {"text": "neuroendocrine tumour"}), **fields}  # fmt: skip


def obs(rid: str, system: str, code: str, date: str = "2024-05-01", **value: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": rid, "status": "final",
            "code": concept(system, code), "subject": SUBJECT, "effectiveDateTime": date, **value}  # fmt: skip


def qty(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": c.UCUM, "code": unit}


def med(rid: str, medication: dict[str, Any], status: str, reason: str | None = None,
        start: str = "2023-01-01") -> dict[str, Any]:  # fmt: skip
    out = {"resourceType": "MedicationStatement", "id": rid, "status": status,
           "medicationCodeableConcept": medication, "subject": SUBJECT,
           "effectivePeriod": {"start": start}}  # fmt: skip
    if reason:
        out["statusReason"] = [concept(c.NETLM_OUTCOME, reason)]
    return out


def proc(
    rid: str, code: dict[str, Any], status: str = "completed", **fields: Any
) -> dict[str, Any]:
    return {"resourceType": "Procedure", "id": rid, "status": status, "code": code,
            "subject": SUBJECT, "performedDateTime": "2022-01-01", **fields}  # fmt: skip


def mapped(*resources: dict[str, Any], **kw: Any) -> Any:
    return bundle_to_case(bundle(*resources, **kw), on=ON)


def fields(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = result.case.to_json_dict()
    return out


def reasons(result: Any, field: str) -> list[str]:
    return [u.reason for u in result.unmapped if u.field == field]
