"""Each example vignette (copied from the shared set) gets its expected result."""

from pathlib import Path

import pytest

from netlm import assess, parse_case
from tests.conftest import EXAMPLES, VIGNETTES, load_json


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_vignette(path: Path) -> None:
    vignette = load_json(path)
    expected = vignette["expected"]
    result = assess(parse_case(vignette["case"]))
    proposed = [r.option for r in result.recommendations]
    excluded = [e.option for e in result.excluded]

    for key, value in expected.get("classification", {}).items():
        assert getattr(result.classification, key) == value, key
    if "top" in expected:
        assert proposed[0] == expected["top"]
    for option in expected.get("includes", []):
        assert option in proposed, f"{option} not proposed: {result.excluded}"
    for option in expected.get("excludes", []):
        assert option in excluded, f"{option} not excluded"
    for code in expected.get("flags", []):
        assert code in [f.code for f in result.flags]


def test_there_are_at_least_eight_vignettes() -> None:
    assert len(VIGNETTES) >= 8


def test_examples_are_the_vignette_cases_and_more() -> None:
    example_ids = {load_json(p)["id"] for p in EXAMPLES}
    vignette_ids = {load_json(p)["case"]["id"] for p in VIGNETTES}
    assert vignette_ids <= example_ids
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_is_a_valid_case(path: Path) -> None:
    assert assess(parse_case(load_json(path))).recommendations
