"""In headless Chromium, at 1280 and 420 px, in English and Chinese: the summary card leads with
how complete the answer is and the first tier, no forest-plot row credits a trial to its
control arm, a decision made on an older version is labelled so, the case list says what is
pending, and a what-if with a changed laboratory value (creatinine clearance 25 mL/min)
explains each option that moved. (axe on every page: tests/app/test_browser.py.)"""

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from netlm import assess, parse_case
from netlm.knowledge.load import KnowledgeBase, load_knowledge_base
from netlm.knowledge.schema import Evidence
from netlm.model.decision import DecisionIn
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.web.i18n import word
from netlm.web.lead import lead
from netlm.web.service import Board
from tests.app.browser import chromium_page
from tests.app.server import served
from tests.conftest import EXAMPLES, load_json

PASSWORD = "browser test password"
CASE = load_json(next(p for p in EXAMPLES if p.name.startswith("03")))
# v09's answer is complete; v03's is provisional (albumin) and proposes everolimus, the control
# arm of COMPETE, which v03 cites for PRRT.
COMPLETE = load_json(next(p for p in EXAMPLES if p.name.startswith("09")))
WIDTHS = (1280, 420)
WORDS = {
    "en": ("made on version 1", "decision pending on version 2", "excluded",
           "Creatinine clearance below 30 mL/min", "moves up"),
    "zh": ("基于第1版作出", "第2版待决定", "已排除", "肌酐清除率低于30 mL/min", "位置上移"),
}  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """v03 decided on version 1 by Dr Li, then edited (version 2), and v09, signed in as Dr Li."""
    data = tmp_path_factory.mktemp("trace")
    url = f"sqlite:///{data / 'netlm.db'}"
    upgrade(url)
    store = Store(create_db_engine(url))
    user = store.add_user("dr.li", PASSWORD, "clinician", display_name="Dr Li")
    board = Board(store, load_knowledge_base())
    board.create(parse_case(CASE), user)
    board.create(parse_case(COMPLETE), user)
    board.decide("v03", DecisionIn.model_validate({
        "decided_on": "2026-11-27", "chosen_options": ["prrt"], "participants": ["Dr Li"],
        "dissent": "Dr Wang preferred everolimus",
    }), user)  # fmt: skip
    edited = copy.deepcopy(CASE)
    edited["patient"]["ecog"] = 1
    board.update("v03", parse_case(edited), user)
    with served(data, url) as base, chromium_page(base) as page:
        page.goto("/login")
        page.fill("input[name=username]", "dr.li")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/cases")
        yield page


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", WIDTHS)
def test_decisions_name_their_version_and_what_if_explains(
    page: Page, lang: str, width: int
) -> None:
    made_on, pending, excluded, reason, up = WORDS[lang]
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/cases?lang={lang}")
    assert pending in page.inner_text("main")
    page.goto(f"/cases/v03?lang={lang}")
    decision = page.inner_text("#decision")
    for text in (made_on, "Dr Li", "Dr Wang preferred everolimus"):
        assert text in decision
    page.fill("#whatif input[name='labs.creatinine_clearance_ml_min']", "25")
    with page.expect_response(lambda r: "/whatif" in r.url):
        page.click("#whatif button[type=submit]")
    page.wait_for_selector("#whatif-moved tr[data-option='prrt']")
    prrt = page.inner_text("#whatif-moved tr[data-option='prrt']")
    assert excluded in prrt
    assert reason in prrt
    assert up in page.inner_text("#whatif-moved tr[data-option='everolimus']")
    rows = page.locator("#whatif-moved tbody tr")
    for i in range(rows.count()):
        assert rows.nth(i).locator("ul.why li").count() >= 1, "each moved option says why"
    whatif = page.locator("#whatif")
    assert whatif.evaluate("e => e.scrollWidth <= e.clientWidth"), "the what-if panel overflows"
    main = page.locator(".columns")
    if width == 1280:  # full width: as wide as the two columns above it
        assert whatif.bounding_box()["width"] >= main.bounding_box()["width"] - 2  # type: ignore[index]


FOREST = """() => ({
  table: [...document.querySelectorAll('#forest table tbody tr')]
    .map((tr) => [...tr.cells].slice(0, 2).map((c) => c.textContent.trim())),
  plot: [...document.querySelectorAll('#forest svg title')].map((t) => t.textContent),
})"""


def credited(
    forest: dict[str, list[Any]], kb: KnowledgeBase, lang: str
) -> list[tuple[str, Evidence]]:
    """(option, trial) of each row of the forest table ([option, trial]) and of the plot (each
    row's title: "option — trial, comparison (endpoint): HR"); an unverified mark may follow."""
    shorts = {o.option.short(lang): code for code, o in kb.options.items()}
    names = {o.option.name(lang): code for code, o in kb.options.items()}
    records = sorted(kb.evidence.values(), key=lambda e: -len(e.short_name))

    def trial(text: str) -> Evidence:
        return next(e for e in records if text.startswith(e.short_name))

    rows = [(shorts[option], trial(named)) for option, named in forest["table"]]
    for title in forest["plot"]:
        option, rest = title.split(" — ", 1)
        rows.append((names[option], trial(rest)))
    return rows


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", WIDTHS)
def test_the_summary_card_leads_and_the_forest_credits_only_experimental_arms(
    page: Page, lang: str, width: int, kb: KnowledgeBase
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    for document in (CASE, COMPLETE):
        case = parse_case(document)
        page.goto(f"/cases/{case.id}?lang={lang}")
        assessment = assess(case, lang=lang)
        card = page.locator("#lead")
        box, options = card.bounding_box(), page.locator("#recommendations").bounding_box()
        assert box is not None
        assert options is not None
        assert box["y"] < options["y"], "the card comes before the options"
        assert box["x"] + box["width"] <= width, "the card fits the window"
        completeness = " ".join((card.locator(".completeness").text_content() or "").split())
        if lead(assessment, kb, lang).provisional:
            assert completeness == kb.messages["ui.provisional"](lang)
        else:
            tag, sentence = word("lead.complete_tag", lang), word("lead.complete", lang)
            assert completeness == f"{tag} {sentence}"
        first = [r for r in assessment.recommendations if r.tier == 1]
        assert first, case.id
        shown = card.locator(".lead-choice")
        assert shown.count() == len(first)
        for i, rec in enumerate(first):
            assert shown.nth(i).get_attribute("data-option") == rec.option
            assert rec.name in shown.nth(i).inner_text()
        rows = credited(page.evaluate(FOREST), kb, lang)
        assert len(rows) >= 2, case.id
        for option, record in rows:
            assert record.comparison is not None
            assert option not in record.comparison.control, (option, record.id)
            assert option in record.comparison.experimental, (option, record.id)
