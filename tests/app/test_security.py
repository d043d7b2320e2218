"""Security: passwords, sessions, CSRF and origins, throttling, tokens, injection, roles on pages.

Issue 8 (penetration test) is reproduced here through HTTP; tests/store/test_accounts.py has the
store's side (timeouts on an injectable clock, other workers, back-off, hashing).
"""

import dataclasses
import datetime as dt
import logging

import pytest
from sqlalchemy import text

from netlm.store.db import create_db_engine
from netlm.web.app import create_app
from tests.app.conftest import ORIGIN, PASSWORD, Env, form_token, login, post_login
from tests.conftest import EXAMPLES, load_json

CASE = load_json(EXAMPLES[2])


def test_password_is_never_stored_or_logged_in_clear(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert post_login(env.client(), "viewer").status_code == 303
    assert post_login(env.client(), "viewer", "wrong-" + PASSWORD).status_code == 401
    with create_db_engine(env.settings.database_url).connect() as conn:
        hashes = [row[0] for row in conn.execute(text("SELECT password_hash FROM users"))]
        dumped = " ".join(str(r) for table in ("users", "audit_log", "login_attempts")
                          for r in conn.execute(text(f"SELECT * FROM {table}")))  # fmt: skip
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert PASSWORD not in dumped
    assert PASSWORD not in caplog.text


def test_session_cookie_flags(env: Env) -> None:
    response = post_login(env.client(), "viewer")
    cookie = response.headers["set-cookie"].lower()
    assert "netlm_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie
    app = create_app(dataclasses.replace(env.settings, secure_cookies=True), env.store)
    secure = post_login(Env(app, env.store, env.settings, env.tokens).client(), "viewer")
    assert "; secure" in secure.headers["set-cookie"].lower()


def test_cookie_carries_only_a_session_id_and_is_dead_after_logout(env: Env) -> None:
    client = env.client()
    csrf = login(client, "clinician")
    cookie = client.cookies["netlm_session"]
    assert len(cookie) == 43  # a random id ...
    assert "." not in cookie  # ... not a signed payload
    stolen = env.client()
    stolen.cookies.set("netlm_session", cookie)
    assert stolen.get("/cases").status_code == 200
    assert (
        client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    )
    assert "netlm_session" not in client.cookies
    assert stolen.get("/cases", follow_redirects=False).headers["location"] == "/login?next=/cases"
    assert stolen.get("/api/v1/cases").status_code == 401
    refused = stolen.post("/api/v1/cases", json=CASE, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 401
    # After the logout, each of the stolen cookie's requests is recorded as refused.
    trail = [(e.action, e.username) for e in env.store.audit_log(limit=4)]
    assert trail == [("refused", "(anonymous)")] * 3 + [("logout", "clinician")]


def test_session_idle_and_lifetime_come_from_the_settings(env: Env) -> None:
    response = post_login(env.client(), "viewer")
    assert "max-age=28800" in response.headers["set-cookie"].lower()  # 8 h
    settings = dataclasses.replace(env.settings, session_idle_minutes=1, session_max_hours=1)
    short = Env(create_app(settings, env.store), env.store, settings, env.tokens).client()
    assert "max-age=3600" in post_login(short, "viewer").headers["set-cookie"].lower()
    with create_db_engine(env.settings.database_url).begin() as conn:  # idle for 2 minutes
        conn.execute(text("UPDATE web_sessions SET last_seen_at = datetime('now', '-2 minutes')"))
    assert short.get("/cases", follow_redirects=False).status_code == 303


def test_forms_without_csrf_token_are_refused(env: Env) -> None:
    client = env.client()
    env.client().post("/api/v1/cases", json=CASE, headers=env.auth("clinician"))
    csrf = login(client, "clinician")
    form = {"decided_on": "2026-11-27", "chosen_options": "prrt", "participants": "Dr A"}
    assert client.post("/cases/v03/decisions", data=form).status_code == 403
    assert (
        client.post("/cases/v03/decisions", data={**form, "csrf_token": "forged"}).status_code
        == 403
    )
    ok = client.post(
        "/cases/v03/decisions", data={**form, "csrf_token": csrf}, follow_redirects=False
    )
    assert ok.status_code == 303


def test_api_calls_with_session_cookie_need_the_csrf_header(env: Env) -> None:
    client = env.client()
    csrf = login(client, "clinician")
    assert client.post("/api/v1/cases", json=CASE).status_code == 403
    assert (
        client.post("/api/v1/cases", json=CASE, headers={"X-CSRF-Token": csrf}).status_code == 201
    )


def test_login_is_throttled_per_username_and_address(env: Env) -> None:
    attacker = env.client("203.0.113.9")
    for _ in range(5):
        assert post_login(attacker, "viewer", "bad password").status_code == 401
    throttled = post_login(attacker, "viewer")
    assert throttled.status_code == 429
    assert "Too many failed attempts" in throttled.text
    api = attacker.post("/api/v1/tokens", json={"username": "viewer", "password": PASSWORD})
    assert api.status_code == 429
    assert 0 < int(api.headers["retry-after"]) <= 60
    assert post_login(env.client("198.51.100.7"), "viewer").status_code == 303  # the real user
    assert post_login(attacker, "admin").status_code == 303  # other accounts from there too


def test_unknown_user_and_wrong_password_look_the_same(env: Env) -> None:
    client = env.client()
    a = post_login(client, "nobody", "whatever pw")
    b = post_login(client, "viewer", "whatever pw")
    assert a.status_code == b.status_code == 401
    assert "Invalid username or password" in a.text
    assert "Invalid username or password" in b.text


def test_disabled_user_loses_access_at_once(env: Env) -> None:
    client = env.client()
    login(client, "viewer")
    assert client.get("/cases").status_code == 200
    env.store.disable_user("viewer")
    assert client.get("/cases", follow_redirects=False).status_code == 303
    assert env.client().get("/api/v1/kb", headers=env.auth("viewer")).status_code == 401


INJECTIONS = ["<script>alert('x')</script>", "'; DROP TABLE cases; --", '" onmouseover="alert(1)']


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_in_text_fields_is_stored_as_text_and_escaped(env: Env, payload: str) -> None:
    client = env.client()
    env.client().post("/api/v1/cases", json=CASE, headers=env.auth("clinician"))
    csrf = login(client, "clinician")
    client.post("/cases/v03/decisions", data={
        "decided_on": "2026-11-27", "chosen_options": "sunitinib", "participants": payload,
        "notes": payload, "override_reason": payload, "csrf_token": csrf,
    })  # fmt: skip
    decision = env.store.list_decisions("v03")[-1]
    assert (decision.notes, decision.override_reason) == (payload, payload)
    assert decision.participants == [payload]
    page = client.get("/cases/v03").text
    assert payload not in page
    assert "&lt;script&gt;" in page or "&#39;" in page or "&#34;" in page
    edit = {"csrf_token": csrf, "expected_version": "1", "comment": payload, "id": "v03",
            "primary.site": "small_intestine", "liver.lesion_count": "30"}  # fmt: skip
    assert client.post("/cases/v03/edit", data=edit, follow_redirects=False).status_code == 303
    history = client.get("/cases/v03/history").text
    assert payload not in history
    assert env.store.case_versions("v03")[-1].comment == payload
    search = client.get("/cases", params={"q": payload})
    assert search.status_code == 200
    assert payload not in search.text
    assert env.client().get("/api/v1/cases", headers=env.auth("viewer")).json()  # table still there


def test_viewer_pages_hide_and_refuse_writes(env: Env) -> None:
    env.client().post("/api/v1/cases", json=CASE, headers=env.auth("clinician"))
    client = env.client()
    csrf = login(client, "viewer")
    page = client.get("/cases/v03").text
    assert 'id="decision-form"' not in page
    assert client.get("/cases/new").status_code == 403
    refused = client.post(
        "/cases/v03/decisions", data={"csrf_token": csrf, "decided_on": "2026-11-27"}
    )
    assert refused.status_code == 403


def test_login_redirect_stays_on_this_site(env: Env) -> None:
    client = env.client()
    token = form_token(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "viewer", "password": PASSWORD, "next": "//evil.example/",
                        "csrf_token": token}, follow_redirects=False,
    )  # fmt: skip
    assert response.headers["location"] == "/cases"


def _attempts(env: Env) -> int:
    with create_db_engine(env.settings.database_url).connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM login_attempts")).scalar_one())


def test_login_needs_the_form_token_and_this_origin(env: Env) -> None:
    client = env.client()
    token = form_token(client.get("/login").text)
    assert "netlm_login" in client.cookies
    form = {"username": "viewer", "password": PASSWORD}
    refused = [
        client.post("/login", data=form),  # no token
        client.post("/login", data={**form, "csrf_token": "forged"}),
        client.post("/login", data={**form, "csrf_token": token},
                    headers={"Origin": "https://evil.example"}),
        client.post("/login", data={**form, "csrf_token": token}, headers={"Origin": "null"}),
        env.client().post("/login", data={**form, "csrf_token": token}),  # not this browser's
    ]  # fmt: skip
    for response in refused:
        assert response.status_code == 403
        assert "netlm_session" not in response.headers.get("set-cookie", "")
        assert "sign-in form has expired" in response.text
    assert _attempts(env) == 0  # refused before any password check or throttling count
    no_origin = env.client()
    no_origin.headers.pop("Origin")
    token = form_token(no_origin.get("/login").text)
    assert no_origin.post("/login", data={**form, "csrf_token": token}).status_code == 403
    by_referer = no_origin.post(
        "/login", data={**form, "csrf_token": token}, headers={"Referer": f"{ORIGIN}/login"},
        follow_redirects=False,
    )  # fmt: skip
    assert by_referer.status_code == 303


def test_login_from_the_public_url_origin_is_accepted(env: Env) -> None:
    settings = dataclasses.replace(env.settings, public_url="https://netlm.example.org/")
    client = Env(create_app(settings, env.store), env.store, settings, env.tokens).client()
    client.headers["Origin"] = "https://netlm.example.org"
    assert post_login(client, "viewer").status_code == 303


def test_cookie_requests_from_another_origin_are_refused(env: Env) -> None:
    client = env.client()
    csrf = login(client, "clinician")
    evil = {"Origin": "https://evil.example", "X-CSRF-Token": csrf}
    assert client.post("/api/v1/cases", json=CASE, headers=evil).status_code == 403
    form = {"decided_on": "2026-11-27", "chosen_options": "prrt", "csrf_token": csrf}
    assert client.post("/cases/v03/decisions", data=form, headers=evil).status_code == 403
    assert client.post("/logout", data={"csrf_token": csrf}, headers=evil).status_code == 403
    referer = {"Origin": "", "Referer": "https://evil.example/page", "X-CSRF-Token": csrf}
    assert client.post("/api/v1/cases", json=CASE, headers=referer).status_code == 403
    assert client.get("/cases", headers={"Origin": "https://evil.example"}).status_code == 200
    bearer = {**env.auth("clinician"), "Origin": "https://evil.example"}  # no cookie: no CSRF
    assert env.client().post("/api/v1/cases", json=CASE, headers=bearer).status_code == 201
    assert (
        client.post("/api/v1/cases/v03/assessments", headers={"X-CSRF-Token": csrf}).status_code
        == 201
    )


def test_over_long_password_is_refused_naming_the_field(env: Env) -> None:
    client = env.client()
    page = post_login(client, "viewer", "p" * 1025)
    assert page.status_code == 422
    assert "Password: at most 1024 characters." in page.text
    api = client.post("/api/v1/tokens", json={"username": "viewer", "password": "p" * 1025})
    assert api.status_code == 422
    assert [e["field"] for e in api.json()["errors"]] == ["password"]
    too_long = {"username": "newbie", "password": "p" * 1025, "role": "viewer"}
    added = client.post("/api/v1/users", json=too_long, headers=env.auth("admin"))
    assert added.status_code == 422
    assert [e["field"] for e in added.json()["errors"]] == ["password"]
    assert _attempts(env) == 0


# --- API tokens ---------------------------------------------------------------------------------


def test_tokens_expire_and_can_be_listed_and_revoked_through_the_api(env: Env) -> None:
    client = env.client()
    made = client.post("/api/v1/tokens", json={"username": "viewer", "password": PASSWORD,
                                                "label": "laptop"})  # fmt: skip
    assert made.status_code == 201
    assert made.json()["expires_in"] == 90 * 86400
    mine = {"Authorization": f"Bearer {made.json()['token']}"}
    listed = client.get("/api/v1/tokens", headers=mine).json()
    assert [(t["label"], t["username"], t["active"]) for t in listed] == [
        ("tests", "viewer", True), ("laptop", "viewer", True),
    ]  # fmt: skip
    assert made.json()["token"] not in str(listed)
    assert client.get("/api/v1/tokens?user=admin", headers=mine).status_code == 403
    admin_view = client.get("/api/v1/tokens?user=viewer", headers=env.auth("admin")).json()
    assert [t["id"] for t in admin_view] == [t["id"] for t in listed]
    others = client.get("/api/v1/tokens", headers=env.auth("clinician")).json()
    assert client.delete(f"/api/v1/tokens/{others[0]['id']}", headers=mine).status_code == 404
    assert client.get("/api/v1/kb", headers=env.auth("clinician")).status_code == 200
    assert client.delete(f"/api/v1/tokens/{listed[1]['id']}", headers=mine).status_code == 204
    assert client.get("/api/v1/kb", headers=mine).status_code == 401  # at once
    revoke = client.delete(f"/api/v1/tokens/{others[0]['id']}", headers=env.auth("admin"))
    assert revoke.status_code == 204
    assert client.get("/api/v1/kb", headers=env.auth("clinician")).status_code == 401
    assert client.delete("/api/v1/tokens/9999", headers=env.auth("admin")).status_code == 404


def test_token_lifetime_comes_from_the_settings(env: Env) -> None:
    settings = dataclasses.replace(env.settings, token_days=7)
    client = Env(create_app(settings, env.store), env.store, settings, env.tokens).client()
    made = client.post("/api/v1/tokens", json={"username": "viewer", "password": PASSWORD})
    assert made.json()["expires_in"] == 7 * 86400
    (token,) = [t for t in env.store.list_tokens("viewer") if t.label == "api"]
    assert token.expires_at - token.created_at == dt.timedelta(days=7)


def test_account_page_lists_own_tokens_and_revokes_them(env: Env) -> None:
    client = env.client()
    csrf = login(client, "clinician")
    (token,) = env.store.list_tokens("clinician")
    page = client.get("/account")
    assert page.status_code == 200
    assert f'action="/account/tokens/{token.id}/revoke"' in page.text
    assert 'id="locks"' not in page.text  # admins only
    assert "撤销" in client.get("/account?lang=zh").text
    url = f"/account/tokens/{token.id}/revoke"
    assert client.post(url).status_code == 403  # no CSRF token
    assert client.post(url, data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert env.client().get("/api/v1/kb", headers=env.auth("clinician")).status_code == 401
    assert "revoked" in client.get("/account?lang=en").text
    (admins,) = env.store.list_tokens("admin")
    other = client.post(f"/account/tokens/{admins.id}/revoke", data={"csrf_token": csrf})
    assert other.status_code == 404
    assert env.client().get("/api/v1/kb", headers=env.auth("admin")).status_code == 200


def test_admin_unlocks_a_locked_sign_in_from_the_account_page(env: Env) -> None:
    attacker = env.client("203.0.113.9")
    for _ in range(5):
        post_login(attacker, "viewer", "bad password")
    assert post_login(attacker, "viewer").status_code == 429
    client = env.client()
    csrf = login(client, "admin")
    page = client.get("/account").text
    assert "203.0.113.9" in page
    viewer = env.client()
    viewer_csrf = login(viewer, "viewer")
    refused = viewer.post("/account/unlock", data={"username": "viewer", "csrf_token": viewer_csrf})
    assert refused.status_code == 403
    done = client.post("/account/unlock", data={"username": "viewer", "csrf_token": csrf},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert post_login(attacker, "viewer").status_code == 303
    entry = next(e for e in env.store.audit_log(entity_id="viewer") if e.action == "login_unlocked")
    assert (entry.username, entry.detail) == ("admin", {"addresses": ["203.0.113.9"]})
    locked = [e for e in env.store.audit_log(entity_id="viewer") if e.action == "login_locked"]
    assert [e.detail["ip"] for e in locked] == ["203.0.113.9"]
    assert "203.0.113.9" not in client.get("/account").text


def test_admin_unlocks_through_the_api(env: Env) -> None:
    client = env.client()
    for _ in range(6):
        client.post("/api/v1/tokens", json={"username": "viewer", "password": "wrong password!"})
    locked = client.post("/api/v1/tokens", json={"username": "viewer", "password": PASSWORD})
    assert locked.status_code == 429
    assert (
        client.post("/api/v1/users/viewer/unlock", headers=env.auth("clinician")).status_code == 403
    )
    answer = client.post("/api/v1/users/viewer/unlock", headers=env.auth("admin"))
    assert answer.status_code == 200
    assert answer.json()["unlocked"]
    assert client.post("/api/v1/users/nobody/unlock", headers=env.auth("admin")).status_code == 404
    again = client.post("/api/v1/tokens", json={"username": "viewer", "password": PASSWORD})
    assert again.status_code == 201
