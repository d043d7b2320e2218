"""Single sign-on in a real headless Chromium: the login page's button, the hospital's sign-in
page (tests/oidc_provider.py, its own process), and back on the cases, signed in."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from netlm.store.sso import SsoStore
from tests.app.browser import chromium_page
from tests.app.server import database_with_dr_li, served
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, USERS, provider


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("browser-sso")
    url, store = database_with_dr_li(data)
    with provider(data) as issuer:
        SsoStore(store.engine).link_sso("dr.li", issuer, USERS["alice"]["sub"])
        extra = {"NETLM_OIDC_ISSUER": issuer, "NETLM_OIDC_CLIENT_ID": CLIENT_ID,
                 "NETLM_OIDC_CLIENT_SECRET": CLIENT_SECRET}  # fmt: skip
        with served(data, url, extra) as base:
            yield base


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Page]:
    with chromium_page(server) as page:
        yield page


def test_sign_in_with_the_hospital_account(page: Page, server: str) -> None:
    page.goto("/cases")
    assert page.url.endswith("/login?next=/cases")
    page.click("#sso-login")
    page.wait_for_selector("#approve")  # the provider's own sign-in page
    assert not page.url.startswith(server)
    page.fill("#user", "alice")
    page.click("#approve")
    page.wait_for_url(f"{server}/cases")
    expect(page.locator("body")).to_contain_text("Dr Li")
    page.goto("/account")  # the session holds on another page
    assert page.url == f"{server}/account"


def test_an_unlinked_hospital_account_is_refused(page: Page, server: str) -> None:
    page.context.clear_cookies()
    page.goto("/login")
    page.click("#sso-login")
    page.fill("#user", "mallory")
    page.click("#approve")
    expect(page.locator("#sso-refused")).to_contain_text("not linked")
    page.goto("/cases")
    assert "/login" in page.url
