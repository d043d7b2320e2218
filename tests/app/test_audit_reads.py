"""Every read of patient data and every refusal on a patient-data route is in the audit trail
with user, role, client address, route and outcome (issue 17: the case list, decisions, versions,
assessments and the audit log itself were read unrecorded, refusals too, and no address was
kept); the history page shows the audit trail only to those the API shows it to."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from netlm.store import verify_chain
from tests.app.conftest import Env, login
from tests.conftest import make_case, make_env

ADDRESS = "10.9.8.7"
CASE = "r1"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    env = make_env(tmp_path_factory.mktemp("audit-reads"))
    body = json.dumps(make_case(id=CASE).to_json_dict())
    headers = {**env.auth("clinician"), "Content-Type": "application/json"}
    assert env.client().post("/api/v1/cases", content=body, headers=headers).status_code == 201
    return env


@pytest.fixture(scope="module")
def browser(env: Env) -> Iterator[TestClient]:
    """A clinician signed in through the login form, at ADDRESS."""
    with env.client(ADDRESS) as client:
        login(client, "clinician")
        yield client


def _head(env: Env) -> int:
    with env.store.engine.connect() as connection:
        return int(connection.scalar(text("SELECT COALESCE(MAX(seq), 0) FROM audit_log")) or 0)


def _rows_since(env: Env, seq: int) -> list[dict[str, Any]]:
    with env.store.engine.connect() as connection:
        found = connection.execute(
            text("SELECT * FROM audit_log WHERE seq > :seq ORDER BY seq"), {"seq": seq}
        )
        return [dict(r) for r in found.mappings()]


def _read_by_the_clinician(env: Env, before: int, path: str) -> list[dict[str, Any]]:
    """The rows written since `before`, for the read of `path`: there must be some, each with
    the clinician's name, role and ADDRESS."""
    rows = _rows_since(env, before)
    assert rows, f"{path} was read unrecorded"
    for row in rows:
        assert (row["username"], row["role"], row["address"]) == ("clinician", "clinician", ADDRESS)
    return rows


API_READS = [
    ("/api/v1/cases", "/api/v1/cases", ""),
    (f"/api/v1/cases/{CASE}", "/api/v1/cases/{case_id}", CASE),
    (f"/api/v1/cases/{CASE}/versions", "/api/v1/cases/{case_id}/versions", CASE),
    (f"/api/v1/cases/{CASE}/versions/1", "/api/v1/cases/{case_id}/versions/{version}", CASE),
    (f"/api/v1/cases/{CASE}/assessments", "/api/v1/cases/{case_id}/assessments", CASE),
    (f"/api/v1/cases/{CASE}/decisions", "/api/v1/cases/{case_id}/decisions", CASE),
    (f"/api/v1/cases/{CASE}/audit", "/api/v1/cases/{case_id}/audit", CASE),
    (f"/api/v1/fhir/cases/{CASE}", "/api/v1/fhir/cases/{case_id}", CASE),
]


@pytest.mark.parametrize(("path", "route", "entity_id"), API_READS)
def test_api_reads_are_recorded_with_user_role_and_address(
    env: Env, path: str, route: str, entity_id: str
) -> None:
    before = _head(env)
    response = env.client(ADDRESS).get(path, headers=env.auth("clinician"))
    assert response.status_code == 200, response.text
    for row in _read_by_the_clinician(env, before, path):
        assert (row["via"], row["outcome"], row["entity_id"]) == (f"GET {route}", "ok", entity_id)


PAGE_READS = [
    ("/cases", "/cases", ""),
    (f"/cases/{CASE}", "/cases/{case_id}", CASE),
    (f"/cases/{CASE}/history", "/cases/{case_id}/history", CASE),
    (f"/cases/{CASE}/versions/1", "/cases/{case_id}/versions/{version}", CASE),
    (f"/cases/{CASE}/print", "/cases/{case_id}/print", CASE),
]


@pytest.mark.parametrize(("path", "route", "entity_id"), PAGE_READS)
def test_page_reads_are_recorded_with_user_role_and_address(
    env: Env, browser: TestClient, path: str, route: str, entity_id: str
) -> None:
    before = _head(env)
    assert browser.get(path).status_code == 200
    for row in _read_by_the_clinician(env, before, path):
        assert (row["via"], row["entity_id"]) == (f"GET {route}", entity_id)


def _stale_edit(env: Env, client: TestClient) -> int:
    body = json.dumps(make_case(id=CASE).to_json_dict())
    headers = {**env.auth("clinician"), "Content-Type": "application/json"}
    url = f"/api/v1/cases/{CASE}?expected_version=99"
    return client.put(url, content=body, headers=headers).status_code


REFUSALS = [  # (who, request, status the client sees, outcome recorded, user recorded)
    ("nobody", lambda env, c: c.get(f"/api/v1/cases/{CASE}").status_code, 401, "(anonymous)"),
    (
        "nobody",
        lambda env, c: c.get(f"/cases/{CASE}", follow_redirects=False).status_code,
        303,  # a page's 401 is a redirect to the login form; still refused, and recorded so
        "(anonymous)",
    ),
    (
        "viewer",
        lambda env, c: c.get(f"/api/v1/cases/{CASE}/audit", headers=env.auth("viewer")).status_code,
        403,
        "viewer",
    ),
    (
        "clinician",
        lambda env, c: c.get("/api/v1/cases/nope", headers=env.auth("clinician")).status_code,
        404,
        "clinician",
    ),
    ("clinician", _stale_edit, 409, "clinician"),
]


@pytest.mark.parametrize(("who", "call", "status", "username"), REFUSALS)
def test_refusals_are_recorded_with_their_outcome_and_address(
    env: Env, who: str, call: Any, status: int, username: str
) -> None:
    before = _head(env)
    assert call(env, env.client(ADDRESS)) == status
    (row,) = _rows_since(env, before)
    assert (row["action"], row["username"], row["address"]) == ("refused", username, ADDRESS)
    assert row["outcome"] == str(401 if status == 303 else status)
    assert row["role"] == (None if who == "nobody" else who)


def test_writes_carry_the_address_and_role_of_the_request(env: Env) -> None:
    before = _head(env)
    body = {"decided_on": "2026-12-01", "chosen_options": ["ssa"], "participants": ["Dr A"],
            "override_reason": "board preference"}  # fmt: skip
    response = env.client(ADDRESS).post(
        f"/api/v1/cases/{CASE}/decisions", json=body, headers=env.auth("clinician")
    )
    assert response.status_code == 201, response.text
    (row,) = _rows_since(env, before)
    assert (row["action"], row["role"], row["address"]) == ("decide", "clinician", ADDRESS)
    assert row["via"] == "POST /api/v1/cases/{case_id}/decisions"


def test_the_history_page_shows_the_audit_trail_only_to_clinicians_and_admins(env: Env) -> None:
    assert (
        env.client().get(f"/api/v1/cases/{CASE}/audit", headers=env.auth("viewer")).status_code
        == 403
    )
    with env.client() as viewer:
        login(viewer, "viewer")
        page = viewer.get(f"/cases/{CASE}/history?reads=1")
        assert page.status_code == 200
        assert 'id="audit"' not in page.text
    with env.client() as clinician:
        login(clinician, "clinician")
        assert 'id="audit"' in clinician.get(f"/cases/{CASE}/history?reads=1").text


def test_the_chain_holds_after_all_of_it(env: Env) -> None:
    assert verify_chain(env.store.engine).problem is None
