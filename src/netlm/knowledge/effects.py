"""Which effect estimates of an evidence record speak for which option.

A hazard ratio compares a trial's experimental arm with its control arm, so it credits only the
options the experimental arm tested: NETTER-2's HR 0.276 is PRRT's effect, never the effect of
the high-dose octreotide it was measured against. The forest plot, the arm tables and
`netlm kb check` all ask this module, so they cannot disagree.
"""

from dataclasses import dataclass

from netlm.knowledge.schema import Endpoint, Evidence, Text


@dataclass(frozen=True)
class Estimate:
    """One treatment effect: an endpoint's hazard ratio and what it compared."""

    endpoint: Endpoint
    hr: float
    comparison: Text


def credits(record: Evidence, option: str) -> bool:
    """The record's comparison tested this option (it is in the experimental arm only)."""
    comparison = record.comparison
    return (
        comparison is not None
        and option in comparison.experimental
        and option not in comparison.control
    )


def effect_estimates(record: Evidence, option: str) -> list[Estimate]:
    """The treatment effects (experimental over control) this record shows for the option,
    primary endpoint first; prognostic hazard ratios are never among them."""
    comparison = record.comparison
    if comparison is None or not credits(record, option):
        return []
    shown = [
        Estimate(e, e.hr, comparison.label)
        for e in record.endpoints
        if e.hr is not None and not e.prognostic and e.hr_direction == "treatment_vs_control"
    ]
    return sorted(shown, key=lambda s: not s.endpoint.primary)


def record_problems(record: Evidence) -> list[str]:
    """What would let an estimate be credited to the wrong arm or a figure be misread."""
    where = f"evidence:{record.id}"
    problems: list[str] = []
    comparison = record.comparison
    if comparison is not None:
        both = sorted(set(comparison.experimental) & set(comparison.control))
        if both:
            problems.append(f"{where}: {', '.join(both)} in both the experimental and control arm")
    for endpoint in record.endpoints:
        name = f"{where}: endpoint {endpoint.name.en!r}"
        if endpoint.hr is not None and not endpoint.prognostic and comparison is None:
            problems.append(
                f"{name} has a hazard ratio but the record names no comparison "
                "(experimental and control arms), or mark it prognostic"
            )
        if endpoint.prognostic and endpoint.primary:
            problems.append(f"{name} is both prognostic and the primary endpoint")
        for index in endpoint.not_reached:
            if index >= len(endpoint.values) or endpoint.values[index] is not None:
                problems.append(f"{name}: not_reached index {index} must point at a null value")
    randomised = record.design.startswith("rct")
    if randomised and comparison is not None and not any(e.primary for e in record.endpoints):
        problems.append(f"{where}: a randomised comparison names no primary endpoint")
    return problems


def indication_problems(option: str, rule_id: str, records: list[Evidence]) -> list[str]:
    """An indication rests on a comparison only if that comparison tested its option."""
    return [
        f"rules:{option}.indication.{rule_id}: cites {r.id}, whose estimates are for "
        f"{', '.join(r.comparison.experimental)}, not {option}"
        for r in records
        if r.comparison is not None and not credits(r, option)
    ]
