"""End to end in a real headless Chromium: log in, enter a case through the form, read the
recommendations, record a decision, switch to Chinese, download both PDF reports."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from netlm import parse_case
from netlm.knowledge.load import load_knowledge_base
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.web.service import Board
from tests.app.browser import chromium_page
from tests.app.ehr_case import CASE_ID as EHR_CASE
from tests.app.ehr_case import narrative_ki67_chart, store_ehr_case
from tests.app.server import served
from tests.conftest import EXAMPLES, load_json

PASSWORD = "browser test password"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("server")
    url = f"sqlite:///{data / 'netlm.db'}"
    upgrade(url)
    store = Store(create_db_engine(url))
    user = store.add_user("dr.li", PASSWORD, "clinician", display_name="Dr Li")
    board = Board(store, load_knowledge_base())
    for path in EXAMPLES:
        board.create(parse_case(load_json(path)), user)
    store_ehr_case(store, narrative_ki67_chart())  # a completion form with report-text proposals
    with served(data, url) as base:
        yield base


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Page]:
    with chromium_page(server) as page:
        yield page


def test_a_case_from_entry_to_reports(page: Page, tmp_path: Path) -> None:
    page.goto("/cases")
    assert page.url.endswith("/login?next=/cases")
    page.fill("input[name=username]", "dr.li")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/cases")

    page.click("#nav-new")
    page.fill("input[name='id']", "browser-1")
    page.select_option("select[name='primary.site']", "small_intestine")
    page.select_option("select[name='primary.status']", "resected")
    page.select_option("select[name='pathology.differentiation']", "well")
    page.fill("input[name='pathology.ki67_percent']", "140")
    page.fill("input[name='liver.lesion_count']", "25")
    page.select_option("select[name='liver.pattern']", "III")
    page.fill("input[name='liver.tumor_burden_percent']", "30")
    page.check("input[name='extrahepatic.sites'][value='none']")
    page.select_option("select[name='sstr_imaging.krenning_score']", "4")
    page.select_option("select[name='patient.ecog']", "1")
    page.select_option("select[name='sstr_imaging.all_lesions_positive']", "true")
    page.select_option("select[name='course.status']", "progressive")
    page.select_option("select[name='prior_therapies.0.option']", "ssa")
    page.select_option("select[name='prior_therapies.0.outcome']", "progression")
    for name, value in (("creatinine_clearance_ml_min", "80"), ("platelets_10e9_per_l", "210"),
                        ("hemoglobin_g_dl", "12,5"), ("bilirubin_x_uln", "0.8"), ("albumin_g_dl", "4")):  # fmt: skip
        page.fill(f"input[name='labs.{name}']", value)
    page.click("#save-case")
    assert "must be between 0 and 100, got 140" in page.inner_text(".field.invalid")
    assert page.input_value("input[name='labs.hemoglobin_g_dl']") == "12,5"
    assert page.input_value("select[name='sstr_imaging.krenning_score']") == "4"
    page.fill("input[name='pathology.ki67_percent']", "4")
    page.click("#save-case")
    page.wait_for_url("**/cases/browser-1")
    saved = page.request.get("/api/v1/cases/browser-1").json()["case"]
    assert saved["labs"]["hemoglobin_g_dl"] == 12.5  # the decimal comma read as a point
    assert (saved["patient"]["ecog"], saved["sstr_imaging"]["krenning_score"]) == (1, 4)

    first = page.locator("#recommendations li.option").first
    assert "177Lu-DOTATATE" in first.inner_text()
    assert "NETTER-1" in page.inner_text("#recommendations")
    assert page.locator("#forest svg").count() == 1
    # The plot is drawn at its own size (never scaled down): every text at least 11 px on screen.
    scale = page.eval_on_selector(
        "#forest svg", "s => s.getBoundingClientRect().width / s.viewBox.baseVal.width"
    )
    sizes = page.eval_on_selector_all(
        "#forest svg text", "ts => ts.map(t => parseFloat(t.getAttribute('font-size')))"
    )
    assert min(sizes) * scale >= 11
    assert "SSA" not in page.inner_text("#forest table"), "SSA was NETTER's control arm"

    page.select_option("#whatif select[name='sstr_imaging.all_lesions_positive']", "false")
    page.wait_for_selector("#whatif-result table")
    assert "177Lu-DOTATATE" in page.inner_text("#whatif-result")

    page.check("#decision-form input[value='prrt']")
    page.fill("#decision-form textarea[name='participants']", "Dr Li\nDr Wang")
    page.fill("#decision-form textarea[name='notes']", "PRRT after SSA progression")
    page.click("#save-decision")
    page.wait_for_selector("#decision .decision")
    assert "concordant with the assessment" in page.inner_text("#decision")

    page.click("#lang-switch")
    page.wait_for_url("**lang=zh")
    assert "推荐方案" in page.inner_text("#recommendations h2")
    assert "与评估一致" in page.inner_text("#decision")

    for lang, expected in (("en", ["browser-1", "177Lu-DOTATATE", "NETTER-1"]),
                           ("zh", ["browser-1", "肽受体放射性核素治疗"])):  # fmt: skip
        response = page.request.get(f"/api/v1/cases/browser-1/report.pdf?lang={lang}")
        assert response.status == 200
        pdf = tmp_path / f"report-{lang}.pdf"
        pdf.write_bytes(response.body())
        text = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        for snippet in expected:
            assert snippet in text, (lang, snippet)
        fonts = subprocess.run(
            ["pdffonts", str(pdf)], capture_output=True, text=True, check=True
        ).stdout
        if lang == "zh":
            cjk = [line for line in fonts.splitlines() if "CJK" in line]
            assert cjk, fonts
            assert all(" yes " in line for line in cjk)  # embedded


def test_pages_and_api_docs_run_under_the_content_security_policy(page: Page) -> None:
    """No inline script or style is needed anywhere: the browser reports no CSP violation, and
    Swagger UI (served locally, no CDN) lists the operations."""
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Security Policy" in m.text else None)
    page.goto("/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() > 10
    for path in ("/cases", "/cases/browser-1", "/cases/browser-1/history", "/account"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
    assert violations == []


# -- the board's round trips in the browser, in both languages ---------------------------------

LANGS = ("en", "zh")


def signed_in(page: Page, path: str) -> None:
    """Open `path`, signing in first when the session is not there yet."""
    page.goto(path)
    if "/login" in page.url:
        page.fill("input[name=username]", "dr.li")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.goto(path)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("case_id", ["v06", "v07"])
def test_what_if_without_change_is_the_saved_assessment(
    page: Page, case_id: str, lang: str
) -> None:
    """The reported bug: an unchanged what-if lost curative resection (v06) and transplant
    evaluation (v07). Then a change of lesion count and extrahepatic sites shows its effect."""
    signed_in(page, f"/cases/{case_id}?lang={lang}")
    first = page.locator("#recommendations li.option h3").first.inner_text()
    page.click("#whatif button[type=submit]")
    page.wait_for_selector("#whatif-result table")
    assert page.locator("#whatif-same").count() == 1
    assert first.split(" ", 1)[1].strip()[:12] in page.inner_text("#whatif-result")
    page.fill("#whatif input[name='liver.lesion_count']", "30")
    page.select_option("#whatif select[name='liver.pattern']", "III")
    page.uncheck("#whatif input[name='extrahepatic.sites'][value='none']")
    page.check("#whatif input[name='extrahepatic.sites'][value='bone']")
    page.wait_for_load_state("networkidle")
    with page.expect_response(lambda r: "/whatif" in r.url):
        page.click("#whatif button[type=submit]")
    # the answer is swapped in after the response arrives: wait for the page, not the network
    expect(page.locator("#whatif-same")).to_have_count(0)
    assert page.locator("#whatif-result tr.changed").count() >= 1
    whatif = page.locator("#whatif")
    assert whatif.evaluate("e => e.scrollWidth <= e.clientWidth"), "the what-if panel overflows"


@pytest.mark.parametrize("lang", LANGS)
def test_form_error_keeps_exactly_what_was_entered(page: Page, lang: str) -> None:
    signed_in(page, f"/cases/new?lang={lang}")
    entered = {"id": f"err-{lang}", "pathology.ki67_percent": "140", "liver.lesion_count": "3x",
               "patient.age_years": "61.5", "labs.albumin_g_dl": " 3.9 "}  # fmt: skip
    for name, value in entered.items():
        page.fill(f"input[name='{name}']", value)
    page.select_option("select[name='primary.site']", "pancreas")
    page.check("input[name='extrahepatic.sites'][value='lung']")
    page.select_option("select[name='prior_therapies.2.option']", "everolimus")
    page.click("#save-case")
    page.wait_for_selector("#form-problems")
    assert page.evaluate("document.activeElement.id") == "form-problems"  # read first
    for name, value in entered.items():
        assert page.input_value(f"input[name='{name}']") == value, name
    assert page.input_value("select[name='primary.site']") == "pancreas"
    assert not page.is_checked("input[name='extrahepatic.sites'][value='none']")
    assert page.is_checked("input[name='extrahepatic.sites'][value='lung']")
    assert page.input_value("select[name='prior_therapies.2.option']") == "everolimus"
    marked = page.locator(".field.invalid").count()
    assert marked == page.locator("#form-problems li").count() == 3  # ki67, count, prior row
    page.click("#form-problems a >> nth=0")
    assert page.evaluate("location.hash").startswith("#f-")
    page.fill("input[name='pathology.ki67_percent']", "14")
    page.fill("input[name='liver.lesion_count']", "3")
    page.select_option("select[name='prior_therapies.2.outcome']", "progression")
    page.click("#save-case")
    page.wait_for_url(f"**/cases/err-{lang}")
    assert "0.6" not in page.inner_text("#patient-summary")
    assert page.locator("#recommendations").count() == 1


@pytest.mark.parametrize("lang", LANGS)
def test_decision_error_keeps_every_entry(page: Page, lang: str) -> None:
    """A tick outside the first tier asks for a reason; on the server's error every entry
    stays; the saved decision shows names, participants, reason and notes in the history."""
    signed_in(page, f"/cases/v03?lang={lang}")
    form = page.locator("#decision-form")
    outside = form.locator("input[name=chosen_options]:not([data-first-tier])").first
    option = outside.get_attribute("value")
    outside.check()
    assert page.is_visible("#override-reason-needed")
    page.fill("#decision-form textarea[name='participants']", "Dr Li\nDr Wang")
    page.fill("#decision-form textarea[name='notes']", "notes kept")
    form.evaluate("f => { f.noValidate = true; }")  # as a browser without validation would send
    page.click("#save-decision")
    page.wait_for_selector("#decision-problems")
    assert page.evaluate("document.activeElement.id") == "decision-problems"
    assert page.is_checked(f"#decision-form input[value='{option}']")
    assert page.input_value("#decision-form textarea[name='participants']") == "Dr Li\nDr Wang"
    assert page.input_value("#decision-form textarea[name='notes']") == "notes kept"
    assert page.locator("#override-problem").count() == 1
    page.fill("#decision-form textarea[name='override_reason']", f"reason {lang}")
    page.click("#save-decision")
    page.wait_for_selector("#decision .decision")
    page.goto(f"/cases/v03/history?lang={lang}")
    history = page.inner_text("#h-decisions >> xpath=..")
    for text in ("Dr Li", "Dr Wang", f"reason {lang}", "notes kept"):
        assert text in history
    assert option not in history  # the option is named, not coded


PAGES = ["/cases", "/cases/v03", "/cases/v05", "/cases/new", "/cases/v03/edit",
         "/cases/v03/history", "/cases/v03/versions/1", "/cases/v03/print", "/account",
         "/cases/no-such-case", f"/cases/{EHR_CASE}/edit?complete=liver.pattern"]  # fmt: skip


WIDTHS = (1280, 420)

# Measured in the page: a word broken over two lines ("supportiv e") in `root`, and table cells
# narrower than four characters (Chinese set one character a line) in the evidence tables.
BROKEN_WORDS = """root => {
  const broken = [];
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    for (const m of node.textContent.matchAll(/[A-Za-z]{4,}/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (tops.size > 1) broken.push(m[0]);
    }
  }
  return broken;
}"""
SQUEEZED_CELLS = """() => { document.querySelectorAll('details').forEach((d) => { d.open = true; });
  return [...document.querySelectorAll('.table-wrap td, .table-wrap th')].filter((c) => c.textContent.trim().length > 2 && c.getBoundingClientRect().width > 0
    && c.getBoundingClientRect().width < 4 * parseFloat(getComputedStyle(c).fontSize))
  .map((c) => c.textContent.trim().slice(0, 20)); }"""
WRAPPED_BADGES = """() => [...document.querySelectorAll('.badge, .avail')]
  .filter((b) => b.getClientRects().length > 1).map((b) => b.textContent)"""


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_is_accessible_and_fits_a_phone(page: Page, server: str, lang: str) -> None:
    """axe finds no violation at all (any impact) on every kind of page, at 1280 and 420 px;
    at 420 px nothing scrolls sideways but a table in its own labelled region, evidence tables
    keep their words, badges stay on one line, the what-if keeps words whole, and after a
    failed save the error summary has the focus."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        pytest.fail("axe-playwright-python is required (a dev dependency): reinstall with make")
    axe = Axe()
    found: dict[str, list[str]] = {}
    misfits: dict[str, object] = {}

    def check(where: str, width: int) -> None:
        results = axe.run(page).response
        bad = [f"{v['id']} ({v['impact']}): {v['help']} {[n['target'] for n in v['nodes']][:3]}"
               for v in results["violations"]]  # fmt: skip
        if bad:
            found[f"{where} @{width}"] = bad
        if width < 1280:
            scroll = page.evaluate("document.documentElement.scrollWidth")
            squeezed = page.evaluate(SQUEEZED_CELLS)
            wrapped = page.evaluate(WRAPPED_BADGES)
            for name, value, ok in (("scroll width", scroll, scroll <= width),
                                    ("squeezed cells", squeezed, not squeezed),
                                    ("wrapped badges", wrapped, not wrapped)):  # fmt: skip
                if not ok:
                    misfits[f"{where} @{width}: {name}"] = value

    browser = page.context.browser
    assert browser is not None
    anonymous = browser.new_context(base_url=server)
    try:
        login = anonymous.new_page()
        for width in WIDTHS:
            login.set_viewport_size({"width": width, "height": 900})
            login.goto(f"/login?lang={lang}")
            if bad := [v["id"] for v in axe.run(login).response["violations"]]:
                found[f"/login @{width}"] = bad
    finally:
        anonymous.close()
    signed_in(page, f"/cases?lang={lang}")
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            for path in PAGES:
                page.goto(f"{path}{'&' if '?' in path else '?'}lang={lang}")
                page.wait_for_load_state("networkidle")
                check(path, width)
                if path == "/cases/v03":
                    page.click("#whatif button[type=submit]")
                    page.wait_for_selector("#whatif-result table")
                    check("what-if", width)
                    broken = page.evaluate(
                        BROKEN_WORDS, page.locator("#whatif-result").element_handle()
                    )
                    if broken:
                        misfits[f"what-if @{width}: broken words"] = broken
                elif "complete=" in path:
                    assert page.locator("#to-complete, .proposal").count() >= 2, "no form"
                elif path == "/cases/new":
                    page.fill("input[name='id']", "a b")
                    page.click("#save-case")
                    page.wait_for_selector("#form-problems")
                    assert page.evaluate("document.activeElement.id") == "form-problems"
                    check("new case with errors", width)
            switch = page.locator("#lang-switch").bounding_box()
            assert switch is not None
            assert switch["height"] < 30, "the language link wraps"
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
    assert found == {}
    assert misfits == {}


def test_pages_are_html_and_the_api_json(page: Page, server: str) -> None:
    signed_in(page, "/cases")
    missing = page.goto("/cases/no-such-case")
    assert missing is not None
    assert missing.status == 404
    assert "text/html" in missing.headers["content-type"]
    api = page.request.get("/api/v1/cases/no-such-case")
    assert api.status in (401, 404)
    assert "json" in api.headers["content-type"]
    icon = page.request.get("/favicon.ico")
    assert icon.status == 200
    assert "svg" in icon.headers["content-type"]
