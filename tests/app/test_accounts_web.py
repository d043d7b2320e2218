"""Accounts over HTTP (issue 17): the per-account ceiling with Retry-After, the NAT neighbour who
no longer keeps the user out of their own browser, the password policy at the API, password
change (page and API), the TOTP sign-in step, NETLM_REQUIRE_MFA for admins, and the new pages in
both languages.

Each test failed before: 80 guesses from 20 addresses were all checked; the NAT neighbour's 5
failures kept the user out; `password12` made a user; there was no password change, no second
factor and no NETLM_REQUIRE_MFA.
"""

import re
import time
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from netlm.settings import Settings
from netlm.store.db import create_db_engine, upgrade
from netlm.store.identity import UserInfo
from netlm.store.repository import Store
from netlm.web.app import create_app
from tests.app.conftest import PASSWORD, Env, form_token, login, post_login
from tests.store.conftest import FAST_HASHER
from tests.web.pagetext import half_width_punctuation, untranslated, visible_texts

NEW_PASSWORD = "violet umbrella quarry 42"


def fast_env(folder: Path, require_mfa: bool = False) -> Env:
    """make_env's app and users, with cheap argon2 parameters: these tests hash a lot."""
    url = f"sqlite:///{folder / 'netlm.db'}"
    upgrade(url)
    config = Settings(
        database_url=url, secret_key="test-secret-" + "x" * 40, data_dir=folder,
        require_mfa=require_mfa,
    )  # fmt: skip
    store = Store(create_db_engine(url), hasher=FAST_HASHER)
    tokens = {}
    for role in ("admin", "clinician", "viewer"):
        user = store.add_user(role, PASSWORD, role, display_name=f"{role.title()} User")
        tokens[role] = store.create_token(user, "tests")
    return Env(create_app(config, store), store, config, tokens)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """One app for the module: each test signs in as users and from addresses of its own."""
    return fast_env(tmp_path_factory.mktemp("accounts"))


def other_user(env: Env, name: str, role: str = "clinician") -> UserInfo:
    return env.store.add_user(name, PASSWORD, role, display_name=name.title())


# --- throttling ----------------------------------------------------------------------------------


def test_guesses_from_20_addresses_are_slowed_with_retry_after(env: Env) -> None:
    other_user(env, "victim")
    answers = []
    for i in range(80):
        client = env.client(f"10.9.{i % 20}.1")
        answers.append(
            client.post("/api/v1/tokens", json={"username": "victim", "password": f"guess {i}"})
        )
    statuses = [a.status_code for a in answers]
    assert statuses[:20] == [401] * 20
    # From then on one guess per 1, 2, 4... seconds: a few pass as the seconds of this test go by
    assert statuses[20:].count(401) <= 5
    assert statuses[20:].count(429) >= 55
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers if a.status_code == 429)
    alerts = [e for e in env.store.audit_log(entity_id="victim") if e.action == "login_ceiling"]
    assert len(alerts) == 1


def test_a_nat_neighbour_does_not_keep_the_user_out_of_their_browser(env: Env) -> None:
    other_user(env, "nat.victim")
    browser = env.client("10.0.0.99")  # the victim's browser, signed in once before
    login(browser, "nat.victim")
    browser.post("/logout", data={"csrf_token": form_token(browser.get("/account").text)})
    neighbour = env.client("10.0.0.99")  # someone behind the same NAT address
    for _ in range(5):
        assert post_login(neighbour, "nat.victim", "wrong password").status_code == 401
    assert post_login(neighbour, "nat.victim").status_code == 429
    assert post_login(env.client("10.0.0.99"), "nat.victim").status_code == 429  # a new browser
    assert post_login(browser, "nat.victim").status_code == 303  # the trusted browser gets in


# --- password policy and change ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [("password12", "too easy to guess"), (" " * 10, "too easy to guess"),
     ("newdoc is my name", "must not contain the user name")],
)  # fmt: skip
def test_weak_passwords_are_refused_by_the_api_naming_the_field(
    env: Env, password: str, problem: str
) -> None:
    body = {"username": "newdoc", "password": password, "role": "clinician"}
    answer = env.client().post("/api/v1/users", json=body, headers=env.auth("admin"))
    assert answer.status_code == 422
    ((field, message),) = [(e["field"], e["message"]) for e in answer.json()["errors"]]
    assert (field, message.startswith(problem)) == ("password", True)


def test_password_change_page(env: Env) -> None:
    other_user(env, "dr.wu")
    elsewhere = env.client("10.0.0.2")
    login(elsewhere, "dr.wu")
    client = env.client()
    csrf = login(client, "dr.wu")

    def change(current: str, new: str, confirmation: str, token: str = csrf) -> tuple[int, str]:
        data = {"current_password": current, "new_password": new, "confirmation": confirmation,
                "csrf_token": token}  # fmt: skip
        answer = client.post("/account/password", data=data, follow_redirects=False)
        return answer.status_code, answer.text

    assert change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD, token="forged")[0] == 403
    assert change(PASSWORD, NEW_PASSWORD, "violet")[0] == 422
    status, text = change(PASSWORD, "password12", "password12")
    assert (status, "strength 1 of 4" in text) == (422, True)
    assert change("wrong password", NEW_PASSWORD, NEW_PASSWORD)[0] == 401
    assert change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)[0] == 303
    assert client.get("/account/password?done=true").status_code == 200  # still signed in
    assert elsewhere.get("/cases", follow_redirects=False).status_code == 303  # signed out
    assert post_login(env.client(), "dr.wu").status_code == 401
    assert post_login(env.client(), "dr.wu", NEW_PASSWORD).status_code == 303
    actions = [e.action for e in env.store.audit_log(entity_id="dr.wu")]
    assert actions.count("password_changed") == 1


