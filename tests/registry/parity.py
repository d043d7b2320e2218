"""Field-by-field comparison of the batch output with `netlm.assess` on the same case.

The engine runs once per case, which is what costs; `all_differences` spreads the cases over
the machine's cores (forked workers, each comparing a slice in order), which cannot change a
result: each comparison reads only its own row and case.
"""

import json
import multiprocessing
import os
from typing import Any

from netlm.engine.assess import _Assessor
from netlm.knowledge.load import KnowledgeBase, load_knowledge_base
from netlm.model.case import Case
from netlm.registry.explain import rule_reasons
from netlm.registry.render import NO_INDICATION

_WORDED: dict[tuple[str, str], list[str]] = {}  # rules whose wording does not read the case


def _reasons(kb: KnowledgeBase, option: str, rule: str, facts: Any) -> list[str]:
    if rule.startswith(NO_INDICATION):
        return rule_reasons(kb, option, rule, facts)
    if (option, rule) not in _WORDED:
        _WORDED[(option, rule)] = rule_reasons(kb, option, rule, facts)
    return _WORDED[(option, rule)]


def differences(row: dict[str, Any], case: Case, kb: KnowledgeBase) -> list[str]:
    """Every field where the batch row and the engine disagree (empty when they agree)."""
    assessor = _Assessor(case, kb, "en")
    engine = assessor.run()
    c = engine.classification
    out = []
    expected_class = {
        "classification.grade": c.grade,
        "classification.liver_pattern": c.liver_pattern,
        "classification.resectability": c.resectability,
        "classification.intent": c.intent,
    }
    for name, value in expected_class.items():
        if row[name] != value:
            out.append(f"{name}: batch {row[name]!r}, engine {value!r}")
    recs = json.loads(row["recommendations"])
    got = [(r["option"], r["strength"], r["rank"], r["tier"], r["availability"]) for r in recs]
    want = [
        (r.option, r.strength, r.rank, r.tier, dict(r.availability)) for r in engine.recommendations
    ]
    if got != want:
        out.append(f"recommendations: batch {got}, engine {want}")
    excluded = json.loads(row["excluded"])
    got_ex = [
        (
            e["option"],
            [
                line
                for rule in e["rules"]
                for line in _reasons(kb, e["option"], rule, assessor.facts)
            ],
        )
        for e in excluded
    ]
    want_ex = [(e.option, e.reasons) for e in engine.excluded]
    if got_ex != want_ex:
        diff = [(g, w) for g, w in zip(got_ex, want_ex, strict=False) if g != w]
        out.append(f"excluded: first difference batch/engine {diff[:1] or (got_ex, want_ex)}")
    return out


_SHARED: tuple[list[dict[str, Any]], list[Case]] = ([], [])  # inherited by forked workers


def _slice(bounds: tuple[int, int]) -> list[str]:
    rows, cases = _SHARED
    kb = load_knowledge_base()
    return [
        f"{cases[i].id}: {d}" for i in range(*bounds) for d in differences(rows[i], cases[i], kb)
    ]


def all_differences(rows: list[dict[str, Any]], cases: list[Case]) -> list[str]:
    """Every difference, row by row in order (rows and cases in the same order)."""
    global _SHARED
    assert [r["id"] for r in rows] == [c.id for c in cases]
    workers = max(1, min(os.cpu_count() or 1, 4))
    step = -(-len(cases) // (workers * 4))
    bounds = [(lo, min(lo + step, len(cases))) for lo in range(0, len(cases), step)]
    _SHARED = (rows, cases)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            found = pool.map(_slice, bounds)
    finally:
        _SHARED = ([], [])
    return [d for part in found for d in part]
