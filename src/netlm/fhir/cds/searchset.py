"""How a FHIR server answers netlm's prefetch templates over a list of resources.

Only the search parameters the templates use: `patient`, `code` (`system|code` lists and the
`system|` form), `_sort` on the resource's date (newest first), `_count` and the `_include`s of
the referenced Medication and of a report's result Observations. The demo EHR
(scripts/demo_ehr.py), the benchmark and the tests use it to send what an EHR would send, so they
follow the templates wherever these change.
"""

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from netlm.fhir.cds.prefetch import PATIENT_TOKEN, PREFETCH, sort_date

_INCLUDES = {
    ":medication": ("medicationReference", "Medication"),
    ":result": ("result", "Observation"),
}


def _codes(resource: dict[str, Any]) -> set[str]:
    """`system|code` and `system|` of each coding of the resource's code."""
    concept = resource.get("code")
    out: set[str] = set()
    for coding in concept.get("coding", []) if isinstance(concept, dict) else []:
        system = str(coding.get("system", ""))
        out |= {f"{system}|{coding.get('code', '')}", f"{system}|"}
    return out


def matches(resources: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    """The resources a search such as `Observation?patient=p&code=...&_sort=-date` finds, in
    its order; `_count` is a page size, applied by the caller."""
    url = urlsplit(query)
    kind = url.path.rsplit("/", 1)[-1]
    params = parse_qs(url.query)
    patient = (params.get("patient") or [""])[0]
    wanted = set((params.get("code") or [""])[0].split(",")) - {""}
    found = [
        r
        for r in resources
        if r.get("resourceType") == kind
        and r.get("subject", {}).get("reference") == f"Patient/{patient}"
        and (not wanted or wanted & _codes(r))
    ]
    if (params.get("_sort") or [""])[0].startswith("-"):
        found.sort(key=sort_date, reverse=True)
    return found


def included(
    resources: list[dict[str, Any]], found: list[dict[str, Any]], query: str
) -> list[dict[str, Any]]:
    """The resources `found` references, for each `_include` of the query."""
    out: list[dict[str, Any]] = []
    for value in parse_qs(urlsplit(query).query).get("_include", []):
        element, kind = next((v for k, v in _INCLUDES.items() if value.endswith(k)), ("", ""))
        refs = [r.get(element) for r in found]
        wanted = {
            str(ref.get("reference", "")).removeprefix(f"{kind}/")
            for item in refs
            for ref in (item if isinstance(item, list) else [item])
            if isinstance(ref, dict)
        }
        out += [r for r in resources if r.get("resourceType") == kind and r.get("id") in wanted]
    return out


def searchset(
    matched: list[dict[str, Any]],
    includes: Sequence[dict[str, Any]] = (),
    next_url: str | None = None,
    total: int | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(matched) if total is None else total,
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in matched]
        + [{"resource": r, "search": {"mode": "include"}} for r in includes],
    }
    if next_url:
        out["link"] = [{"relation": "next", "url": next_url}]
    return out


def count(query: str) -> int | None:
    """The query's `_count`, if any."""
    value = (parse_qs(urlsplit(query).query).get("_count") or [""])[0]
    return int(value) if value.isdigit() else None


def prefetch_for(resources: list[dict[str, Any]], patient_id: str) -> dict[str, Any]:
    """The prefetch an EHR holding `resources` sends for netlm's templates: each search's first
    `_count` matches (a total larger than that says there were more)."""
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
        page = found[: count(query) or len(found)]
        out[key] = searchset(page, included(resources, page, query), total=len(found))
    return out
