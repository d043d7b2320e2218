"""The README's guided tour, in the browser, as a newcomer follows it: `netlm serve --demo` (what
`make run` serves), sign in with the login it printed, then each step with the README's own
words (links, buttons, fields) and what the README says the page shows."""

import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.app.browser import chromium_page
from tests.app.server import served
from tests.conftest import EXAMPLES, ROOT

# The words of the page the tour names in italics, in the order a reader meets them.
TOUR_WORDS = ["Cases", "Search by case id", "Show all findings", "What if…",
              "ECOG performance status", "Compare", "MDT decision", "Record decision",
              "Reason for departing from the assessment", "History", "PDF report"]  # fmt: skip
PRRT = "177Lu-DOTATATE PRRT"
EVEROLIMUS = "Everolimus 10 mg daily"


def _browser_steps() -> str:
    """The tour's browser part: from "A guided tour" to its command-line part."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## A guided tour")
    return readme[start : readme.index("**On the command line**", start)]


def _card(page: Page, heading: str) -> Locator:
    """The section of the page under `heading`, as a reader finds it."""
    return page.locator("section").filter(has=page.get_by_role("heading", name=heading, exact=True))


def _pdf_text(page: Page, link: str, path: Path) -> tuple[str, str]:
    """Click the PDF link: the browser gets a PDF; its text, page 1 and all pages."""
    with page.expect_response(lambda r: "report.pdf" in r.url) as opened:
        page.get_by_role("link", name=link, exact=True).click()
    response = opened.value
    assert response.status == 200, response.text()
    assert response.headers["content-type"] == "application/pdf"
    # Chromium shows the PDF in its viewer; the same request fetches the file itself.
    path.write_bytes(page.request.get(response.url).body())
    page.go_back()

    def text(*pages: str) -> str:
        done = subprocess.run(["pdftotext", *pages, str(path), "-"], capture_output=True,
                              text=True, check=True)  # fmt: skip
        return " ".join(done.stdout.split())

    return text("-f", "1", "-l", "1"), text()


def test_the_readme_names_the_pages_words_the_tour_uses() -> None:
    italics = re.findall(r"(?<!\*)\*([^*]+)\*(?!\*)", _browser_steps())
    assert [" ".join(words.split()) for words in italics] == TOUR_WORDS


def test_the_guided_tour_in_the_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # `make run` serves from the checkout, where the examples are
    data = tmp_path / "var"
    data.mkdir()
    url = f"sqlite:///{data / 'netlm.db'}"
    with served(data, url, args=["--demo"]) as base, chromium_page(base) as page:
        printed = (data / "server.log").read_text(encoding="utf-8")
        login = re.search(r"log in as: (\S+)\s+password: (\S+)", printed)
        assert login, printed

        # Sign in with the login `make run` printed.
        page.goto("/")
        page.get_by_label("Username").fill(login[1])
        page.get_by_label("Password").fill(login[2])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/cases")

        # 1. Open a case: Cases lists the examples; search v03 and open it.
        page.get_by_role("link", name="Cases", exact=True).click()
        rows = page.locator("#case-rows tr")
        expect(rows).to_have_count(len(EXAMPLES))
        page.get_by_label("Search by case id").fill("v03")
        expect(rows).to_have_count(1)
        page.get_by_role("link", name="v03", exact=True).click()
        page.wait_for_url("**/cases/v03")

        # 2. The summary: the patient at a glance under the title, in the README's order.
        summary = page.locator("#patient-summary").inner_text()
        at_a_glance = ["68 years", "male", "small intestine primary", "NET G2, Ki-67 4%",
                       "liver metastases", "SSTR uptake Krenning 4", "all lesions SSTR-positive",
                       "progressive", "SSA: progression", "ECOG 1"]  # fmt: skip
        places = [summary.find(words) for words in at_a_glance]
        assert -1 not in places, summary
        assert places == sorted(places), summary
        lead = _card(page, "The answer at a glance").inner_text()
        assert "Provisional answer" in lead
        assert "albumin: if < 3 g/dL: everolimus (recommended); if ≥ 3 g/dL: PRRT" in lead
        options = _card(page, "Proposed options").locator("li.option")
        first = options.first.inner_text()
        assert first.startswith(f"1 {PRRT}"), first
        assert "NETTER-1" in first
        texts = options.all_inner_texts()
        assert all("Order:" in option for option in texts), "each with its reasons"
        assert all("What patients in the studies experienced" in option for option in texts)
        medicines = [option for option in texts if "Clinical trial" not in option]
        assert len(medicines) == 3, texts
        assert all(re.search(r"Availability: US .+EU .+China ", option) for option in medicines)
        assert "No approval found in China (not confirmed)" in first, "PRRT's caution, and"
        assert "China no approval found (not confirmed)" in first, "its availability alike"
        assert options.first.locator(".cautions li").count() >= 1, "cautions"
        not_proposed = _card(page, "Not proposed").locator("ul.excluded li")
        assert not_proposed.count() >= 5
        assert all(": " in reason for reason in not_proposed.all_inner_texts()), "with reasons"
        findings = _card(page, "Findings").get_by_text("68 years", exact=True)
        expect(findings).to_be_hidden()
        page.get_by_text("Show all findings", exact=True).click()
        expect(findings).to_be_visible()

        # 3. What if: ECOG 3, Compare; best supportive care first, the trials' patients fitter.
        whatif = _card(page, "What if…")
        whatif.get_by_label("ECOG performance status").select_option("3")
        whatif.get_by_role("button", name="Compare").click()
        answer = whatif.locator("#whatif-result")
        expect(answer.locator("ol").last.locator("li").first).to_contain_text(
            "Best supportive care"
        )
        moved = answer.locator("tr[data-option='prrt']").inner_text()
        assert "tier 2, consider" in moved
        assert "enrolled" in moved, "the why: the trials enrolled fitter patients"
        page.reload()
        assert "version 1" in page.locator("h1").inner_text(), "nothing is saved"
        assert "ECOG 1" in page.locator("#patient-summary").inner_text()

        # 4. Record a decision: an option outside the first tier needs a reason.
        decision = _card(page, "MDT decision")
        decision.get_by_label(PRRT).check()
        decision.get_by_label(EVEROLIMUS).check()
        decision.get_by_label("Participants").fill("Dr Li\nDr Wang")
        decision.get_by_role("button", name="Record decision").click()
        expect(decision.get_by_text("A ticked option is outside the first tier")).to_be_visible()
        expect(decision.get_by_text("No decision recorded yet.")).to_be_visible()
        reason = decision.get_by_label("Reason for departing from the assessment")
        reason.fill("Everolimus while PRRT is scheduled")
        decision.get_by_role("button", name="Record decision").click()
        recorded = decision.locator(".decision").first
        expect(recorded).to_contain_text("Participants: Dr Li, Dr Wang")
        expect(recorded).to_contain_text("Everolimus while PRRT is scheduled")
        page.get_by_role("link", name="History", exact=True).click()
        page.wait_for_url("**/cases/v03/history")
        decisions = _card(page, "Decisions").inner_text()
        for words in (PRRT, EVEROLIMUS, "Dr Li, Dr Wang"):
            assert words in decisions, words
        page.go_back()

        # 5. The PDF: the patient line and the latest decision on page 1, then the rest.
        first_page, whole = _pdf_text(page, "PDF report", tmp_path / "report-en.pdf")
        for words in ("68 years, male", "MDT decision:", PRRT, EVEROLIMUS):
            assert words in first_page, (words, first_page)
        for words in ("Classification", "Not proposed", "NETTER-1", "Strosberg",
                      "Dr Li, Dr Wang", "Everolimus while PRRT is scheduled"):  # fmt: skip
            assert words in whole, words
        page.get_by_role("link", name="简体中文", exact=True).click()
        page.wait_for_url("**lang=zh")
        first_page, whole = _pdf_text(page, "PDF报告", tmp_path / "report-zh.pdf")
        for words in ("68岁，男", "MDT决定", "肽受体放射性核素治疗"):
            assert words in first_page, (words, first_page)
