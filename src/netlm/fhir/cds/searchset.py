"""How a FHIR server answers netlm's prefetch templates over a list of resources.

Only the search parameters the templates use: `patient`, `category` and `_include` of the
referenced Medication. The demo EHR (scripts/demo_ehr.py), the benchmark and the tests use it to
send what an EHR would send, so they follow the templates wherever these change.
"""

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from netlm.fhir.cds.prefetch import PATIENT_TOKEN, PREFETCH


def _category_codes(resource: dict[str, Any]) -> set[str]:
    categories = resource.get("category", [])
    return {
        str(coding.get("code"))
        for concept in (categories if isinstance(categories, list) else [categories])
        if isinstance(concept, dict)
        for coding in concept.get("coding", [])
        if isinstance(coding, dict)
    }


def matches(resources: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    """The resources a search such as `Observation?patient=p&category=laboratory` finds."""
    url = urlsplit(query)
    kind = url.path.rsplit("/", 1)[-1]
    params = parse_qs(url.query)
    patient = (params.get("patient") or [""])[0]
    wanted = set((params.get("category") or [""])[0].split(",")) - {""}
    return [
        r
        for r in resources
        if r.get("resourceType") == kind
        and r.get("subject", {}).get("reference") == f"Patient/{patient}"
        and (not wanted or wanted & _category_codes(r))
    ]


def included(
    resources: list[dict[str, Any]], found: list[dict[str, Any]], query: str
) -> list[dict[str, Any]]:
    """The Medications `found` reference, when the query asks `_include=...:medication`."""
    includes = parse_qs(urlsplit(query).query).get("_include", [])
    if not any(value.endswith(":medication") for value in includes):
        return []
    wanted = {
        str(r.get("medicationReference", {}).get("reference", "")).removeprefix("Medication/")
        for r in found
    }
    return [r for r in resources if r.get("resourceType") == "Medication" and r.get("id") in wanted]


def searchset(
    matched: list[dict[str, Any]],
    includes: Sequence[dict[str, Any]] = (),
    next_url: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matched),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in matched]
        + [{"resource": r, "search": {"mode": "include"}} for r in includes],
    }
    if next_url:
        out["link"] = [{"relation": "next", "url": next_url}]
    return out


def prefetch_for(resources: list[dict[str, Any]], patient_id: str) -> dict[str, Any]:
    """The prefetch an EHR holding `resources` sends for netlm's templates."""
    out: dict[str, Any] = {}
    for key, template in PREFETCH.items():
        query = template.replace(PATIENT_TOKEN, patient_id)
        if "?" not in query:  # a read: Patient/<id>
            kind, rid = query.split("/")
            out[key] = next(
                r for r in resources if r.get("resourceType") == kind and r.get("id") == rid
            )
            continue
        found = matches(resources, query)
        out[key] = searchset(found, included(resources, found, query))
    return out
