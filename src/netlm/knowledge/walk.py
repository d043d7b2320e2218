"""Every rule and condition of a knowledge base, named by where it lives.

The consistency check walks them to find unknown facts; the FHIR mapping walks them to learn at
which values a numeric finding changes an answer.
"""

from collections.abc import Iterator

from netlm.knowledge.conditions import Condition, Leaf, leaves
from netlm.knowledge.load import Compiled, KnowledgeBase


def all_rules(kb: KnowledgeBase) -> Iterator[tuple[str, Compiled]]:
    """Every compiled rule of the knowledge base, named by where it lives."""
    for code, entry in kb.options.items():
        for group, items in (
            ("indication", entry.indications),
            ("contraindication", entry.contraindications),
            ("eligibility", entry.eligibility),
            ("caution", entry.cautions),
        ):
            for item in items:
                yield f"rules:{code}.{group}.{item.rule.id}", item
    for group, rules in (
        ("liver_pattern", kb.pattern_rules),
        ("unresectable", kb.unresectable_rules),
        ("potentially_resectable", kb.potentially_resectable_rules),
        ("flags", kb.flags),
    ):
        for compiled in rules:
            yield f"{group}.{compiled.rule.id}", compiled


def all_conditions(kb: KnowledgeBase) -> Iterator[tuple[str, Condition]]:
    for where, compiled in all_rules(kb):
        yield where, compiled.when
    for name, cond in kb.definitions.items():
        yield f"definitions:{name}", cond
    yield "classification.resectable_when", kb.resectable_when
    for code, entry in kb.options.items():
        for region, scope in entry.scopes.items():
            yield f"options:{code}.availability.{region}.scope", scope


def thresholds(kb: KnowledgeBase) -> dict[str, tuple[Leaf, ...]]:
    """Each fact -> every comparison netlm makes on it: rule clauses and the WHO grade cuts.

    A grade is G1 below `g2_from` and G3 above `g3_above` (classify.grade), so those two are
    comparisons too.
    """
    found: dict[str, list[Leaf]] = {}
    for _, cond in all_conditions(kb):
        for leaf in leaves(cond):
            found.setdefault(leaf.fact, []).append(leaf)
    grading = kb.classification.grading
    for fact, cuts in (
        ("pathology.ki67_percent", grading.ki67_percent),
        ("pathology.mitoses_per_2mm2", grading.mitoses_per_2mm2),
    ):
        found.setdefault(fact, []).append(Leaf(fact, "lt", cuts.g2_from))
        found.setdefault(fact, []).append(Leaf(fact, "gt", cuts.g3_above))
    return {
        fact: tuple({(leaf.op, repr(leaf.value)): leaf for leaf in items}.values())
        for fact, items in found.items()
    }
