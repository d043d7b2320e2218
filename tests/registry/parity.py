"""Field-by-field comparison of the batch output with `netlm.assess` on the same case."""

import json
from typing import Any

from netlm.engine.assess import _Assessor
from netlm.knowledge.load import KnowledgeBase
from netlm.model.case import Case
from netlm.registry.explain import rule_reasons


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
                for line in rule_reasons(kb, e["option"], rule, assessor.facts)
            ],
        )
        for e in excluded
    ]
    want_ex = [(e.option, e.reasons) for e in engine.excluded]
    if got_ex != want_ex:
        diff = [(g, w) for g, w in zip(got_ex, want_ex, strict=False) if g != w]
        out.append(f"excluded: first difference batch/engine {diff[:1] or (got_ex, want_ex)}")
    return out
