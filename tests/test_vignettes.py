"""Every vignette gets its expected result: the shared ones (v*) and netlm's own gate cases (s*).

Expectation keys are those of tests/vignettes/README.md: classification, top, includes, excludes,
not_recommended, flags, missing, order, completeness.
"""

from pathlib import Path
from typing import Any

import pytest

from netlm import assess, parse_case
from netlm.model.assessment import Assessment
from tests.conftest import EXAMPLES, GATE_VIGNETTES, PATHWAY_VIGNETTES, VIGNETTES, load_json

KNOWN_KEYS = {
    "classification",
    "top",
    "includes",
    "excludes",
    "not_recommended",
    "flags",
    "missing",
    "order",
    "completeness",
}


def problems(result: Assessment, expected: dict[str, Any]) -> list[str]:
    """Every way the assessment misses the expectation (empty: it meets it)."""
    strength = {r.option: r.strength for r in result.recommendations}
    excluded = {e.option for e in result.excluded}
    out = [f"unknown expectation key {k}" for k in set(expected) - KNOWN_KEYS]
    for key, value in expected.get("classification", {}).items():
        if getattr(result.classification, key) != value:
            out.append(f"classification.{key} = {getattr(result.classification, key)!r}")
    if "top" in expected:
        top = [r.option for r in result.recommendations if r.rank == 1]
        if top != [expected["top"]]:
            out.append(f"top is {top}")
    out += [f"{o} not proposed" for o in expected.get("includes", []) if o not in strength]
    out += [f"{o} not excluded" for o in expected.get("excludes", []) if o not in excluded]
    out += [
        f"{o} is recommended"
        for o in expected.get("not_recommended", [])
        if strength.get(o) == "recommended"
    ]
    codes = {f.code for f in result.flags}
    out += [f"flag {c} missing" for c in expected.get("flags", []) if c not in codes]
    fields = {m.field for m in result.missing_data}
    out += [f"missing_data lacks {f}" for f in expected.get("missing", []) if f not in fields]
    rank = {r.option: r.rank for r in result.recommendations}
    for first, second in expected.get("order", []):
        if first not in rank:
            out.append(f"{first} not proposed (must rank before {second})")
        elif second in rank and rank[first] > rank[second]:
            out.append(f"{second} ranks before {first}")
    if "completeness" in expected and result.completeness != expected["completeness"]:
        out.append(f"completeness is {result.completeness}")
    return out


@pytest.mark.parametrize(
    "path", VIGNETTES + GATE_VIGNETTES + PATHWAY_VIGNETTES, ids=lambda p: p.stem
)
def test_vignette(path: Path) -> None:
    vignette = load_json(path)
    for lang in ("en", "zh"):
        result = assess(parse_case(vignette["case"]), lang=lang)
        assert problems(result, vignette["expected"]) == [], vignette["note"]


def test_the_shared_vignettes_are_all_here() -> None:
    assert len(VIGNETTES) >= 17


def test_every_gate_vignette_cites_its_source() -> None:
    """netlm's own cases each test a gate and say where the limit comes from."""
    assert len(GATE_VIGNETTES) >= 20
    assert len(PATHWAY_VIGNETTES) >= 10
    for path in GATE_VIGNETTES + PATHWAY_VIGNETTES:
        vignette = load_json(path)
        assert vignette["expected"], path.name
        assert vignette["note"], path.name
        assert any(word in vignette["note"] for word in ("doi", "PMID", "label", "SmPC")), path.name


def test_examples_are_the_vignette_cases_and_more() -> None:
    example_ids = {load_json(p)["id"] for p in EXAMPLES}
    vignette_ids = {load_json(p)["case"]["id"] for p in VIGNETTES}
    assert vignette_ids <= example_ids
    assert len(EXAMPLES) >= len(VIGNETTES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_is_a_valid_case(path: Path) -> None:
    result = assess(parse_case(load_json(path)))
    assert result.recommendations or result.completeness == "provisional"
