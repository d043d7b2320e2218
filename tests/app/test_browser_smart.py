"""SMART EHR launch in a real headless Chromium: the test EHR's page (tests/smart_server.py, its
own process) frames netlm's launch URL, and the patient's case opens inside the frame, signed in.

The EHR page is addressed as `localhost` and netlm as `127.0.0.1`: two sites, so the frame is a
cross-site context, as in a hospital, where only SameSite=None cookies reach netlm, and only
partitioned ones (CHIPS) where the browser blocks third-party cookies, as this one does."""

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx2
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from netlm.fhir.cds.service import case_id_for
from netlm.fhir.cds.store import CdsStore
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.store.sso import SsoStore
from tests.app.server import served
from tests.cds.ehr import Ehr
from tests.smart_server import CLIENT_ID, CLIENT_SECRET, USERS, smart_ehr

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As in test_browser_sso.py: no sandbox (root in CI), nothing fetched from the internet.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
EHR_ISSUER = "https://ehr.example.org"


@dataclass(frozen=True)
class Sites:
    netlm: str
    ehr_page: str  # the EHR's origin as the browser sees it: another site than netlm's


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    data = tmp_path_factory.mktemp("browser-smart")
    url = f"sqlite:///{data / 'netlm.db'}"
    upgrade(url)
    store = Store(create_db_engine(url))
    store.add_user("dr.li", "a password she never uses", "clinician", display_name="Dr Li")
    with smart_ehr(data) as ehr:
        CdsStore(store.engine).add_client(
            EHR_ISSUER, "Test EHR", Ehr().jwks(), [], fhir_servers=[f"{ehr}/fhir"], allow_http=True
        )
        SsoStore(store.engine).link_sso("dr.li", ehr, USERS["alice"]["sub"])
        ehr_page = ehr.replace("127.0.0.1", "localhost")
        extra = {"NETLM_SMART_CLIENT_ID": CLIENT_ID, "NETLM_SMART_CLIENT_SECRET": CLIENT_SECRET,
                 "NETLM_SMART_FRAME_ORIGINS": ehr_page}  # fmt: skip
        with served(data, url, extra) as base:
            yield Sites(base, ehr_page)


@pytest.fixture(scope="module")
def page(sites: Sites) -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (scripts/system-deps.sh test)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(locale="en-GB")
        yield context.new_page()
        browser.close()


def test_only_the_ehr_may_frame_netlm(sites: Sites) -> None:
    headers = httpx2.get(f"{sites.netlm}/login").headers
    assert f"frame-ancestors 'self' {sites.ehr_page}" in headers["content-security-policy"]
    assert "x-frame-options" not in headers  # it cannot name an origin: CSP says who may


def test_the_case_opens_inside_the_ehr(page: Page, sites: Sites) -> None:
    query = urlencode({"user": "alice", "patient": "v01", "app": f"{sites.netlm}/smart/launch"})
    page.goto(f"{sites.ehr_page}/ehr?{query}")
    expect(page.locator("#ehr")).to_contain_text("patient v01")
    frame = page.frame_locator("#app")
    expect(frame.locator("body")).to_contain_text("Dr Li")  # signed in, inside the frame
    case_id = case_id_for(EHR_ISSUER, "v01")
    (inner,) = (f for f in page.frames if f.url.startswith(sites.netlm))
    assert inner.url.startswith(f"{sites.netlm}/cases/{case_id}/edit?complete=")
    assert page.url.startswith(sites.ehr_page)  # the EHR stays on top
    (cookie,) = (c for c in page.context.cookies(sites.netlm) if c["name"] == "netlm_session")
    assert (cookie["sameSite"], cookie["secure"], cookie["httpOnly"]) == ("None", True, True)
    assert cookie.get("partitionKey") == "http://localhost"  # CHIPS: kept for the EHR's site only


def test_a_form_inside_the_frame_passes_the_csrf_checks(page: Page, sites: Sites) -> None:
    """An unsafe request from the framed page (logging out: its Origin and CSRF token) works."""
    frame = page.frame_locator("#app")
    frame.locator("form[action='/logout'] button").click()
    (inner,) = (f for f in page.frames if f.url.startswith(sites.netlm))
    inner.wait_for_url(f"{sites.netlm}/login**")
    inner.goto(f"{sites.netlm}/cases")
    assert "/login" in inner.url  # the session is over
