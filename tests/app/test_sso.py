"""Single sign-on end to end over HTTP: netlm's server and a real OpenID provider
(tests/oidc_provider.py), each in its own process, started once for this module; a client
follows the redirects between them as a browser would. A second netlm server on the same
database runs with NETLM_REQUIRE_MFA, for the rule on admins' single sign-on."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from fastapi.testclient import TestClient

from netlm.settings import Settings
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.store.sso import SsoStore
from netlm.web.app import create_app
from netlm.web.i18n import word
from netlm.web.oidc_client import Provider, SsoFailed, second_factor
from tests.app.server import database_with_dr_li, served
from tests.oidc_provider import AMR, CLIENT_ID, CLIENT_SECRET, MODES, USERS, provider
from tests.web.pagetext import half_width_punctuation, visible_texts


@dataclass(frozen=True)
class Sites:
    netlm: str
    issuer: str
    store: Store
    strict: str  # netlm with NETLM_REQUIRE_MFA=1


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    data = tmp_path_factory.mktemp("sso")
    url, store = database_with_dr_li(data)
    store.add_user("dr.wu", "a password she never uses", "admin", display_name="Dr Wu")
    (data / "strict").mkdir()
    with provider(data) as issuer:
        SsoStore(store.engine).link_sso("dr.li", issuer, USERS["alice"]["sub"])
        SsoStore(store.engine).link_sso("dr.wu", issuer, USERS["carol"]["sub"])
        extra = {"NETLM_OIDC_ISSUER": issuer, "NETLM_OIDC_CLIENT_ID": CLIENT_ID,
                 "NETLM_OIDC_CLIENT_SECRET": CLIENT_SECRET}  # fmt: skip
        strict = extra | {"NETLM_REQUIRE_MFA": "1"}
        with served(data, url, extra) as base, served(data / "strict", url, strict) as mfa:
            yield Sites(base, issuer, store, mfa)


def browser(sites: Sites, base: str | None = None) -> httpx2.Client:
    return httpx2.Client(base_url=base or sites.netlm, timeout=10)


def to_provider(client: httpx2.Client, next: str = "/cases") -> str:
    """Start single sign-on at netlm; the provider's authorisation URL it redirects to."""
    started = client.get("/login/sso", params={"next": next})
    assert started.status_code == 303, started.text
    return started.headers["location"]


def at_provider(client: httpx2.Client, authorize: str, user: str, misbehave: str = "") -> str:
    """Sign in at the provider as `user`; the netlm callback URL it redirects back to."""
    extra = {"user": user} | ({"misbehave": misbehave} if misbehave else {})
    answer = client.get(f"{authorize}&{urlencode(extra)}")
    assert answer.status_code == 302, answer.text
    callback = answer.headers["location"]
    assert callback.startswith(client.base_url.join("/login/sso/callback").__str__())
    return callback


def says(response: httpx2.Response, key: str, lang: str = "en") -> bool:
    """Whether the page shows the words of `key`, as a reader sees them (unescaped)."""
    return any(word(key, lang) in t.text for t in visible_texts(response.text))


def signed_in(client: httpx2.Client) -> bool:
    return client.get("/cases").status_code == 200


def test_a_linked_user_signs_in_and_the_session_works(sites: Sites) -> None:
    with browser(sites) as client:
        authorize = to_provider(client, "/cases?pending=1")
        query = parse_qs(urlsplit(authorize).query)
        assert authorize.startswith(f"{sites.issuer}/authorize?")
        assert query["code_challenge_method"] == ["S256"]
        assert query["client_id"] == [CLIENT_ID]
        assert query["scope"] == ["openid"]
        assert len(query["state"][0]) >= 43
        assert len(query["nonce"][0]) >= 43
        assert client.cookies.get("netlm_sso")  # the flow, signed, for this browser only

        landed = client.get(f"{authorize}&user=alice", follow_redirects=True)
        assert landed.status_code == 200
        assert landed.url == client.base_url.join("/cases?pending=1")
        assert "Dr Li" in landed.text
        assert signed_in(client)
        assert not client.cookies.get("netlm_sso")  # used once, then gone
    login = sites.store.audit_log("dr.li", limit=5)[0]
    assert (login.action, login.detail["method"], login.detail["issuer"]) == (
        "login", "sso", sites.issuer
    )  # fmt: skip


