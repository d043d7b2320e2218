"""The evidence on the case page, shown truthfully: every effect labelled with its comparison and
credited to the arm it describes, the primary endpoint first with its CI or words saying there is
none, "not reached" kept, and prognostic figures apart from treatment outcomes."""

import re
from html import unescape

from tests.app.conftest import Env, login
from tests.conftest import EXAMPLES, load_json


def case_page(env: Env, stem: str, lang: str = "en") -> str:
    path = next(p for p in EXAMPLES if p.name.startswith(stem))
    env.client().post("/api/v1/cases", json=load_json(path), headers=env.auth("clinician"))
    client = env.client()
    login(client, "clinician")
    return unescape(client.get(f"/cases/v{stem}?lang={lang}").text)


def section(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end, page.index(start))]


def test_netter1_primary_endpoint_comparison_and_not_reached(env: Env) -> None:
    page = case_page(env, "03")
    prrt = section(page, 'data-option="prrt"', "</li>\n")
    # The arm table: the primary endpoint first, "not reached" as the record says, its CI.
    assert re.search(
        r"Median PFS \(primary endpoint\)</th><td>not reached</td><td>8.4 months</td>"
        r"<td>0.21 \(95% CI 0.13–0.33\)</td>",
        prrt,
    )
    assert "Compared: 177Lu-DOTATATE + octreotide vs high-dose octreotide" in prrt
    forest = section(page, 'id="forest"', "</section>")
    assert 'role="region" tabindex="0" aria-label="Forest plot' in forest
    rows = re.findall(r"<tr><td>(.*?)</td><td translate=\"no\">(.*?)</td><td>(.*?)</td>", forest)
    assert ("PRRT", "NETTER-1", "177Lu-DOTATATE + octreotide vs high-dose octreotide") in rows
    assert "<td>Median PFS (primary endpoint)</td><td>0.21</td><td>0.13–0.33</td>" in forest
    assert "<td>0.84</td><td>0.60–1.17</td>" in forest
    assert not [r for r in rows if r[0] == "SSA"], "SSA was NETTER's control arm"


def test_prognostic_factors_apart_and_once(env: Env) -> None:
    page = case_page(env, "01")
    resection = section(page, 'data-option="curative_resection"', '<details class="evidence">')
    outcomes = section(resection, 'class="outcomes"', "</details>")
    prognostic = section(resection, 'class="prognostic"', "</details>")
    assert "multivariable HR" not in outcomes, "no prognostic HR among what patients experienced"
    assert "Prognostic factors and thresholds in the cited studies" in prognostic
    assert prognostic.count("Extrahepatic disease, multivariable HR") == 1
    assert "<td>3 (no 95% CI in the source as read)</td></tr>" in prognostic, "the HR once a row"


def test_chinese_evidence_words(env: Env) -> None:
    page = case_page(env, "03", "zh")
    assert "中位无进展生存期（主要终点）</th><td>未达到</td>" in page
    assert "比较：177Lu-DOTATATE + 奥曲肽 vs 大剂量奥曲肽" in page
    assert "<td>0.21（95% CI 0.13–0.33）</td>" in page
    mayo = case_page(env, "01", "zh")  # Mayo 2010's prognostic HRs come without a CI
    assert "<td>3（所读原文未给出95%置信区间）</td>" in mayo
