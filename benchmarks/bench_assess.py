"""Benchmark of the assessment engine (run by `make bench`; not a test).

1. `netlm.assess` over 10,000 random valid cases, in process: median, p99, cases per second,
   in English and Chinese, and end to end (JSON text in, JSON text out).
2. Peer comparison, side by side in one run: evaluating every rule condition of the knowledge
   base with netlm's three-valued condition evaluator vs json-logic (panzi-json-logic), the
   common declarative rule format, on the same facts. json-logic has no notion of "unknown"
   (a missing value compares as null, so `null < 10` is true) and cannot explain a failed
   condition; the ratio shows what netlm's semantics cost.
"""

import json
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any, get_args

from json_logic import jsonLogic

from netlm import assess, load_knowledge_base, parse_case, parse_case_json
from netlm.classify import derive
from netlm.knowledge.conditions import All, AnyOf, Condition, Leaf, Not, OneOf, Ref, evaluate
from netlm.model import codes

N_CASES = int(os.environ.get("NETLM_BENCH_CASES", "10000"))
SEED = 20261127


def random_case(rng: random.Random, i: int) -> dict[str, Any]:
    def maybe(p: float = 0.7) -> bool:
        return rng.random() < p

    def pick(literal: Any) -> Any:
        return rng.choice(get_args(literal))

    case: dict[str, Any] = {
        "schema": "netlm.case/1",
        "id": f"bench-{i}",
        "primary": {"site": pick(codes.PrimarySite), "status": pick(codes.PrimaryStatus)},
        "liver": {"lesion_count": rng.randint(1, 40)},
    }
    if maybe():
        case["primary"]["resectable"] = maybe(0.5)
    if maybe():
        case["region"] = pick(codes.Region)
    case["patient"] = {"age_years": rng.randint(20, 90), "ecog": rng.randint(0, 4)}
    case["pathology"] = {"differentiation": pick(codes.Differentiation)}
    if maybe(0.9):
        case["pathology"]["ki67_percent"] = round(rng.uniform(0, 90), 1)
    if maybe(0.4):
        case["pathology"]["mitoses_per_2mm2"] = rng.randint(0, 40)
    liver = case["liver"]
    liver["tumor_burden_percent"] = rng.randint(1, 90)
    if maybe(0.6):
        liver["pattern"] = pick(codes.LiverPattern)
    if maybe(0.3):
        liver["resectable"] = maybe(0.5)
    if maybe(0.5):
        liver["future_liver_remnant_percent"] = rng.randint(10, 90)
    if maybe(0.9):
        sites = rng.sample(get_args(codes.ExtrahepaticSite), rng.randint(0, 2))
        case["extrahepatic"] = {"sites": sites}
    if maybe(0.8):
        case["sstr_imaging"] = {
            "krenning_score": rng.randint(0, 4),
            "all_lesions_positive": maybe(),
        }
    case["course"] = {"status": pick(codes.CourseStatus), "months_stable": rng.randint(0, 24)}
    case["symptoms"] = {"bulky_symptomatic": maybe(0.3), "hormonal_refractory": maybe(0.2)}
    case["prior_therapies"] = [
        {"option": pick(codes.OptionCode), "outcome": pick(codes.TherapyOutcome)}
        for _ in range(rng.randint(0, 3))
    ]
    case["history"] = {"bilioenteric_anastomosis": maybe(0.2)}
    if maybe(0.6):
        case["labs"] = {
            "creatinine_clearance_ml_min": rng.randint(20, 120),
            "platelets_10e9_per_l": rng.randint(40, 400),
            "hemoglobin_g_dl": round(rng.uniform(7, 16), 1),
            "bilirubin_x_uln": round(rng.uniform(0.3, 3), 1),
            "albumin_g_dl": round(rng.uniform(2.5, 5), 1),
        }
    return case


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[Any], Any], items: list[Any]) -> list[float]:
    out = []
    for item in items:
        start = time.perf_counter_ns()
        fn(item)
        out.append((time.perf_counter_ns() - start) / 1e6)
    return out


def report(name: str, samples: list[float]) -> float:
    median = statistics.median(samples)
    p99 = percentile(samples, 0.99)
    rate = len(samples) / (sum(samples) / 1000)
    print(f"  {name:<44} median {median:7.3f} ms   p99 {p99:7.3f} ms   {rate:9,.0f} cases/s")
    return median


