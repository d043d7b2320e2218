"""The bundled Epic-, Cerner- and mCODE-style charts (examples/fhir/feeds) import to the case a
clinician would write from each, field by field, and their report text gives only proposals."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from netlm.fhir import bundle_to_case

FEEDS = Path(__file__).parents[2] / "examples" / "fhir" / "feeds"
CHARTS = sorted(p for p in FEEDS.glob("*.json") if not p.name.endswith(".expected.json"))


def leaves(node: Any, path: str = "") -> dict[str, Any]:
    """case path -> value for every value the case holds (empty sections hold none)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out |= leaves(value, f"{path}.{key}" if path else key)
        return out
    if isinstance(node, list):
        return {
            k: v for i, item in enumerate(node) for k, v in leaves(item, f"{path}[{i}]").items()
        }
    return {path: node}


def test_there_are_six_charts_each_citing_its_public_source() -> None:
    assert len(CHARTS) >= 6
    styles = {p.name.split("-")[0] for p in CHARTS}
    assert styles == {"epic", "cerner", "mcode"}
    readme = (FEEDS / "README.md").read_text(encoding="utf-8")
    for chart in CHARTS:
        source = json.loads(chart.read_text(encoding="utf-8"))["meta"]["source"]
        assert source.startswith("https://")
        assert chart.name in readme


@pytest.mark.parametrize("chart", CHARTS, ids=lambda p: p.stem)
def test_each_chart_imports_to_the_clinicians_case(chart: Path) -> None:
    expected = json.loads(chart.with_suffix(".expected.json").read_text(encoding="utf-8"))
    bundle = json.loads(chart.read_text(encoding="utf-8"))
    result = bundle_to_case(bundle, on=dt.date.fromisoformat(expected["on"]))
    got, want = leaves(result.case.to_json_dict()), leaves(expected["case"])
    for field in sorted(got.keys() | want.keys()):
        assert got.get(field) == pytest.approx(want.get(field)), field
    proposed = {(p.field, p.value) for p in result.proposals}
    assert proposed == {(p["field"], p["value"]) for p in expected["proposals"]}
    for p in result.proposals:  # a proposal quotes its sentence and names its report
        assert p.quote
        assert p.source.startswith("DiagnosticReport/")