def test_password_change_api(env: Env) -> None:
    user = other_user(env, "dr.api", "viewer")
    client = env.client()
    auth = {"Authorization": f"Bearer {env.store.create_token(user, 'tests')}"}
    weak = {"current_password": PASSWORD, "new_password": "dr.api1234"}
    answer = client.post("/api/v1/account/password", json=weak, headers=auth)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "password"
    wrong = {"current_password": "not it at all", "new_password": NEW_PASSWORD}
    assert client.post("/api/v1/account/password", json=wrong, headers=auth).status_code == 401
    good = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert client.post("/api/v1/account/password", json=good, headers=auth).status_code == 204
    token = client.post("/api/v1/tokens", json={"username": "dr.api", "password": NEW_PASSWORD})
    assert token.status_code == 201


# --- TOTP ----------------------------------------------------------------------------------------


def enrol(client: TestClient) -> pyotp.TOTP:
    """Enrol through the page as a signed-in user would; the authenticator is the page's URI."""
    page = client.get("/account/totp")
    assert page.status_code == 200
    assert "<svg" in page.text
    uri = re.search(r'id="totp-uri"[^>]*>([^<]+)<', page.text)
    assert uri is not None
    totp = pyotp.parse_uri(uri.group(1).replace("&amp;", "&"))
    assert isinstance(totp, pyotp.TOTP)
    data = {"code": "abcdef", "csrf_token": form_token(page.text)}
    assert client.post("/account/totp", data=data).status_code == 422
    data["code"] = totp.now()
    assert client.post("/account/totp", data=data, follow_redirects=False).status_code == 303
    return totp


def code_step(client: TestClient, code: str) -> int:
    page = client.get("/login/code?next=/cases")
    data = {"code": code, "next": "/cases", "csrf_token": form_token(page.text)}
    return client.post("/login/code", data=data, follow_redirects=False).status_code


def test_totp_sign_in_takes_the_code_after_the_password(env: Env) -> None:
    other_user(env, "dr.mfa")
    client = env.client()
    login(client, "dr.mfa")
    totp = enrol(client)
    fresh = env.client("10.0.0.3")
    answer = post_login(fresh, "dr.mfa")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login/code?next=/cases")
    assert fresh.get("/cases", follow_redirects=False).status_code == 303  # not signed in yet
    assert code_step(fresh, "000000" if totp.now() != "000000" else "111111") == 401
    following = totp.at(time.time() + 30)  # the enrolment used the current code
    assert code_step(fresh, following) == 303
    assert fresh.get("/cases").status_code == 200
    assert last_session_had_second_factor(env)  # NETLM_REQUIRE_MFA would accept this session
    again = env.client("10.0.0.4")
    post_login(again, "dr.mfa")
    assert code_step(again, following) == 401  # each code works once
    token = env.client().post("/api/v1/tokens", json={"username": "dr.mfa", "password": PASSWORD})
    assert (token.status_code, token.json()["errors"][0]["field"]) == (401, "code")


def last_session_had_second_factor(env: Env) -> bool:
    with env.store.engine.connect() as connection:
        query = "SELECT second_factor FROM web_sessions ORDER BY id DESC LIMIT 1"
        return bool(connection.exec_driver_sql(query).scalar())


def test_the_code_step_needs_the_password_step(env: Env) -> None:
    assert env.client().get("/login/code", follow_redirects=False).status_code == 303
    client = env.client()
    page = client.get("/login")
    data = {"code": "123456", "csrf_token": form_token(page.text)}
    assert client.post("/login/code", data=data).status_code == 401


@pytest.fixture
def mfa_env(tmp_path: Path) -> Env:
    return fast_env(tmp_path, require_mfa=True)


def test_require_mfa_sends_an_admin_to_enrol_before_anything_else(mfa_env: Env) -> None:
    client = mfa_env.client()
    assert post_login(client, "admin").status_code == 303
    assert not last_session_had_second_factor(mfa_env)
    for path in ("/cases", "/account", "/cases/new"):
        answer = client.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers.get("location")) == (303, "/account/totp")
    assert client.get("/api/v1/cases", headers={"Accept": "application/json"}).status_code == 403
    assert client.get("/api/v1/cases", headers=mfa_env.auth("admin")).status_code == 200  # token
    no_code = {"username": "admin", "password": PASSWORD}
    assert mfa_env.client().post("/api/v1/tokens", json=no_code).status_code == 403
    assert login(mfa_env.client(), "clinician")  # only admins must
    totp = enrol(client)
    assert client.get("/cases").status_code == 200
    with_code = {**no_code, "code": totp.at(time.time() + 30)}  # the next step: not yet used
    assert mfa_env.client().post("/api/v1/tokens", json=with_code).status_code == 201


# --- the new pages in Chinese --------------------------------------------------------------------


def test_new_pages_in_chinese_are_translated_with_full_width_punctuation(env: Env) -> None:
    client = env.client()
    login(client, "viewer")
    pages = {
        "password": client.get("/account/password?lang=zh&done=true").text,
        "totp": client.get("/account/totp?lang=zh").text,
        "account": client.get("/account?lang=zh").text,
    }
    assert "修改密码" in pages["password"]
    assert "启用第二重验证" in pages["totp"]
    found = {what: hits for what, html in pages.items()
             if (hits := untranslated(visible_texts(html), set())
                 + half_width_punctuation(visible_texts(html), ()))}  # fmt: skip
    assert found == {}
