"""TOTP in a real headless Chromium: a user enrols from the account page (QR code, secret and
URI shown), logs out, signs in with the password and then the current code; a wrong code is
refused and leaves the browser signed out."""

import time
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Page, expect

from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from tests.app.browser import chromium_page
from tests.app.server import served

PASSWORD = "browser test password"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("server")
    url = f"sqlite:///{data / 'netlm.db'}"
    upgrade(url)
    engine = create_db_engine(url)
    Store(engine).add_user("dr.zhao", PASSWORD, "clinician", display_name="Dr Zhao")
    engine.dispose()
    with served(data, url) as base:
        yield base


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Page]:
    with chromium_page(server) as page:
        yield page


def sign_in_with_password(page: Page) -> None:
    page.goto("/cases")
    page.fill("input[name=username]", "dr.zhao")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_enrol_then_sign_in_with_the_code(page: Page) -> None:
    sign_in_with_password(page)
    page.wait_for_url("**/cases")
    page.goto("/account")
    page.click("#mfa-enrol")
    page.wait_for_url("**/account/totp")
    expect(page.locator("figure.qr svg")).to_be_visible()
    totp = pyotp.parse_uri(page.inner_text("#totp-uri"))
    assert isinstance(totp, pyotp.TOTP)
    assert totp.secret == page.inner_text("#totp-secret")
    page.fill("input[name=code]", totp.now())
    page.click("#totp-confirm")
    page.wait_for_url("**/account#mfa")
    expect(page.locator("#mfa")).to_contain_text("Second factor: on")

    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login")
    sign_in_with_password(page)
    page.wait_for_url("**/login/code?next=/cases")
    wrong = "000000" if totp.now() != "000000" else "111111"
    page.fill("input[name=code]", wrong)
    page.click("button[type=submit]")
    expect(page.locator("p.error")).to_contain_text("Wrong code")
    page.goto("/cases")
    page.wait_for_url("**/login?next=/cases")  # the password alone signed nobody in

    sign_in_with_password(page)
    page.wait_for_url("**/login/code?next=/cases")
    page.fill("input[name=code]", totp.at(time.time() + 30))  # enrolment used the current one
    page.click("button[type=submit]")
    page.wait_for_url("**/cases")
    expect(page.locator("h1")).to_be_visible()
