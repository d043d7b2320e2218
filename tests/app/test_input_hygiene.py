"""Control, bidirectional and zero-width characters, NaN and implausible dates (issue 17).

The 21 NUL probes of the review, each a field where a NUL byte reached the database (a 500 on
PostgreSQL): every one is now a 400 naming the field, on PostgreSQL and on SQLite. One app per
database for the whole module; the probes never change what is stored.
"""

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import create_engine, text

from netlm.fhir.cds.routes import cds_store
from netlm.settings import Settings
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.web.app import create_app
from tests.app.conftest import form_token, post_login
from tests.cds.conftest import patient_view
from tests.cds.ehr import Ehr
from tests.conftest import EXAMPLES, ORIGIN, PASSWORD, load_json

CASE = load_json(EXAMPLES[2])
CASE_ID = CASE["id"]
HOOK = f"{ORIGIN}/cds-services/netlm-strategy"
NUL = "a\x00b"


@dataclass
class App:
    client: TestClient
    tokens: dict[str, str]
    ehr: Ehr

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def _empty(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The app on an empty database of each kind: a user and token per role, the example case,
    and a registered EHR for CDS Hooks."""
    folder = tmp_path_factory.mktemp(f"hygiene-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'netlm.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        _empty(url)
    upgrade(url)
    settings = Settings(database_url=url, secret_key="s" * 48, data_dir=folder, public_url=ORIGIN)
    store = Store(create_db_engine(url))
    tokens = {}
    for role in ("admin", "clinician", "viewer"):
        user = store.add_user(role, PASSWORD, role, display_name=role)
        tokens[role] = store.create_token(user, "hygiene")
    application = create_app(settings, store)
    ehr = Ehr()
    cds_store(application).add_client(ehr.issuer, "Test EHR", ehr.jwks(), [])
    client = TestClient(application, base_url=ORIGIN, headers={"Origin": ORIGIN})
    env = App(client, tokens, ehr)
    created = client.post("/api/v1/cases", json=CASE, headers=env.auth("clinician"))
    assert created.status_code == 201, created.text
    yield env
    store.engine.dispose()


def _decision(**changes: Any) -> dict[str, Any]:
    return {
        "decided_on": dt.date.today().isoformat(),
        "chosen_options": ["ssa"],
        "participants": ["Dr A"],
        "notes": "",
        "override_reason": "board preference",
        **changes,
    }


def _post_decision(app: App, **changes: Any) -> Response:
    """A clinician's decision on the example case: `_decision(**changes)`."""
    return app.client.post(
        f"/api/v1/cases/{CASE_ID}/decisions",
        json=_decision(**changes),
        headers=app.auth("clinician"),
    )


def _hook(app: App, aud: str | list[str] = HOOK, **claims: Any) -> Response:
    headers = claims.pop("headers", None)
    token = app.ehr.token(aud, headers=headers, **claims)
    return app.client.post(
        HOOK, json=patient_view("p1"), headers={"Authorization": f"Bearer {token}"}
    )


Probe = Callable[[App], Response]
PROBES: dict[str, tuple[Probe, str]] = {
    "login name (API)": (
        lambda a: a.client.post("/api/v1/tokens", json={"username": NUL, "password": "x"}),
        "username",
    ),
    "login name (form)": (lambda a: post_login(a.client, NUL), "username"),
    "q": (lambda a: a.client.get("/api/v1/cases?q=a%00b", headers=a.auth("viewer")), "q"),
    "grade": (
        lambda a: a.client.get("/api/v1/cases", params={"grade": NUL}, headers=a.auth("viewer")),
        "grade",
    ),
    "case id (API path)": (
        lambda a: a.client.get("/api/v1/cases/a%00b", headers=a.auth("viewer")),
        "case_id",
    ),
    "case id (decisions path)": (
        lambda a: a.client.post(
            "/api/v1/cases/a%00b/decisions", json=_decision(), headers=a.auth("clinician")
        ),
        "case_id",
    ),
    "case id (page path)": (
        lambda a: a.client.get("/cases/a%00b", headers=a.auth("viewer")),
        "(path)",
    ),
    "case id (body)": (
        lambda a: a.client.post(
            "/api/v1/cases", json={**CASE, "id": NUL}, headers=a.auth("clinician")
        ),
        "id",
    ),
    "decision notes": (
        lambda a: _post_decision(a, notes=NUL),
        "notes",
    ),
    "decision participant": (
        lambda a: _post_decision(a, participants=["Dr A", NUL]),
        "participants[1]",
    ),
    "override reason": (
        lambda a: _post_decision(a, override_reason=NUL),
        "override_reason",
    ),
    "token label": (
        lambda a: a.client.post(
            "/api/v1/tokens", json={"username": "viewer", "password": PASSWORD, "label": NUL}
        ),
        "label",
    ),
    "delete reason": (
        lambda a: a.client.request(
            "DELETE",
            f"/api/v1/cases/{CASE_ID}",
            json={"reason": f"wrong {NUL}"},
            headers=a.auth("clinician"),
        ),
        "reason",
    ),
    "display name": (
        lambda a: a.client.post(
            "/api/v1/users",
            json={
                "username": "newuser",
                "password": PASSWORD,
                "role": "viewer",
                "display_name": NUL,
            },
            headers=a.auth("admin"),
        ),
        "display_name",
    ),
    "user name (unlock path)": (
        lambda a: a.client.post("/api/v1/users/a%00b/unlock", headers=a.auth("admin")),
        "username",
    ),
    "user (token list query)": (
        lambda a: a.client.get("/api/v1/tokens", params={"user": NUL}, headers=a.auth("admin")),
        "user",
    ),
    "header": (
        lambda a: a.client.get("/api/v1/cases", headers={**a.auth("viewer"), "X-Note": "a\x01b"}),
        "x-note (header)",
    ),
    "CDS iss": (lambda a: _hook(a, iss=f"{a.ehr.issuer}\x00"), "JWT claim iss"),
    "CDS jti": (lambda a: _hook(a, jti=NUL), "JWT claim jti"),
    "CDS sub": (lambda a: _hook(a, sub=NUL), "JWT claim sub"),
    "CDS kid": (lambda a: _hook(a, headers={"kid": NUL}), "JWT header kid"),
}


def test_there_are_21_probes() -> None:
    assert len(PROBES) == 21


@pytest.mark.parametrize("name", list(PROBES))
def test_a_nul_is_a_400_naming_the_field(app: App, name: str) -> None:
    probe, field = PROBES[name]
    answer = probe(app)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    if body.get("resourceType") == "OperationOutcome":
        message = body["issue"][0]["diagnostics"]
        assert message.startswith(f"{field}: must not contain the control character U+0000")
    else:
        (error,) = body["errors"]
        assert error["field"] == field
        assert error["message"].startswith("must not contain the control character U+")


@pytest.mark.parametrize(
    "value",
    ["\x01", "\x1b[31m", "\x7f", "\x85", "\x9f", "\x0b", "\x0c"],
    ids=["SOH", "ESC", "DEL", "NEL", "APC", "VT", "FF"],
)
def test_other_control_characters_are_refused_too(app: App, value: str) -> None:
    answer = _post_decision(app, notes=f"see {value} here")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "notes"


def test_raw_control_characters_in_json_text_are_named_too(app: App) -> None:
    body = json.dumps(_decision(notes="ZZ")).replace("ZZ", "\x00")
    answer = app.client.post(
        f"/api/v1/cases/{CASE_ID}/decisions",
        content=body.encode(),
        headers={**app.auth("clinician"), "content-type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "notes"


def test_a_body_without_content_type_is_checked_as_json(app: App) -> None:
    """FastAPI parses such a body as JSON, so the guard reads it as JSON too."""
    answer = app.client.post(
        "/api/v1/tokens", content=json.dumps({"username": NUL, "password": "x"}).encode()
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "username"


def test_a_multipart_form_field_is_named(app: App) -> None:
    answer = app.client.post("/login", files={"username": (None, NUL), "password": (None, "x")})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "username"


def test_a_large_body_is_checked_in_full(app: App) -> None:
    """Past 16 kB the guard checks in a worker thread; the field is still named."""
    people = [f"Dr {i}" for i in range(5000)] + [NUL]
    answer = _post_decision(app, participants=people)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "participants[5000]"


@pytest.mark.parametrize("value", ["a\tb", "a\nb"])
def test_line_breaks_are_refused_in_the_query_and_in_names(app: App, value: str) -> None:
    listed = app.client.get("/api/v1/cases", params={"q": value}, headers=app.auth("viewer"))
    assert listed.status_code == 400
    assert listed.json()["errors"][0]["field"] == "q"
    named = app.client.post(
        "/api/v1/users",
        json={
            "username": "someone",
            "password": PASSWORD,
            "role": "viewer",
            "display_name": value,
        },
        headers=app.auth("admin"),
    )
    assert named.status_code == 422
    assert named.json()["errors"][0]["field"] == "display_name"


def test_free_text_keeps_tabs_line_breaks_and_joiners(app: App) -> None:
    notes = "first line\r\nsecond\tline; family 👨\u200d👩\u200d👧; ﻻ\u200c"
    answer = _post_decision(app, notes=notes, participants=["Dr \u05d0 \u200f(RLM)"])
    assert answer.status_code == 201, answer.text
    assert answer.json()["notes"] == notes


@pytest.mark.parametrize(
    ("field", "char"),
    [
        ("notes", "\u202e"),
        ("notes", "\u2066"),
        ("notes", "\u200b"),
        ("override_reason", "\u202a"),
        ("participants", "\u2069"),
        ("participants", "\ufeff"),
    ],
)
def test_bidi_and_zero_width_characters_are_refused_in_decisions(
    app: App, field: str, char: str
) -> None:
    value = f"abc{char}def"
    answer = _post_decision(app, **{field: [value] if field == "participants" else value})
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["errors"]
    assert error["field"].split(".")[0] == field
    assert f"U+{ord(char):04X}" in error["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/users", {"username": "other", "password": PASSWORD, "role": "viewer",
                           "display_name": "Dr \u202eevil"}, "display_name"),
        ("/api/v1/tokens", {"username": "viewer", "password": PASSWORD,
                            "label": "lap\u200btop"}, "label"),
        ("/api/v1/tokens", {"username": "vie\u2067wer", "password": PASSWORD}, "username"),
    ],
)  # fmt: skip
def test_bidi_and_zero_width_characters_are_refused_in_names(
    app: App, path: str, body: dict[str, Any], field: str
) -> None:
    answer = app.client.post(path, json=body, headers=app.auth("admin"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field


def test_a_bidi_override_is_refused_in_the_decision_form(app: App) -> None:
    client = TestClient(app.client.app, base_url=ORIGIN, headers={"Origin": ORIGIN})
    assert post_login(client, "clinician").status_code == 303
    token = form_token(client.get(f"/cases/{CASE_ID}").text)
    answer = client.post(
        f"/cases/{CASE_ID}/decisions",
        data={**_decision(notes="give \u202edrug"), "csrf_token": token, "participants": "Dr A"},
    )
    assert answer.status_code == 422
    nul = client.post(
        f"/cases/{CASE_ID}/decisions",
        data={**_decision(notes=NUL), "csrf_token": token, "participants": "Dr A"},
    )
    assert nul.status_code == 400
    assert nul.json()["errors"][0]["field"] == "notes"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_on_every_json_endpoint(app: App, token: str) -> None:
    decision = json.dumps(_decision(notes="x")).replace('"notes": "x"', f'"notes": {token}')
    answer = app.client.post(
        f"/api/v1/cases/{CASE_ID}/decisions",
        content=decision,
        headers={**app.auth("clinician"), "content-type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["errors"] == [
        {"field": "notes", "message": f"{token} is not a valid number"}
    ]
    hook = json.dumps(patient_view("p1", prefetch={"patient": {"resourceType": "Patient"}}))
    hook = hook.replace('"resourceType": "Patient"', f'"resourceType": "Patient", "x": {token}')
    answer = app.client.post(
        HOOK, content=hook, headers={**app.ehr.auth(HOOK), "content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["diagnostics"] == (
        f"prefetch.patient.x: {token} is not a valid number"
    )


def test_cds_bodies_sent_as_another_type_refuse_nan_too(app: App) -> None:
    hook = json.dumps(patient_view("p1")).replace('"p1"', '"p1", "extra": NaN')
    answer = app.client.post(
        HOOK,
        content=hook,
        headers={**app.ehr.auth(HOOK), "content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400
    assert "NaN is not a valid number" in answer.json()["issue"][0]["diagnostics"]


def test_the_cds_audience_is_checked_for_control_characters(app: App) -> None:
    answer = _hook(app, aud=[HOOK, "x\x00"])
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["diagnostics"].startswith("JWT claim aud: ")


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("0001-01-01", "must not be before 1900-01-01, got 0001-01-01"),
        ("1899-12-31", "must not be before 1900-01-01, got 1899-12-31"),
        ((dt.date.today() + dt.timedelta(days=3)).isoformat(), "must not be in the future"),
    ],
)
def test_decision_dates_must_be_plausible(app: App, day: str, message: str) -> None:
    answer = _post_decision(app, decided_on=day)
    assert answer.status_code == 422
    (error,) = answer.json()["errors"]
    assert error["field"] == "decided_on"
    assert error["message"].startswith(message)


def test_a_decision_dated_tomorrow_is_clock_skew_and_accepted(app: App) -> None:
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    answer = _post_decision(app, decided_on=tomorrow)
    assert answer.status_code == 201, answer.text


def test_stored_decisions_read_back_as_written() -> None:
    """Only input is checked: a decision stored before these rules still reads."""
    from netlm.model.decision import Decision

    stored = Decision.model_validate(
        {**_decision(decided_on="0001-01-01", notes="old \u202e note"), "id": 1, "case_id": "c",
         "case_version": 1, "assessment_id": None, "concordant": True,
         "created_at": dt.datetime.now(dt.UTC), "created_by": "x"}
    )  # fmt: skip
    assert stored.decided_on == dt.date(1, 1, 1)