def to_json_logic(cond: Condition, definitions: dict[str, Condition]) -> Any:
    """Translate a netlm condition into json-logic (refs inlined)."""
    if isinstance(cond, Ref):
        return to_json_logic(definitions[cond.name], definitions)
    if isinstance(cond, Not):
        return {"!": to_json_logic(cond.item, definitions)}
    if isinstance(cond, All | AnyOf):
        key = "and" if isinstance(cond, All) else "or"
        return {key: [to_json_logic(c, definitions) for c in cond.items]} if cond.items else True
    assert isinstance(cond, Leaf)
    var = {"var": cond.fact.replace(".", "__")}
    ops = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "is": "=="}
    if cond.op in ops:
        return {ops[cond.op]: [var, cond.value]}
    if cond.op == "in":
        return {"in": [var, list(cond.value)]}
    if cond.op == "not_in":
        return {"!": {"in": [var, list(cond.value)]}}
    if cond.op == "contains":
        return {"in": [cond.value, var]}
    return {"!!": var} if cond.value else {"!": var}


def completeness_split(cases: list[Any], kb: Any) -> dict[str, list[float]]:
    """Assessment time per case, by whether the answer is complete or provisional (the
    provisional ones explore the branches of their deciding missing findings)."""
    out: dict[str, list[float]] = {"complete": [], "provisional": []}
    for case in cases:
        start = time.perf_counter_ns()
        result = assess(case, kb=kb)
        out[result.completeness].append((time.perf_counter_ns() - start) / 1e6)
    return out


def main() -> None:
    rng = random.Random(SEED)
    kb = load_knowledge_base()
    raw = [random_case(rng, i) for i in range(N_CASES)]
    cases = [parse_case(c) for c in raw]
    texts = [json.dumps(c) for c in raw]
    for case in cases[:200]:  # warm up
        assess(case)

    print(f"netlm assess: {N_CASES:,} random valid cases, one process, knowledge base "
          f"{kb.manifest.version}")  # fmt: skip
    median_en = report("assess(case)  [en]", timed(lambda c: assess(c, kb=kb), cases))
    report("assess(case)  [zh]", timed(lambda c: assess(c, lang="zh", kb=kb), cases))
    report(
        "JSON text -> parse -> assess -> JSON text",
        timed(lambda t: json.dumps(assess(parse_case_json(t), kb=kb).to_json_dict()), texts),
    )
    print(f"  target: median under 1 ms -> {'met' if median_en < 1.0 else 'NOT met'}")
    split = completeness_split(cases, kb)
    for kind, target in (("complete", 1.0), ("provisional", 5.0)):
        samples = split[kind]
        if samples:
            median = report(f"assess(case), {kind} answers ({len(samples):,})", samples)
            verdict = "met" if median < target else "NOT met"
            print(f"  target: {kind} median under {target:g} ms -> {verdict}")

    rules = [
        c.when
        for o in kb.options.values()
        for c in (*o.indications, *o.contraindications, *o.eligibility, *o.cautions)
    ]
    logic = [to_json_logic(r, kb.definitions) for r in rules]
    facts = [derive(c, kb).facts for c in cases]
    # json-logic has no "undecided" (NET G3 or NEC): the peer sees such a fact as missing
    flat = [
        {k.replace(".", "__"): None if isinstance(v, OneOf) else v for k, v in f.items()}
        for f in facts
    ]
    print(f"\nPeer: evaluate all {len(rules)} option-rule conditions per case, same facts")
    defs = kb.definitions
    ours = report(
        "netlm conditions (Kleene, with missing facts)",
        timed(lambda f: [evaluate(r, f, defs) for r in rules], facts),
    )
    peer = report(
        "json-logic (panzi-json-logic)", timed(lambda f: [jsonLogic(r, f) for r in logic], flat)
    )
    print(f"  ratio json-logic / netlm time: {peer / ours:.2f}x (>1 means netlm is faster)")
    # Only cases the peer can represent: json-logic has no "undecided" value.
    comparable = [
        (f, g)
        for f, g in zip(facts, flat, strict=True)
        if not any(isinstance(v, OneOf) for v in f.values())
    ]
    disagreements = sum(
        1
        for f, g in comparable
        for r, jl in zip(rules, logic, strict=True)
        if (out := evaluate(r, f, kb.definitions).truth.value) != "unknown"
        and (out == "true") != bool(jsonLogic(jl, g))
    )
    print(
        f"  decided (non-unknown) results that differ from json-logic: {disagreements} "
        f"(over {len(comparable):,} cases without an undecided grade)"
    )


if __name__ == "__main__":
    main()
