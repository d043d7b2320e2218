"""The case page leads with the answer and its blockers (netlm.web.lead): the summary card first,
completeness and what to record next at the top, cautions by kind, "not proposed" by reason."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.app.conftest import login
from tests.conftest import ROOT, Env, load_json, make_env

CASES = ("03-midgut-progressive-on-ssa-sstr4", "10-poor-performance-status",
         "11-jaundice-no-embolisation", "21-pattern-unstated-fit-patient-not-palliative")  # fmt: skip


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """One app and one signed-in viewer for the module: the pages are only read."""
    env: Env = make_env(Path(tmp_path_factory.mktemp("lead")))
    for name in CASES:
        document = load_json(ROOT / "examples" / f"{name}.json")
        env.client().post("/api/v1/cases", json=document, headers=env.auth("clinician"))
    reader = env.client()
    login(reader, "viewer")
    return reader


def test_the_summary_card_comes_first_with_the_first_tier_and_its_basis(
    client: TestClient,
) -> None:
    page = client.get("/cases/v03?lang=en").text
    card = page.index('id="lead"')
    for later in ('id="missing"', 'id="recommendations"', 'id="classification"', 'id="excluded"'):
        assert card < page.index(later), later
    head = page[card : page.index('id="recommendations"')]
    for text in ("The answer at a glance", "First choice", "177Lu-DOTATATE PRRT",
                 "Key result", "NETTER-1", "Why first", "Flags", "Controversial"):  # fmt: skip
        assert text in head, text
    chinese = client.get("/cases/v03?lang=zh").text
    card = chinese.index('id="lead"')
    for text in ("结论概要", "首选方案", "关键结果", "首选依据", "提示"):
        assert text in chinese[card : chinese.index('id="recommendations"')], text


def test_a_provisional_case_says_so_and_what_to_record_at_the_top(client: TestClient) -> None:
    """v03 lacks albumin, which decides between PRRT and everolimus; v18 can propose nothing yet.
    The missing findings come right after the card, before any option."""
    page = client.get("/cases/v03?lang=en").text
    provisional, options = page.index('id="provisional"'), page.index('id="recommendations"')
    assert page.index('id="lead"') < provisional < page.index("First choice")
    assert "Provisional answer" in page[provisional:options]
    assert 'data-field="labs.albumin_g_dl"' in page[provisional:options]
    assert page.index('id="missing"') < options
    assert "Albumin" in page[page.index('id="missing"') : options]
    assert 'class="caution caution-unchecked"' in page[provisional:options]
    nothing = client.get("/cases/v18?lang=en").text
    assert "Nothing can be proposed until" in nothing[: nothing.index('id="recommendations"')]
    chinese = client.get("/cases/v03?lang=zh").text
    assert "暂定结论" in chinese[: chinese.index('id="recommendations"')]
    assert "缺少资料" in chinese[: chinese.index('id="recommendations"')]


def test_a_complete_case_says_it_is_complete(client: TestClient) -> None:
    page = client.get("/cases/v10?lang=en").text
    assert 'id="provisional"' not in page
    head = page[: page.index('id="recommendations"')]
    assert "No finding left unrecorded could change the first choice." in head
    assert "Best supportive care" in head
    assert "未记录的资料均不会改变首选方案。" in client.get("/cases/v10?lang=zh").text


@pytest.mark.parametrize(("lang", "words"), [
    ("en", {"gate": "Safety gate", "unchecked": "Missing finding",
            "label": "Label and availability", "note": "Practical note"}),
    ("zh", {"gate": "安全限制", "unchecked": "缺少资料", "label": "说明书与可及性",
            "note": "实用提示"}),
])  # fmt: skip
def test_cautions_come_in_kinds_each_with_its_own_look_and_words(
    client: TestClient, lang: str, words: dict[str, str]
) -> None:
    """v11 (bilirubin 3.5× ULN): PRRT's relative contraindication is a safety gate in the card;
    v03 has a finding not recorded, label remarks and practical notes."""
    pages = client.get(f"/cases/v11?lang={lang}").text + client.get(f"/cases/v03?lang={lang}").text
    for kind, word in words.items():
        tag = f'<li class="caution caution-{kind}"><span class="caution-kind">{word}</span>'
        assert tag in pages, kind
    v11 = client.get(f"/cases/v11?lang={lang}").text
    assert 'caution-gate"' in v11[: v11.index('id="recommendations"')], "gates lead"


def test_not_proposed_is_grouped_by_reason_in_words(client: TestClient) -> None:
    page = client.get("/cases/v03?lang=en").text
    section = page[page.index('id="excluded"') :]
    groups = [section.index(f'data-group="{g}"') for g in ("ruled_out", "not_indicated", "waiting")]
    assert groups == sorted(groups)
    assert "Ruled out: a contraindication" in section
    assert "Could be proposed once the findings not yet recorded are known" in section
    assert "SSA 0)" not in page
    assert "(here prior systemic therapies other than SSA: 0)" in section
    assert ": not none" not in page
    chinese = client.get("/cases/v03?lang=zh").text
    for text in ("已排除：", "无适应证：", "待记录缺失资料后可能推荐"):
        assert text in chinese, text
