"""Take the README's screenshots, in English and Chinese, with Debian's Chromium.

Runs `netlm serve --demo` on a fresh store in a temporary folder, signs in as the demo clinician
and saves: the first screen of a case page at 1280 and 420 px; the what-if panel after a changed
finding; the decision history after a decision recorded on an older version; page 1 of the PDF
report (rendered by pdftoppm):

    .venv/bin/python docs/screenshots/make.py [case id] [port]
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
LANGS = ("en", "zh")


def main(case_id: str = "v03", port: int = 8109) -> None:
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "NETLM_DATABASE_URL": f"sqlite:///{data}/netlm.db",
               "NETLM_DATA_DIR": data, "NETLM_PUBLIC_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
        netlm = Path(sys.executable).parent / "netlm"
        server = subprocess.Popen([str(netlm), "serve", "--demo", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base)
            password = (Path(data) / "demo-password").read_text().strip()
            _shoot(base, password, case_id, Path(data))
        finally:
            server.terminate()
            server.wait(timeout=10)


def _wait(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not start")


def _shoot(base: str, password: str, case_id: str, scratch: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "demo")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/cases")
        _decide_then_edit(page, base, case_id)
        for width in (1280, 420):
            page.set_viewport_size({"width": width, "height": 1000})
            for lang in LANGS:
                _open(page, f"{base}/cases/{case_id}?lang={lang}")
                page.screenshot(path=str(HERE / f"case-{lang}-{width}.png"))
        page.set_viewport_size({"width": 1280, "height": 1000})
        for lang in LANGS:
            _open(page, f"{base}/cases/{case_id}?lang={lang}")
            _what_if(page)
            page.locator("#whatif").screenshot(path=str(HERE / f"whatif-{lang}.png"))
            _open(page, f"{base}/cases/{case_id}/history?lang={lang}")
            page.screenshot(path=str(HERE / f"history-{lang}.png"), full_page=True)
            pdf = scratch / f"report-{lang}.pdf"
            pdf.write_bytes(
                page.request.get(f"{base}/api/v1/cases/{case_id}/report.pdf?lang={lang}").body()
            )
            out = HERE / f"report-{lang}-page1"
            subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile",
                            str(pdf), str(out)], check=True)  # fmt: skip
        browser.close()


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def _decide_then_edit(page: Page, base: str, case_id: str) -> None:
    """A decision on the current version, then a new version, so the history shows a decision
    made on an older version."""
    _open(page, f"{base}/cases/{case_id}")
    page.locator("#decision-form input[name=chosen_options][data-first-tier]").first.check()
    page.fill("#decision-form textarea[name=participants]", "Dr Li\nDr Wang\nDr Chen")
    page.fill("#decision-form textarea[name=notes]", "Discussed at the tumour board.")
    page.click("#save-decision")
    page.wait_for_selector("#decision .decision")
    _open(page, f"{base}/cases/{case_id}/edit")
    page.fill("input[name='labs.albumin_g_dl']", "3,6")
    page.fill("input[name=comment]", "albumin repeated")
    page.click("#save-case")
    page.wait_for_url(f"**/cases/{case_id}")


def _what_if(page: Page) -> None:
    """Creatinine clearance 25 in the what-if panel when it offers labs, else the liver pattern."""
    clearance = page.locator("#whatif input[name='labs.creatinine_clearance_ml_min']")
    with page.expect_response(lambda r: "/whatif" in r.url):
        if clearance.count():
            clearance.fill("25")
            clearance.dispatch_event("change")
        else:
            page.select_option("#whatif select[name='liver.pattern']", "III")
    page.wait_for_selector("#whatif-result table, #whatif-result .changes", timeout=10_000)
    page.wait_for_timeout(300)


if __name__ == "__main__":
    main(*sys.argv[1:2], *(int(a) for a in sys.argv[2:3]))
