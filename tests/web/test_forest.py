"""The forest plot: rows drawn from the knowledge base and SVG that is safe to inline anywhere."""

import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import pytest

import netlm
from netlm.knowledge.effects import effect_estimates, indication_problems, record_problems
from netlm.knowledge.load import KnowledgeBase
from netlm.model.assessment import Assessment
from netlm.model.codes import Language
from netlm.web.report.forest import ForestRow, forest_rows, forest_svg, format_ratio, wrap
from tests.conftest import ROOT, load_json

SVG = "{http://www.w3.org/2000/svg}"
NETTER1_CASE = ROOT / "examples" / "03-midgut-progressive-on-ssa-sstr4.json"


def assessment(lang: Language) -> Assessment:
    return netlm.assess(netlm.parse_case(load_json(NETTER1_CASE)), lang=lang)


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


BASE_ROW = ForestRow(
    option="prrt", option_name="PRRT", option_short="PRRT", evidence_id="netter1",
    trial="NETTER-1", comparison="177Lu-DOTATATE vs octreotide", endpoint="OS", primary=False,
    hr=0.84, ci=(0.6, 1.17), verified=True,
)  # fmt: skip


def row(**changes: Any) -> ForestRow:
    return replace(BASE_ROW, **changes)


def test_rows_carry_the_knowledge_base_hazard_ratios(kb: KnowledgeBase) -> None:
    a = assessment("en")
    rows = forest_rows(a, kb, "en")
    netter1 = [r for r in rows if r.trial == "NETTER-1"]
    assert netter1, "NETTER-1 is cited for PRRT after SSA progression"
    primary, overall = netter1
    assert (primary.endpoint, primary.primary, primary.hr, primary.ci) == (
        "Median PFS",
        True,
        0.21,
        (0.13, 0.33),
    ), "the primary endpoint comes first, with its 95% CI"
    assert (overall.hr, overall.ci) == (0.84, (0.6, 1.17))
    assert primary.verified
    assert primary.option_name == a.recommendations[0].name
    assert primary.comparison == ("177Lu-DOTATATE + octreotide vs high-dose octreotide")
    # Every row is an endpoint of the cited record, with its hazard ratio and 95% CI.
    for r in rows:
        endpoints = kb.evidence[r.evidence_id].endpoints
        assert any(e.hr == r.hr and e.hr_ci == r.ci for e in endpoints)
    ranks = {rec.option: rec.rank for rec in a.recommendations}
    assert [ranks[r.option] for r in rows] == sorted(ranks[r.option] for r in rows)
    assert {r.trial: r.verified for r in rows}["COMPETE"] is False


def test_rows_name_endpoints_in_the_language(kb: KnowledgeBase) -> None:
    rows = forest_rows(assessment("zh"), kb, "zh")
    assert "中位无进展生存期" in {r.endpoint for r in rows}


def test_svg_parses_and_shows_each_hazard_ratio(kb: KnowledgeBase) -> None:
    svg = forest_svg(forest_rows(assessment("en"), kb, "en"), "en")
    shown = texts(svg)
    assert "HR 0.84 (0.60–1.17)" in shown
    assert "HR 0.48 (0.35–0.67)" in shown
    assert "HR 0.21 (0.13–0.33)" in shown, "NETTER-1's primary endpoint with its CI"
    assert "Median PFS · primary endpoint" in shown
    assert "177Lu-DOTATATE + octreotide vs high-dose octreotide" in shown
    assert any("COMPETE †" in t for t in shown), "unverified evidence is marked"
    assert {"0.1", "0.2", "0.5", "1", "2"} <= set(shown)
    assert "favours treatment ← HR → favours control" in shown
    elements = list(ET.fromstring(svg).iter())
    assert not [e for e in elements if e.tag in (f"{SVG}script", f"{SVG}image", f"{SVG}style")]
    assert not [k for e in elements for k in e.attrib if k.endswith("href")], "no external links"


def test_svg_in_chinese(kb: KnowledgeBase) -> None:
    shown = texts(forest_svg(forest_rows(assessment("zh"), kb, "zh"), "zh"))
    assert "倾向治疗组 ← HR → 倾向对照组" in shown


