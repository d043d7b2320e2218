"""Resectability of the liver disease for curative intent, with a reason for each finding.

Precedence, all from knowledge-base rules: any `unresectable` rule that holds wins; then any
`potentially_resectable` rule; then `resectable` when its requirements hold. Rules that cannot be
evaluated for lack of data do not block the result but are reported as missing findings; when
the requirements themselves cannot be checked the result is `undetermined`.
"""

from dataclasses import dataclass

from netlm.knowledge.conditions import Condition, Facts, Truth, evaluate
from netlm.knowledge.load import Compiled, KnowledgeBase
from netlm.model.codes import Resectability


@dataclass(frozen=True)
class ResectabilityResult:
    value: Resectability
    rules: tuple[Compiled, ...]  # the rules that decided the value
    requirement: Condition | None  # set when the value rests on the unmet `resectable_when`
    missing: tuple[str, ...]


def resectability(facts: Facts, kb: KnowledgeBase) -> ResectabilityResult:
    missing: set[str] = set()
    ordered: tuple[tuple[Resectability, tuple[Compiled, ...]], ...] = (
        ("unresectable", kb.unresectable_rules),
        ("potentially_resectable", kb.potentially_resectable_rules),
    )
    for value, rules in ordered:
        held = []
        for compiled in rules:
            outcome = evaluate(compiled.when, facts, kb.definitions)
            if outcome.truth is Truth.TRUE:
                held.append(compiled)
            missing |= outcome.missing
        if held:
            return ResectabilityResult(value, tuple(held), None, ())
    requirement = evaluate(kb.resectable_when, facts, kb.definitions)
    if requirement.truth is Truth.TRUE:
        return ResectabilityResult("resectable", (), None, tuple(sorted(missing)))
    if requirement.truth is Truth.UNKNOWN:
        missing |= requirement.missing
        return ResectabilityResult("undetermined", (), kb.resectable_when, tuple(sorted(missing)))
    return ResectabilityResult("unresectable", (), kb.resectable_when, ())
