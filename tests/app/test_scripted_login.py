"""A script that signs in without an Origin header is told what to send, in both languages."""

from tests.app.conftest import ORIGIN, PASSWORD, Env, form_token, login

CASE_FORM = {"username": "viewer", "password": PASSWORD}


def test_a_login_without_origin_says_which_origin_to_send(env: Env) -> None:
    for lang, said in (
        ("en", "no Origin (or Referer) header"),
        ("zh", "未携带 Origin（或 Referer）"),
    ):
        client = env.client()
        client.headers.pop("Origin")
        client.cookies.set("netlm_lang", lang)
        token = form_token(client.get(f"/login?lang={lang}").text)
        refused = client.post("/login", data={**CASE_FORM, "csrf_token": token})
        assert refused.status_code == 403
        assert said in refused.text
        assert f"Origin: {ORIGIN}" in refused.text


def test_a_cookie_request_without_origin_names_the_origin_or_a_token(env: Env) -> None:
    client = env.client()
    csrf = login(client, "clinician")
    client.headers.pop("Origin")
    refused = client.post("/api/v1/cases/v03/assessments", headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 403
    detail = str(refused.json())
    assert f"send Origin: {ORIGIN}" in detail
    assert "Authorization: Bearer" in detail
