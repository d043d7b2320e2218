"""REST API: every route and role, validation errors, versioning, decisions, reports."""

import json
from typing import Any

import pytest

from netlm import parse_case
from tests.app.conftest import Env
from tests.conftest import EXAMPLES, load_json

CASE = load_json(EXAMPLES[2])  # v03, progressive midgut NET


def create(env: Env, case: dict[str, Any] = CASE) -> Any:
    response = env.client().post("/api/v1/cases", json=case, headers=env.auth("clinician"))
    assert response.status_code == 201, response.text
    return response.json()


PROTECTED = [
    ("POST", "/api/v1/assess"), ("GET", "/api/v1/cases"), ("POST", "/api/v1/cases"),
    ("GET", "/api/v1/cases/v03"), ("PUT", "/api/v1/cases/v03"), ("DELETE", "/api/v1/cases/v03"),
    ("GET", "/api/v1/cases/v03/versions"), ("GET", "/api/v1/cases/v03/versions/1"),
    ("GET", "/api/v1/cases/v03/assessments"), ("POST", "/api/v1/cases/v03/assessments"),
    ("GET", "/api/v1/cases/v03/decisions"), ("POST", "/api/v1/cases/v03/decisions"),
    ("GET", "/api/v1/cases/v03/audit"), ("GET", "/api/v1/cases/v03/report.pdf"),
    ("GET", "/api/v1/kb"), ("GET", "/api/v1/kb/options"), ("GET", "/api/v1/kb/options/prrt"),
    ("GET", "/api/v1/kb/evidence"), ("GET", "/api/v1/kb/evidence/netter1"),
    ("GET", "/api/v1/users"), ("POST", "/api/v1/users"),
]  # fmt: skip
WRITES = [(m, p) for m, p in PROTECTED if m != "GET" and p != "/api/v1/assess"]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_token_is_401(env: Env, method: str, path: str) -> None:
    response = env.client().request(method, path)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "authentication required"


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_bad_token_is_401(env: Env, method: str, path: str) -> None:
    response = env.client().request(method, path, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_viewer_cannot_write(env: Env, method: str, path: str) -> None:
    create(env)
    response = env.client().request(method, path, headers=env.auth("viewer"), json={})
    assert response.status_code == 403


def test_health_needs_no_login(env: Env) -> None:
    body = env.client().get("/healthz").json()
    assert body["status"] == "ok"
    assert body["knowledge_base"] == "2.4.0"


def test_assess_stores_nothing(env: Env) -> None:
    client = env.client()
    response = client.post("/api/v1/assess?lang=zh", json=CASE, headers=env.auth("viewer"))
    assert response.status_code == 200
    assert response.json()["recommendations"][0]["option"] == "prrt"
    assert response.json()["language"] == "zh"
    assert client.get("/api/v1/cases", headers=env.auth("viewer")).json() == []


def test_assess_region_override(env: Env) -> None:
    response = env.client().post("/api/v1/assess?region=US", json=CASE, headers=env.auth("viewer"))
    assert all(set(r["availability"]) == {"US"} for r in response.json()["recommendations"])


def test_invalid_case_names_the_field_like_the_cli(env: Env) -> None:
    bad = json.loads(json.dumps(CASE))
    bad["pathology"]["ki67_percent"] = 140
    response = env.client().post("/api/v1/assess", json=bad, headers=env.auth("viewer"))
    assert response.status_code == 422
    assert response.json() == {"errors": [
        {"field": "pathology.ki67_percent", "message": "must be between 0 and 100, got 140"}
    ]}  # fmt: skip


def test_malformed_json_is_400(env: Env) -> None:
    response = env.client().post(
        "/api/v1/assess",
        content=b"{nope",
        headers={**env.auth("viewer"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "(json)"


def test_case_lifecycle_keeps_every_version(env: Env) -> None:
    client, auth = env.client(), env.auth("clinician")
    created = create(env)
    assert created["version"] == 1
    assert created["assessment"]["recommendations"][0]["option"] == "prrt"
    edited = json.loads(json.dumps(CASE))
    edited["sstr_imaging"]["krenning_score"] = 1
    response = client.put("/api/v1/cases/v03?expected_version=1", json=edited, headers=auth)
    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert "prrt" not in [r["option"] for r in response.json()["assessment"]["recommendations"]]
    old = client.get("/api/v1/cases/v03/versions/1", headers=env.auth("viewer")).json()
    assert parse_case(old["case"]) == parse_case(CASE)  # the stored document is canonical
    versions = client.get("/api/v1/cases/v03/versions", headers=auth).json()
    assert [v["version"] for v in versions] == [1, 2]
    assessments = client.get("/api/v1/cases/v03/assessments", headers=auth).json()
    assert len(assessments) == 2


def test_stale_edit_is_409(env: Env) -> None:
    create(env)
    client, auth = env.client(), env.auth("clinician")
    assert (
        client.put("/api/v1/cases/v03?expected_version=1", json=CASE, headers=auth).status_code
        == 200
    )
    response = client.put("/api/v1/cases/v03?expected_version=1", json=CASE, headers=auth)
    assert response.status_code == 409


def test_a_retried_create_is_idempotent_and_another_document_is_409(env: Env) -> None:
    create(env)
    client, auth = env.client(), env.auth("clinician")
    retried = client.post("/api/v1/cases", json=CASE, headers=auth)
    assert retried.status_code == 200, retried.text
    assert retried.json()["version"] == 1
    assert retried.json()["assessment_id"] is not None
    assert len(client.get("/api/v1/cases/v03/assessments", headers=auth).json()) == 1
    other = json.loads(json.dumps(CASE))
    other["patient"]["ecog"] = 2
    response = client.post("/api/v1/cases", json=other, headers=auth)
    assert response.status_code == 409


def test_path_and_body_ids_must_agree(env: Env) -> None:
    create(env)
    response = env.client().put("/api/v1/cases/other", json=CASE, headers=env.auth("clinician"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "id"


def test_unknown_case_is_404(env: Env) -> None:
    assert env.client().get("/api/v1/cases/nope", headers=env.auth("viewer")).status_code == 404


def test_soft_delete(env: Env) -> None:
    create(env)
    client, auth = env.client(), env.auth("clinician")
    response = client.request(
        "DELETE", "/api/v1/cases/v03", json={"reason": "duplicate entry"}, headers=auth
    )
    assert response.status_code == 204
    assert client.get("/api/v1/cases/v03", headers=auth).status_code == 404
    assert client.get("/api/v1/cases", headers=auth).json() == []
    audit = env.store.audit_log(entity_id="v03")
    assert "delete" in [e.action for e in audit]


def test_search_and_filters(env: Env) -> None:
    for path in EXAMPLES:
        create(env, load_json(path))
    client, auth = env.client(), env.auth("viewer")

    def ids(query: str) -> set[str]:
        return {row["case_id"] for row in client.get(f"/api/v1/cases?{query}", headers=auth).json()}

    assert ids("grade=NEC") == {"v05", "v17", "v22"}
    assert ids("pattern=I") == {"v01", "v06", "v13", "v20", "v24", "v25"}
    assert ids("site=rectum") == {"v05", "v08"}
    assert ids("q=v0") == {f"v0{i}" for i in range(1, 10)}
    assert len(ids("pending=true")) == len(EXAMPLES)
    assert ids("q=' OR '1'='1") == set()


def test_decisions_concordance(env: Env) -> None:
    create(env)
    client, auth = env.client(), env.auth("clinician")
    base = {"decided_on": "2026-11-27", "participants": ["Dr A", "Dr B"], "notes": "ok"}
    agreed = client.post(
        "/api/v1/cases/v03/decisions", json={**base, "chosen_options": ["prrt"]}, headers=auth
    )
    assert agreed.status_code == 201
    assert agreed.json()["concordant"] is True
    missing_reason = client.post("/api/v1/cases/v03/decisions",
                                 json={**base, "chosen_options": ["sunitinib"]}, headers=auth)  # fmt: skip
    assert missing_reason.status_code == 422
    assert missing_reason.json()["errors"][0]["field"] == "override_reason"
    overridden = client.post(
        "/api/v1/cases/v03/decisions",
        json={**base, "chosen_options": ["sunitinib"], "override_reason": "trial protocol"},
        headers=auth,
    )
    assert overridden.status_code == 201
    assert overridden.json()["concordant"] is False
    second_tier = {**base, "chosen_options": ["everolimus"]}  # proposed, ranked after PRRT
    unexplained = client.post("/api/v1/cases/v03/decisions", json=second_tier, headers=auth)
    assert unexplained.status_code == 422
    assert unexplained.json()["errors"][0]["field"] == "override_reason"
    explained = client.post("/api/v1/cases/v03/decisions", headers=auth,
                            json={**second_tier, "override_reason": "no PRRT centre"})  # fmt: skip
    assert (explained.status_code, explained.json()["concordant"]) == (201, True)
    listed = client.get("/api/v1/cases/v03/decisions", headers=env.auth("viewer")).json()
    assert len(listed) == 3


def test_decision_validation(env: Env) -> None:
    create(env)
    response = env.client().post(
        "/api/v1/cases/v03/decisions",
        json={"decided_on": "not a date", "chosen_options": ["laser"], "participants": []},
        headers=env.auth("clinician"),
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"decided_on", "chosen_options.0", "participants"} <= fields


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_pdf(env: Env, lang: str) -> None:
    create(env)
    response = env.client().get(
        f"/api/v1/cases/v03/report.pdf?lang={lang}", headers=env.auth("viewer")
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_knowledge_base_is_readable(env: Env) -> None:
    client, auth = env.client(), env.auth("viewer")
    assert len(client.get("/api/v1/kb/options", headers=auth).json()) == 20
    assert client.get("/api/v1/kb/options/prrt", headers=auth).json()["indications"]
    assert client.get("/api/v1/kb/evidence/netter1", headers=auth).json()["n"] == 229
    assert client.get("/api/v1/kb/evidence/nope", headers=auth).status_code == 404


def test_tokens_from_password(env: Env) -> None:
    client = env.client()
    ok = client.post(
        "/api/v1/tokens", json={"username": "viewer", "password": "correct horse battery"}
    )
    assert ok.status_code == 201
    token = ok.json()["token"]
    assert client.get("/api/v1/kb", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    bad = client.post("/api/v1/tokens", json={"username": "viewer", "password": "wrong password"})
    assert bad.status_code == 401


def test_users_admin_only(env: Env) -> None:
    client = env.client()
    new = {"username": "newdoc", "password": "long enough pw", "role": "clinician"}
    assert client.post("/api/v1/users", json=new, headers=env.auth("clinician")).status_code == 403
    assert client.post("/api/v1/users", json=new, headers=env.auth("admin")).status_code == 201
    names = [u["username"] for u in client.get("/api/v1/users", headers=env.auth("admin")).json()]
    assert "newdoc" in names


def test_openapi_documents_the_api(env: Env) -> None:
    spec = env.client().get("/openapi.json").json()
    assert "/api/v1/assess" in spec["paths"]
    assert "/api/v1/cases/{case_id}/report.pdf" in spec["paths"]
    assert env.client().get("/docs").status_code == 200
