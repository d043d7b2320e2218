"""Security: passwords, cookies, CSRF, throttling, injection, roles on pages."""

import logging

import pytest
from sqlalchemy import text

from netlm.store.db import create_db_engine
from tests.app.conftest import PASSWORD, Env, login
from tests.conftest import EXAMPLES, load_json

CASE = load_json(EXAMPLES[2])


def test_password_is_never_stored_or_logged_in_clear(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = env.client()
    client.post("/login", data={"username": "viewer", "password": PASSWORD})
    client.post("/login", data={"username": "viewer", "password": "wrong-" + PASSWORD})
    with create_db_engine(env.settings.database_url).connect() as conn:
        hashes = [row[0] for row in conn.execute(text("SELECT password_hash FROM users"))]
        dumped = " ".join(str(r) for table in ("users", "audit_log", "login_attempts")
                          for r in conn.execute(text(f"SELECT * FROM {table}")))  # fmt: skip
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert PASSWORD not in dumped
    assert PASSWORD not in caplog.text


def test_session_cookie_flags(env: Env) -> None:
    response = env.client().post(
        "/login", data={"username": "viewer", "password": PASSWORD}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"].lower()
    assert "netlm_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie


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


def test_login_is_throttled(env: Env) -> None:
    client = env.client()
    for _ in range(5):
        assert (
            client.post(
                "/login", data={"username": "viewer", "password": "bad password"}
            ).status_code
            == 401
        )
    throttled = client.post("/login", data={"username": "viewer", "password": PASSWORD})
    assert throttled.status_code == 429
    assert "Too many failed attempts" in throttled.text
    api = client.post("/api/v1/tokens", json={"username": "viewer", "password": PASSWORD})
    assert api.status_code == 429
    assert int(api.headers["retry-after"]) > 0


def test_unknown_user_and_wrong_password_look_the_same(env: Env) -> None:
    client = env.client()
    a = client.post("/login", data={"username": "nobody", "password": "whatever pw"})
    b = client.post("/login", data={"username": "viewer", "password": "whatever pw"})
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
    response = env.client().post(
        "/login", data={"username": "viewer", "password": PASSWORD, "next": "//evil.example/"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.headers["location"] == "/cases"
