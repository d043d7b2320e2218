"""In headless Chromium, at 1280 and 420 px, in English and Chinese: a decision made on an older
version is labelled so, the case list says what is pending, and a what-if with a changed
laboratory value (creatinine clearance 25 mL/min) explains each option that moved."""

import copy
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from netlm import parse_case
from netlm.knowledge.load import load_knowledge_base
from netlm.model.decision import DecisionIn
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.web.service import Board
from tests.app.browser import chromium_page
from tests.app.server import served
from tests.conftest import EXAMPLES, load_json

PASSWORD = "browser test password"
CASE = load_json(next(p for p in EXAMPLES if p.name.startswith("03")))
WIDTHS = (1280, 420)
WORDS = {
    "en": ("made on version 1", "decision pending on version 2", "excluded",
           "Creatinine clearance below 30 mL/min", "moves up"),
    "zh": ("基于第1版作出", "第2版待决定", "已排除", "肌酐清除率低于30 mL/min", "位置上移"),
}  # fmt: skip


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """v03 decided on version 1 by Dr Li, then edited (version 2), signed in as Dr Li."""
    data = tmp_path_factory.mktemp("trace")
    url = f"sqlite:///{data / 'netlm.db'}"
    upgrade(url)
    store = Store(create_db_engine(url))
    user = store.add_user("dr.li", PASSWORD, "clinician", display_name="Dr Li")
    board = Board(store, load_knowledge_base())
    board.create(parse_case(CASE), user)
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
