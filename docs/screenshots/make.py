"""Take the README's screenshots of the case page (English and Chinese, 1280 and 420 px wide).

Runs `netlm serve --demo` on a fresh store in a temporary folder, signs in as the demo clinician
and saves the first screen of a case page with Debian's Chromium:

    .venv/bin/python docs/screenshots/make.py [case id] [port]
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"


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
            _shoot(base, password, case_id)
        finally:
            server.terminate()
            server.wait(timeout=10)


def _wait(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("the server did not start")


def _shoot(base: str, password: str, case_id: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for width in (1280, 420):
            page = browser.new_page(viewport={"width": width, "height": 1000})
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "demo")
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url("**/cases")
            for lang in ("en", "zh"):
                page.goto(f"{base}/cases/{case_id}?lang={lang}")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(HERE / f"case-{lang}-{width}.png"))
            page.close()
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:2], *(int(a) for a in sys.argv[2:3]))
