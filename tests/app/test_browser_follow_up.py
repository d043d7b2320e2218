"""Follow-up in a real headless Chromium, as a new user meets it: sign in, open a case, record
the last contact, then find the patient counted on the outcomes page; a failed entry gives the
error summary the focus. Both pages and the failed form pass axe at 1280 and 420 px in English
and Chinese, and nothing but a labelled region scrolls sideways on the phone."""

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from netlm import parse_case
from netlm.knowledge.load import load_knowledge_base
from netlm.model.decision import DecisionIn
from netlm.web.service import Board
from tests.app.browser import chromium_page
from tests.app.server import served
from tests.conftest import EXAMPLES, load_json
from tests.web.test_outcomes_page import PLAN, _store

PASSWORD = "correct horse battery"  # dr.li's, as the outcomes tests' store makes her
CASE = "fu01"
WIDTHS = (1280, 420)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Twelve patients already followed (enough for curves) and one decided case without
    follow-up, for the new user to complete."""
    data = tmp_path_factory.mktemp("server")
    kb = load_knowledge_base()
    store, user = _store(data, kb, PLAN)
    board = Board(store, kb)
    board.create(parse_case({**load_json(EXAMPLES[1]), "id": CASE}), user)
    decided = dt.date.today() - dt.timedelta(days=200)
    board.decide(CASE, DecisionIn(decided_on=decided, chosen_options=["ssa"],
                                  participants=["Dr Li"]), user)  # fmt: skip
    with served(data, f"sqlite:///{data / 'netlm.db'}") as base:
        yield base


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Page]:
    with chromium_page(server) as page:
        yield page


def followed(page: Page) -> int:
    """The number of patients with follow-up for overall survival, as the page says it."""
    text = page.locator("#os-followed").inner_text()
    found = re.search(r"\d+", text)
    assert found, text
    return int(found.group(0))


def test_a_last_contact_entered_on_the_case_is_counted_in_the_outcomes(page: Page) -> None:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        pytest.fail("axe-playwright-python is required (a dev dependency): reinstall with make")
    page.goto("/outcomes")
    page.fill("input[name=username]", "dr.li")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/outcomes")
    before = followed(page)
    expect(page.locator("#os .km svg")).to_have_count(1)

    page.click(".topnav a[href='/cases']")
    page.click(f"a[href='/cases/{CASE}']")
    page.wait_for_url(f"**/cases/{CASE}")
    expect(page.locator("#no-follow-up")).to_be_visible()
    expect(page.locator("#fu-criteria")).to_be_hidden()  # progression only
    page.select_option("#fu-kind", "last_contact")
    page.fill("#fu-note", "seen in clinic, well")
    page.click("#save-follow-up")
    page.wait_for_url(f"**/cases/{CASE}#follow-up")
    expect(page.locator(".follow-up-events li")).to_have_count(1)
    expect(page.locator(".follow-up-events li").first).to_contain_text("Last contact (alive)")

    page.click("#nav-outcomes")
    page.wait_for_url("**/outcomes")
    assert followed(page) == before + 1

    axe = Axe()
    found: dict[str, list[str]] = {}
    try:
        for lang in ("en", "zh"):
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                for where in ("/outcomes", f"/cases/{CASE}", "failed entry"):
                    if where == "failed entry":
                        page.select_option("#fu-kind", "progression")
                        expect(page.locator("#fu-criteria")).to_be_visible()
                        page.click("#save-follow-up")
                        page.wait_for_selector("#follow-up-problems")
                        assert page.evaluate("document.activeElement.id") == "follow-up-problems"
                        expect(page.locator("#fu-kind")).to_have_value("progression")
                    else:
                        page.goto(f"{where}?lang={lang}")
                        page.wait_for_load_state("networkidle")
                    bad = [f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}"
                           for v in axe.run(page).response["violations"]]  # fmt: skip
                    scroll = page.evaluate("document.documentElement.scrollWidth")
                    if scroll > width:
                        bad.append(f"scrolls sideways ({scroll} px)")
                    if bad:
                        found[f"{where} {lang} @{width}"] = bad
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
    assert found == {}
