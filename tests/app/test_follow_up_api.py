"""`/api/v1/cases/{case_id}/follow-up`: roles, CSRF for browser sessions, 201 with the stored
event, corrections, refusals (422 naming the field, 404 for an unknown case), OpenAPI."""

from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import Env, login
from tests.conftest import EXAMPLES, load_json

CASE = load_json(EXAMPLES[2])  # v03
PATH = "/api/v1/cases/v03/follow-up"
FEEDS = Path(__file__).resolve().parents[2] / "examples" / "fhir" / "feeds"


@pytest.fixture
def case(env: Env) -> str:
    response = env.client().post("/api/v1/cases", json=CASE, headers=env.auth("clinician"))
    assert response.status_code == 201, response.text
    return "v03"


def post(env: Env, body: dict[str, Any], role: str = "clinician") -> Any:
    return env.client().post(PATH, json=body, headers=env.auth(role))


def test_an_event_is_stored_returned_and_listed(env: Env, case: str) -> None:
    body = {"kind": "progression", "date": "2025-09-12", "criteria": "recist_1_1", "note": "s7"}
    response = post(env, body)
    assert response.status_code == 201, response.text
    saved = response.json()
    assert {k: saved[k] for k in body} == body
    assert (saved["case_id"], saved["recorded_by"], saved["recorded_by_name"]) == (
        case,
        "clinician",
        "Clinician User",
    )
    assert saved["superseded_by"] is None
    listed = env.client().get(PATH, headers=env.auth("viewer"))
    assert listed.status_code == 200
    assert listed.json() == [saved]
    audit = env.client().get(f"/api/v1/cases/{case}/audit", headers=env.auth("clinician")).json()
    assert [e["detail"]["follow_up_id"] for e in audit if e["action"] == "follow_up"] == [
        saved["id"]
    ]


def test_a_correction_keeps_the_earlier_event(env: Env, case: str) -> None:
    first = post(env, {"kind": "death", "date": "2025-02-01"}).json()
    second = post(env, {"kind": "death", "date": "2025-03-01", "supersedes": first["id"]})
    assert second.status_code == 201, second.text
    listed = env.client().get(PATH, headers=env.auth("viewer")).json()
    assert [(e["id"], e["superseded_by"]) for e in listed] == [
        (first["id"], second.json()["id"]),
        (second.json()["id"], None),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "progression", "date": "2025-01-01"}, "criteria"),
        ({"kind": "treatment", "date": "2025-01-01"}, "options"),
        ({"kind": "treatment", "date": "2025-01-01", "options": ["nope"]}, "options"),
        ({"kind": "death", "date": "2999-01-01"}, "date"),
        ({"kind": "death", "date": "1800-01-01"}, "date"),
        ({"kind": "death", "date": "not a date"}, "date"),
        ({"kind": "death", "date": "2025-01-01", "stopped": "2025-02-01"}, "stopped"),
        ({"kind": "death", "date": "2025-01-01", "supersedes": 7}, "supersedes"),
        ({"kind": "death", "date": "2025-01-01", "supersedes": 2**40}, "supersedes"),
        ({"kind": "death", "date": "2025-01-01", "note": "a\u202eb"}, "note"),
        ({"kind": "death", "date": "2025-01-01", "colour": "red"}, "colour"),
        ({"kind": "wedding", "date": "2025-01-01"}, "kind"),
    ],
)
def test_refusals_are_422_naming_the_field(
    env: Env, case: str, body: dict[str, Any], field: str
) -> None:
    response = post(env, body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert env.client().get(PATH, headers=env.auth("viewer")).json() == []


def test_after_a_death_nothing_later(env: Env, case: str) -> None:
    assert post(env, {"kind": "death", "date": "2025-06-01"}).status_code == 201
    twice = post(env, {"kind": "death", "date": "2025-06-02"})
    assert twice.status_code == 422
    assert twice.json()["errors"][0]["field"] == "kind"
    later = post(env, {"kind": "last_contact", "date": "2025-07-01"})
    assert later.json()["errors"][0] == {
        "field": "date",
        "message": later.json()["errors"][0]["message"],
    }
    assert "after the death recorded on 2025-06-01" in later.json()["errors"][0]["message"]


def test_roles_and_unknown_cases(env: Env, case: str) -> None:
    body = {"kind": "last_contact", "date": "2025-01-01"}
    assert env.client().get(PATH).status_code == 401
    assert env.client().post(PATH, json=body).status_code == 401
    assert post(env, body, role="viewer").status_code == 403
    missing = env.client().post(
        "/api/v1/cases/nobody/follow-up", json=body, headers=env.auth("clinician")
    )
    assert missing.status_code == 404
    gone = env.client().get("/api/v1/cases/nobody/follow-up", headers=env.auth("viewer"))
    assert gone.status_code == 404


def test_a_browser_session_needs_its_csrf_token(env: Env, case: str) -> None:
    client = env.client()
    csrf = login(client, "clinician")
    body = {"kind": "last_contact", "date": "2025-01-01"}
    assert client.post(PATH, json=body).status_code == 403
    assert client.post(PATH, json=body, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_openapi_documents_the_routes_with_examples(env: Env) -> None:
    schema = env.client().get("/openapi.json").json()
    route = schema["paths"]["/api/v1/cases/{case_id}/follow-up"]
    assert set(route) == {"get", "post"}
    assert "post" in schema["paths"]["/api/v1/cases/{case_id}/follow-up/fhir"]
    assert "422" in route["post"]["responses"]
    examples = schema["components"]["schemas"]["FollowUpIn"]["examples"]
    assert {e["kind"] for e in examples} == {"progression", "treatment", "last_contact", "death"}


def test_a_fhir_chart_fills_the_follow_up_once(env: Env, case: str) -> None:
    chart = (FEEDS / "cerner-01-rectal-nec-after-platinum.json").read_bytes()
    fhir = f"{PATH}/fhir"
    first = env.client().post(fhir, content=chart, headers=env.auth("clinician"))
    assert first.status_code == 200, first.text
    added = first.json()["added"]
    assert [(e["kind"], e["date"]) for e in added] == [
        ("treatment", "2023-07-01"),
        ("progression", "2024-01-20"),
    ]
    again = env.client().post(fhir, content=chart, headers=env.auth("clinician")).json()
    assert (again["added"], [s["reason"] for s in again["skipped"]]) == (
        [],
        ["already recorded"] * 2,
    )
    assert env.client().post(fhir, content=chart, headers=env.auth("viewer")).status_code == 403
    missing = env.client().post(
        "/api/v1/cases/nobody/follow-up/fhir", content=chart, headers=env.auth("clinician")
    )
    assert missing.status_code == 404
    broken = env.client().post(fhir, content=b"{", headers=env.auth("clinician"))
    assert broken.status_code == 400
    not_a_bundle = env.client().post(
        fhir, json={"resourceType": "Patient"}, headers=env.auth("clinician")
    )
    assert not_a_bundle.status_code == 422


def test_reading_the_follow_up_is_audited(env: Env, case: str) -> None:
    assert env.client().get(PATH, headers=env.auth("viewer")).status_code == 200
    (read,) = [e for e in env.store.audit_log(entity_id=case) if e.action == "read"][:1]
    assert (read.username, read.detail) == ("viewer", {"status": 200})