def test_an_unknown_subject_is_refused_with_a_clear_page(sites: Sites) -> None:
    with browser(sites) as client:
        callback = at_provider(client, to_provider(client), "mallory")
        refused = client.get(callback)
        assert refused.status_code == 403
        assert says(refused, "sso.unlinked")
        assert not signed_in(client)
    entry = sites.store.audit_log(USERS["mallory"]["sub"], limit=1)[0]
    assert entry.action == "login_failed"
    assert entry.detail["issuer"] == sites.issuer
    assert entry.detail["method"] == "sso"


def test_a_tampered_state_is_refused(sites: Sites) -> None:
    with browser(sites) as client:
        callback = at_provider(client, to_provider(client), "alice")
        parts = urlsplit(callback)
        query = parse_qs(parts.query)
        query["state"] = [query["state"][0][:-1] + ("A" if query["state"][0][-1] != "A" else "B")]
        refused = client.get(f"{parts.path}?{urlencode(query, doseq=True)}")
        assert refused.status_code == 400
        assert says(refused, "sso.expired")
        assert not signed_in(client)


def test_a_callback_in_another_browser_is_refused(sites: Sites) -> None:
    """Login CSRF: an attacker's own code and state, sent to a victim's browser, sign no one in."""
    with browser(sites) as attacker, browser(sites) as victim:
        callback = at_provider(attacker, to_provider(attacker), "alice")
        refused = victim.get(callback)
        assert refused.status_code == 400
        assert says(refused, "sso.expired")
        assert not signed_in(victim)


def test_a_callback_replayed_is_refused(sites: Sites) -> None:
    with browser(sites) as client:
        callback = at_provider(client, to_provider(client), "alice")
        assert client.get(callback).status_code == 303
        client.cookies.delete("netlm_session")
        assert client.get(callback).status_code == 400
        assert not signed_in(client)


@pytest.mark.parametrize("mode", MODES)
def test_an_id_token_that_fails_a_check_is_refused(sites: Sites, mode: str) -> None:
    with browser(sites) as client:
        callback = at_provider(client, to_provider(client), "alice", misbehave=mode)
        refused = client.get(callback)
        assert refused.status_code == 400, mode
        assert says(refused, "sso.failed")
        assert "netlm_session" not in refused.headers.get("set-cookie", "")
        assert not signed_in(client)
    entry = sites.store.audit_log("(sso)", limit=1)[0]
    assert entry.action == "login_failed"
    assert entry.detail["reason"].startswith(f"ID token refused: {WHY[mode]}"), entry.detail


# What each misbehaviour of the provider must be refused for (the audit entry's reason).
WHY = {
    "wrong_nonce": "InvalidClaimError: invalid_claim: Invalid claim: 'nonce'",
    "wrong_audience": "InvalidClaimError: invalid_claim: Invalid claim: 'aud'",
    "wrong_issuer": "InvalidClaimError: invalid_claim: Invalid claim: 'iss'",
    "expired": "ExpiredTokenError",
    "bad_signature": "BadSignatureError",
    "unsigned": "UnsupportedAlgorithmError",
}


def test_cancelled_at_the_provider(sites: Sites) -> None:
    with browser(sites) as client:
        authorize = to_provider(client)
        state = parse_qs(urlsplit(authorize).query)["state"][0]
        refused = client.get("/login/sso/callback", params={"error": "access_denied",
                                                            "state": state})  # fmt: skip
        assert refused.status_code == 400
        assert says(refused, "sso.cancelled")


def test_next_stays_on_this_site(sites: Sites) -> None:
    with browser(sites) as client:
        authorize = to_provider(client, "//evil.example/x")
        landed = client.get(f"{authorize}&user=alice", follow_redirects=True)
        assert landed.url == client.base_url.join("/cases")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_login_page_offers_single_sign_on(sites: Sites, lang: str) -> None:
    with browser(sites) as client:
        page = client.get("/login", params={"lang": lang, "next": "/cases/x"}).text
        assert word("login.sso", lang) in page
        assert 'href="/login/sso?next=/cases/x"' in page
        refused = client.get("/login/sso/callback", params={"lang": lang})
        texts = visible_texts(page) + visible_texts(refused.text)
        if lang == "zh":
            assert half_width_punctuation(texts, ()) == []


