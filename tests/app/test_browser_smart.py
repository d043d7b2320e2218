"""SMART EHR launch in a real headless Chromium: the test EHR's page (tests/smart_server.py, its
own process) frames netlm's launch URL, and the patient's case opens inside the frame, signed in.

The EHR page is addressed as `localhost` and netlm as `127.0.0.1`: two sites, so the frame is a
cross-site context, as in a hospital, where only SameSite=None cookies reach netlm, and only
partitioned ones (CHIPS) where the browser blocks third-party cookies, as this one does."""

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx2
import pytest
from playwright.sync_api import Page, expect

from netlm.fhir.cds.service import case_id_for
from tests.app.browser import chromium_page
from tests.app.server import database_with_dr_li, served
from tests.cds.ehr import EHR_ISSUER
from tests.smart_server import CLIENT_ID, CLIENT_SECRET, register_smart_ehr, smart_ehr


@dataclass(frozen=True)
class Sites:
    netlm: str
    ehr_page: str  # the EHR's origin as the browser sees it: another site than netlm's


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    data = tmp_path_factory.mktemp("browser-smart")
    url, store = database_with_dr_li(data)
    with smart_ehr(data) as ehr:
        register_smart_ehr(store, ehr)
        ehr_page = ehr.replace("127.0.0.1", "localhost")
        extra = {"NETLM_SMART_CLIENT_ID": CLIENT_ID, "NETLM_SMART_CLIENT_SECRET": CLIENT_SECRET,
                 "NETLM_SMART_FRAME_ORIGINS": ehr_page}  # fmt: skip
        with served(data, url, extra) as base:
            yield Sites(base, ehr_page)


@pytest.fixture(scope="module")
def page(sites: Sites) -> Iterator[Page]:
    with chromium_page() as page:
        yield page


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
