"""Liver-metastasis pattern (type I simple, II complex, III diffuse).

A stated reading (radiologist or surgeon) always wins. Otherwise the ordered derivation rules of
the knowledge base apply; when none decides, the pattern is `unclassified` and the fields that
would decide it are returned, so the engine can ask for them.
"""

from dataclasses import dataclass

from netlm.knowledge.conditions import Facts, Truth, evaluate
from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.schema import PatternRule
from netlm.model.codes import PatternResult


@dataclass(frozen=True)
class PatternResultWithBasis:
    pattern: PatternResult
    stated: bool
    rule: PatternRule | None
    missing: tuple[str, ...]


def liver_pattern(facts: Facts, kb: KnowledgeBase) -> PatternResultWithBasis:
    stated = facts.get("liver.pattern")
    if stated is not None:
        return PatternResultWithBasis(stated, True, None, ())
    missing: set[str] = set()
    for compiled in kb.pattern_rules:
        outcome = evaluate(compiled.when, facts, kb.definitions)
        if outcome.truth is Truth.TRUE:
            rule: PatternRule = compiled.rule
            return PatternResultWithBasis(rule.pattern, False, rule, ())
        missing |= outcome.missing
    return PatternResultWithBasis("unclassified", False, None, ("liver.pattern", *sorted(missing)))