def test_axis_extends_to_hazard_ratios_above_two() -> None:
    shown = texts(forest_svg([row(hr=7.4, ci=(2.4, 23.0))], "en"))
    assert {"0.1", "1", "2", "5", "10", "20", "50"} <= set(shown)
    assert "HR 7.40 (2.40–23.0)" in shown


def test_an_estimate_without_a_ci_says_so() -> None:
    shown = texts(forest_svg([row(primary=True, endpoint="Median PFS", ci=None)], "en"))
    assert "HR 0.84" in shown
    assert "Median PFS · primary endpoint · no 95% CI in the source as read" in shown


def test_labels_are_escaped() -> None:
    svg = forest_svg(
        [row(option_short="A<&>B", trial='T"<&>', endpoint="<script>x</script>")], "en"
    )
    assert "<script>" not in svg
    shown = texts(svg)
    assert any(t.startswith('A<&>B — T"<&>') for t in shown)
    assert "<script>x</script>" in shown


@pytest.mark.parametrize(("lang", "message"), [("en", "No hazard ratios"), ("zh", "风险比")])
def test_empty_rows(lang: Language, message: str) -> None:
    shown = texts(forest_svg([], lang))
    assert len(shown) == 1
    assert message in shown[0]


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.21, "0.21"), (0.6, "0.60"), (1.0, "1.00"), (0.276, "0.276"), (23.0, "23.0")],
)
def test_format_ratio(value: float, text: str) -> None:
    assert format_ratio(value) == text


def test_text_is_at_least_11_px_and_labels_wrap_uncut(kb: KnowledgeBase) -> None:
    for lang in ("en", "zh"):
        svg = forest_svg(forest_rows(assessment(lang), kb, lang), lang)
        sizes = {float(t.attrib["font-size"]) for t in ET.fromstring(svg).iter(f"{SVG}text")}
        assert min(sizes) >= 11
        assert not any("…" in t for t in texts(svg)), "no label is cut"
    long = "Median OS, final analysis (Strosberg 2021; n=231; 36% of controls crossed over)"
    lines = wrap(long, 11, 200)
    assert len(lines) > 1
    assert " ".join(lines) == long
    assert "".join(wrap("最终分析中位总生存期（对照组交叉至PRRT）", 11, 60)) == (
        "最终分析中位总生存期（对照组交叉至PRRT）"
    )


def test_no_row_credits_a_control_arm(kb: KnowledgeBase) -> None:
    """Over every evidence record and every option: an estimate is shown only for an option of
    the experimental arm, never for one the trial used as its control (NETTER-2's HR is PRRT's,
    not SSA's), and never a prognostic hazard ratio."""
    shown = 0
    for record in kb.evidence.values():
        for option in kb.options:
            estimates = effect_estimates(record, option)
            shown += len(estimates)
            if estimates:
                assert record.comparison is not None
                assert option in record.comparison.experimental
                assert option not in record.comparison.control
                assert not any(e.endpoint.prognostic for e in estimates)
    assert shown >= 20
    assert effect_estimates(kb.evidence["netter2"], "ssa") == []
    assert [e.hr for e in effect_estimates(kb.evidence["netter2"], "prrt")] == [0.276]
    assert effect_estimates(kb.evidence["mayo2010"], "curative_resection") == []


def test_every_case_plot_names_only_experimental_arms(kb: KnowledgeBase) -> None:
    """The rows of every bundled example, in both languages, through the page's own path."""
    for path in sorted((ROOT / "examples").glob("*.json")):
        a = netlm.assess(netlm.parse_case(load_json(path)), lang="en")
        for r in forest_rows(a, kb, "en"):
            comparison = kb.evidence[r.evidence_id].comparison
            assert comparison is not None
            assert r.option in comparison.experimental, (path.name, r)
            assert r.option not in comparison.control, (path.name, r)


def test_a_stored_comparison_problem_is_reported(kb: KnowledgeBase) -> None:
    netter2 = kb.evidence["netter2"]
    assert netter2.comparison is not None
    both = netter2.model_copy(
        update={"comparison": netter2.comparison.model_copy(update={"control": ["prrt", "ssa"]})}
    )
    assert any("both the experimental and control arm" in p for p in record_problems(both))
    assert any("cites netter2" in p for p in indication_problems("ssa", "x", [netter2]))
    bare = netter2.model_copy(update={"comparison": None})
    assert any("names no comparison" in p for p in record_problems(bare))
    assert not record_problems(netter2)
