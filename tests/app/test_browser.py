"""End to end in a real headless Chromium: log in, enter a case through the form, read the
recommendations, record a decision, switch to Chinese, download both PDF reports."""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Page, sync_playwright

from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "browser test password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("server")
    url = f"sqlite:///{data / 'netlm.db'}"
    upgrade(url)
    Store(create_db_engine(url)).add_user("dr.li", PASSWORD, "clinician", display_name="Dr Li")
    port = _free_port()
    env = {**os.environ, "NETLM_DATABASE_URL": url, "NETLM_DATA_DIR": str(data)}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "netlm"), "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx2.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"server did not start: {proc.stdout.read() if proc.stdout else ''!r}")
    yield base
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (scripts/system-deps.sh test)"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        context = browser.new_context(base_url=server, locale="en-GB")
        yield context.new_page()
        browser.close()


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
    page.fill("input[name='sstr_imaging.krenning_score']", "4")
    page.select_option("select[name='sstr_imaging.all_lesions_positive']", "true")
    page.select_option("select[name='course.status']", "progressive")
    page.select_option("select[name='prior_therapies.0.option']", "ssa")
    page.select_option("select[name='prior_therapies.0.outcome']", "progression")
    for name, value in (("creatinine_clearance_ml_min", "80"), ("platelets_10e9_per_l", "210"),
                        ("hemoglobin_g_dl", "12.5"), ("bilirubin_x_uln", "0.8"), ("albumin_g_dl", "4")):  # fmt: skip
        page.fill(f"input[name='labs.{name}']", value)
    page.click("#save-case")
    assert "must be between 0 and 100, got 140" in page.inner_text(".field.invalid")
    page.fill("input[name='pathology.ki67_percent']", "4")
    page.click("#save-case")
    page.wait_for_url("**/cases/browser-1")

    first = page.locator("#recommendations li.option").first
    assert "177Lu-DOTATATE" in first.inner_text()
    assert "NETTER-1" in page.inner_text("#recommendations")
    assert page.locator("#forest svg").count() == 1

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