# --- NETLM_REQUIRE_MFA: an admin's single sign-on needs a second factor at the provider ----------


def sso_sign_in(client: httpx2.Client, user: str, misbehave: str = "") -> httpx2.Response:
    """Sign in at the provider as `user` and follow netlm's answer to its end."""
    callback = at_provider(client, to_provider(client), user, misbehave)
    return client.get(callback, follow_redirects=True)


def test_require_mfa_admits_an_admin_with_a_second_factor_at_the_provider(sites: Sites) -> None:
    assert second_factor(AMR)  # the provider's default: password and one-time code
    with browser(sites, sites.strict) as client:
        landed = sso_sign_in(client, "carol")
        assert (landed.status_code, landed.url.path) == (200, "/cases")  # not sent to enrol
        assert "Dr Wu" in landed.text
        assert client.get("/account", follow_redirects=False).status_code == 200
        users = client.get("/api/v1/users", headers={"Accept": "application/json"})
        assert users.status_code == 200  # an admin's route, with the session's cookie
    login = sites.store.audit_log("dr.wu", limit=1)[0]
    assert (login.action, login.detail["method"], login.detail["second_factor"]) == (
        "login", "sso", True
    )  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_require_mfa_refuses_an_admin_without_a_second_factor(sites: Sites, lang: str) -> None:
    with browser(sites, sites.strict) as client:
        client.headers["Accept-Language"] = "zh-CN" if lang == "zh" else "en"
        refused = sso_sign_in(client, "carol", misbehave="single_factor")
        assert refused.status_code == 403
        assert says(refused, "sso.no_second_factor", lang)
        assert "netlm_session" not in refused.headers.get("set-cookie", "")
        assert not signed_in(client)
        if lang == "zh":
            assert half_width_punctuation(visible_texts(refused.text), ()) == []
    entry = sites.store.audit_log(USERS["carol"]["sub"], limit=1)[0]
    assert (entry.action, entry.detail["method"], entry.detail["issuer"]) == (
        "login_failed", "sso", sites.issuer
    )  # fmt: skip
    assert "without a second factor" in entry.detail["reason"]
    assert "['pwd']" in entry.detail["reason"]


def test_require_mfa_admits_a_clinician_without_a_second_factor(sites: Sites) -> None:
    with browser(sites, sites.strict) as client:
        landed = sso_sign_in(client, "alice", misbehave="single_factor")
        assert (landed.status_code, landed.url.path) == (200, "/cases")
        assert "Dr Li" in landed.text


def test_without_require_mfa_an_admin_needs_no_second_factor(sites: Sites) -> None:
    with browser(sites) as client:
        landed = sso_sign_in(client, "carol", misbehave="single_factor")
        assert (landed.status_code, landed.url.path) == (200, "/cases")


@pytest.mark.parametrize(
    ("amr", "two"),
    [
        (["mfa"], True),
        (["pwd", "otp"], True),
        (["pwd", "sms"], True),
        (["hwk", "pin"], True),
        (["swk", "fpt"], True),
        (["face", "hwk"], True),
        (["pwd", "mfa", "otp"], True),
        (["pwd"], False),
        (["otp"], False),  # one factor, however strong
        (["hwk"], False),
        (["sms", "tel"], False),  # both possession
        (["pwd", "kba"], False),  # both knowledge
        (["pwd", "mca"], False),  # several channels are not several factors
        (["pwd", "rba"], False),
        ([], False),
        (None, False),
        ("mfa", False),  # not a list: OpenID Connect Core says an array of strings
        ([["mfa"]], False),
    ],
)
def test_second_factor_follows_rfc_8176(amr: object, two: bool) -> None:
    assert second_factor(amr) is two


def test_an_unreachable_provider_is_reported_as_such() -> None:
    with pytest.raises(SsoFailed) as failed:
        Provider("http://127.0.0.1:9", CLIENT_ID).authorize_url("http://x/cb", "s", "n", "v" * 43)
    assert failed.value.unreachable


def test_without_configuration_there_is_no_single_sign_on(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'netlm.db'}"
    upgrade(url)
    settings = Settings(database_url=url, secret_key="k" * 48, data_dir=tmp_path)
    client = TestClient(create_app(settings, Store(create_db_engine(url))))
    assert word("login.sso", "en") not in client.get("/login").text
    assert client.get("/login/sso").status_code == 404
