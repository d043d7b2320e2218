"""From what was read to a validated netlm.case/1, or a refusal that names why."""

from dataclasses import replace
from typing import Any, get_args

from netlm.fhir.mapping.builder import Builder
from netlm.fhir.mapping.result import FhirImport, FhirMappingError, Proposal
from netlm.fhir.mapping.therapies import prior_therapies
from netlm.knowledge.conditions import UpTo
from netlm.model.case import KI67_BOUNDS, Case
from netlm.model.codes import ExtrahepaticSite
from netlm.model.parse import CaseInputError, Problem, parse_case

MAX_CONDITIONS_SHOWN = 20
SITES_READ = (
    "bodySite SNOMED, ICD-O-3 topography or ICD-10 C16-C20, C25, C80.9 in any ICD-10 edition"
)


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _refuse(b: Builder, problems: list[Problem]) -> FhirMappingError:
    return FhirMappingError(problems, b.unmapped)


def _no_primary(b: Builder) -> Problem:
    """The refusal for a chart without a readable primary, naming every Condition it saw."""
    seen = b.conditions_seen[:MAX_CONDITIONS_SHOWN]
    more = len(b.conditions_seen) - len(seen)
    listed = "; ".join(seen) + (f"; and {more} more" if more > 0 else "")
    looked = f"Conditions seen: {listed}" if seen else "the Bundle holds no Condition for them"
    return Problem(
        "primary.site",
        f"no Condition for the primary tumour with a site netlm reads ({SITES_READ}); "
        f"netlm.case/1 requires it. {looked}",
    )


def assemble(b: Builder, case_id: str) -> FhirImport:
    refusals = list(b.refusals)
    sites = {site for site, _ in b.primaries}
    if len(sites) > 1:
        seen = ", ".join(f"{e.label}: {s}" for s, e in b.primaries)
        refusals.append(Problem("primary.site", f"the primary tumour Conditions disagree ({seen})"))
    if not sites:
        refusals.append(_no_primary(b))
    if refusals:
        raise _refuse(b, refusals)
    sources: dict[str, str] = {}
    data: dict[str, Any] = {
        "schema": "netlm.case/1",
        "id": case_id,
        "primary": {"site": sites.pop()},
        "liver": {},
    }
    sources["primary.site"] = ", ".join(e.label for _, e in b.primaries)
    liver = b.values.pop("liver", None)
    if liver is None:
        b.miss(
            "liver",
            "no Condition for liver metastases (SNOMED 94381002, ICD-10 C78.7 or "
            "C7B.02); the liver section holds only what Observations say",
        )
    else:
        sources["liver"] = liver.source
    _assemble_extrahepatic(b, data, sources)
    for path, held in sorted(b.values.items()):
        if isinstance(held.value, UpTo):  # a Ki-67 bound goes to its own field, "<3" or "≤2"
            path = next(p for p, incl in KI67_BOUNDS.items() if incl == held.value.inclusive)
            _set(data, path, held.value.bound)
        else:
            _set(data, path, held.value)
        sources[path] = held.source
    therapies = prior_therapies(b)
    if therapies:
        data["prior_therapies"] = [{"option": o, "outcome": out} for o, out, _ in therapies]
        for i, (_, _, source) in enumerate(therapies):
            sources[f"prior_therapies[{i}]"] = source
    case = _validate(data, sources, b)
    return FhirImport(case, b.unmapped, sources, _with_case_values(b, case))


def _with_case_values(b: Builder, case: Case) -> list[Proposal]:
    """Each proposal with what the case holds for its field, so a disagreement shows."""
    held = case.to_json_dict()
    out = []
    for p in b.proposals:
        node: Any = held
        for part in p.field.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        out.append(replace(p, in_case=node))
    return out


def _assemble_extrahepatic(b: Builder, data: dict[str, Any], sources: dict[str, str]) -> None:
    present = b.values.pop("extrahepatic.present", None)
    resectable = b.values.pop("extrahepatic.resectable", None)
    sites = [s for s in get_args(ExtrahepaticSite) if s in b.sites]
    if sites:
        if present is not None and present.value is False:
            b.miss(
                "extrahepatic.sites",
                f"{present.source} says no extrahepatic disease, but "
                "Conditions name sites; the Conditions were used",
            )
        data["extrahepatic"] = {"sites": sites}
        for i, s in enumerate(sites):
            sources[f"extrahepatic.sites[{i}]"] = b.sites[s].source
    elif present is not None and present.value is False:
        data["extrahepatic"] = {"sites": []}
        sources["extrahepatic.sites"] = present.source
    elif present is not None:
        b.miss(
            "extrahepatic.sites",
            f"{present.source} says there is extrahepatic disease, but "
            "no Condition names a site netlm reads",
        )
    if resectable is None:
        return
    if "extrahepatic" in data:
        data["extrahepatic"]["resectable"] = resectable.value
        sources["extrahepatic.resectable"] = resectable.source
    else:
        b.miss(
            "extrahepatic.resectable",
            f"{resectable.source} gives resectability, but the "
            "extrahepatic sites are not known (netlm would read that as none)",
        )


def _validate(data: dict[str, Any], sources: dict[str, str], b: Builder) -> Case:
    """Validate the case; a value that breaks the contract is dropped and reported, not fixed."""
    while True:
        try:
            return parse_case(data)
        except CaseInputError as exc:
            removable = [p for p in exc.problems if p.path in sources and p.path != "primary.site"]
            if len(removable) != len(exc.problems):
                raise _refuse(b, exc.problems) from None
            for p in removable:
                b.miss(p.path, f"{p.message} (from {sources.pop(p.path)}); left out")
                *parents, leaf = p.path.split(".")
                node = data
                for part in parents:
                    node = node[part]
                del node[leaf]
