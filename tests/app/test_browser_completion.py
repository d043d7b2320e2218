"""The completion of an EHR case in a real headless Chromium: the report's Ki-67 is prefilled
and marked, the clinician confirms it, saves, and the case page reads the grade it gives."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from tests.app.browser import chromium_page
from tests.app.ehr_case import CASE_ID, narrative_ki67_chart, store_ehr_case
from tests.app.server import served

PASSWORD = "browser test password"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("server")
    url = f"sqlite:///{data / 'netlm.db'}"
    upgrade(url)
    store = Store(create_db_engine(url))
    store.add_user("dr.li", PASSWORD, "clinician", display_name="Dr Li")
    store_ehr_case(store, narrative_ki67_chart())
    with served(data, url) as base:
        yield base


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Page]:
    with chromium_page(server) as page:
        yield page


def grade(page: Page) -> str:
    return page.locator("#classification dd strong").first.inner_text()


def test_a_narrative_ki67_is_confirmed_on_the_completion_and_gives_the_grade(page: Page) -> None:
    completion = f"/cases/{CASE_ID}/edit?complete=liver.pattern"
    page.goto(f"/cases/{CASE_ID}")
    page.fill("input[name=username]", "dr.li")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/cases/{CASE_ID}")
    before = grade(page)
    assert "G2" not in before

    page.goto(completion)
    ki67 = page.locator(".field.from-text", has=page.locator("#f-pathology\\.ki67_percent"))
    expect(ki67.locator(".proposal-mark")).to_have_text("From the report text — confirm")
    expect(ki67.locator("blockquote")).to_contain_text("Ki-67 8%")
    expect(ki67.locator("cite")).to_have_text("DiagnosticReport/ePath1")
    expect(page.locator("#f-pathology\\.ki67_percent")).to_have_value("8")
    # saved unconfirmed, the prefill does not enter the case
    page.click("#save-case")
    page.wait_for_url(f"**/cases/{CASE_ID}")
    assert grade(page) == before

    page.goto(completion)
    page.check("#confirm-pathology\\.ki67_percent")
    page.click("#save-case")
    page.wait_for_url(f"**/cases/{CASE_ID}")
    expect(page.locator("#classification dd strong").first).to_have_text("NET G2")
    page.goto(completion)
    expect(page.locator("#confirm-pathology\\.ki67_percent")).to_have_count(0)
