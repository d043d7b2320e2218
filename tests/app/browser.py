"""The headless Chromium of the browser tests: Debian's chromium, no sandbox (root in CI) and
nothing fetched from the internet, one page in an en-GB context."""

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@contextmanager
def chromium_page(base_url: str | None = None) -> Iterator[Page]:
    """A page whose relative URLs go to `base_url`; the browser closes when the block ends."""
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (scripts/system-deps.sh test)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(base_url=base_url, locale="en-GB")
        yield context.new_page()
        browser.close()
