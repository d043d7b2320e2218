"""Hostile and malformed input gets a clear 4xx, never a 500; limits and headers hold.

Each test reproduces a finding of the security review (issue 8): deep nesting, huge integers,
oversized bodies, unbounded parameters, missing security headers, world-readable files.
"""

import json
import os
import stat
from pathlib import Path

import pytest

from netlm.settings import Settings
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.web.app import create_app
from tests.conftest import EXAMPLES, Env, load_json

CASE = load_json(EXAMPLES[2])
DEEP = "[" * 1000 + "]" * 1000
HUGE = "9" * 4301


def _case_text(value: str) -> str:
    """The example case with `liver.lesion_count` replaced by raw JSON text."""
    text = json.dumps({**CASE, "liver": {**CASE["liver"], "lesion_count": 0}})
    return text.replace('"lesion_count": 0', f'"lesion_count": {value}')


@pytest.mark.parametrize("payload", [DEEP, HUGE])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/assess"),
        ("post", "/api/v1/cases"),
        ("put", "/api/v1/cases/v03"),
        ("post", "/api/v1/fhir/case"),
    ],
)
def test_deep_nesting_and_huge_integers_are_400(
    env: Env, method: str, path: str, payload: str
) -> None:
    client = env.client()
    body = _case_text(payload)
    answer = client.request(
        method,
        path,
        content=body,
        headers={**env.auth("clinician"), "content-type": "application/json"},
    )
    assert answer.status_code == 400
    message = answer.json()["errors"][0]["message"]
    assert "nested deeper" in message or "longer than" in message


def test_the_parser_itself_refuses_them_too() -> None:
    from netlm import CaseInputError, parse_case_json

    for payload in (DEEP, HUGE, "1e999"):
        with pytest.raises(CaseInputError):
            parse_case_json(_case_text(payload))


def test_integral_numbers_are_integers(env: Env) -> None:
    body = {**CASE, "patient": {**CASE.get("patient", {}), "ecog": 1.0}}
    answer = env.client().post("/api/v1/assess", json=body, headers=env.auth("viewer"))
    assert answer.status_code == 200
    half = {**CASE, "patient": {**CASE.get("patient", {}), "ecog": 1.5}}
    answer = env.client().post("/api/v1/assess", json=half, headers=env.auth("viewer"))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "patient.ecog"


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/cases?offset=9223372036854775808",
        "/api/v1/cases?limit=0",
        "/api/v1/cases?q=" + "x" * 201,
        "/api/v1/cases/v03/versions/9223372036854775808",
        "/api/v1/cases/v03/versions/0",
    ],
)
def test_parameters_are_bounded(env: Env, query: str) -> None:
    assert env.client().get(query, headers=env.auth("viewer")).status_code == 422


def test_an_edit_with_an_impossible_expected_version_is_refused(env: Env) -> None:
    answer = env.client().put(
        "/api/v1/cases/v03?expected_version=abc", json=CASE, headers=env.auth("clinician")
    )
    assert answer.status_code == 422


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/users", {"username": "longname", "password": "x" * 12, "role": "viewer",
                           "display_name": "x" * 201}),
        ("/api/v1/tokens", {"username": "admin", "password": "correct horse battery",
                            "label": "x" * 201}),
        ("/api/v1/tokens", {"username": "admin", "password": "x" * 1025}),
    ],
)  # fmt: skip
def test_long_strings_are_refused_before_the_database(
    env: Env, path: str, body: dict[str, str]
) -> None:
    answer = env.client().post(path, json=body, headers=env.auth("admin"))
    assert answer.status_code == 422


def test_an_oversized_body_is_refused_unread(env: Env) -> None:
    password = "x" * (env.settings.max_body_bytes + 1)
    answer = env.client().post("/api/v1/tokens", json={"username": "a", "password": password})
    assert answer.status_code == 413
    assert "larger than" in answer.json()["errors"][0]["message"]


def test_the_declared_length_alone_is_enough_to_refuse(env: Env) -> None:
    headers = {"content-length": str(10**9), "content-type": "application/json"}
    answer = env.client().post("/api/v1/assess", content=b"{}", headers=headers)
    assert answer.status_code == 413


def test_a_streamed_body_over_the_limit_is_refused(env: Env) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(env.settings.max_body_bytes // 65536 + 2):
            yield b" " * 65536

    answer = env.client().post("/api/v1/assess", content=chunks(), headers=env.auth("viewer"))
    assert answer.status_code == 413


def test_fhir_bodies_have_their_own_larger_limit(env: Env) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [],
              "padding": "x" * (env.settings.max_body_bytes + 10)}  # fmt: skip
    answer = env.client().post("/api/v1/fhir/case", json=bundle, headers=env.auth("viewer"))
    assert answer.status_code != 413


def test_cds_hooks_errors_are_operation_outcomes(env: Env) -> None:
    answer = env.client().post(
        "/cds-services/netlm-strategy", content=DEEP, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("path", ["/api/v1/cases", "/login", "/healthz", "/docs"])
def test_security_headers(env: Env, path: str) -> None:
    answer = env.client().get(path, headers=env.auth("viewer"))
    headers = answer.headers
    policy = dict(d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";"))
    assert policy["frame-ancestors"] == "'none'"
    assert policy["script-src"] == "'self'"  # no inline script anywhere, /docs included
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in headers


def test_static_files_may_be_cached_and_hsts_comes_with_secure_cookies(
    env: Env, tmp_path: Path
) -> None:
    assert "no-store" not in env.client().get("/static/style.css").headers.get("cache-control", "")
    secure = Settings(
        database_url=env.settings.database_url, secret_key="k" * 48, data_dir=tmp_path,
        secure_cookies=True,
    )  # fmt: skip
    client = Env(create_app(secure, env.store), env.store, secure, env.tokens).client()
    assert "max-age" in client.get("/healthz").headers["strict-transport-security"]


def test_api_docs_work_offline(env: Env) -> None:
    client = env.client()
    page = client.get("/docs").text
    assert "cdn" not in page.lower()
    assert "<script>" not in page  # no inline script: the CSP forbids it
    for asset in ("/static/swagger/swagger-ui-bundle.js", "/static/swagger/swagger-ui.css",
                  "/static/docs.js"):  # fmt: skip
        assert asset in page
        assert client.get(asset).status_code == 200


def test_openapi_documents_the_errors(env: Env) -> None:
    spec = env.client().get("/openapi.json").json()
    cases = spec["paths"]["/api/v1/cases/{case_id}"]
    assert {"401", "403", "404", "422"} <= set(cases["get"]["responses"])
    assert {"400", "409", "413"} <= set(cases["put"]["responses"])
    assert "429" in spec["paths"]["/api/v1/tokens"]["post"]["responses"]
    assert "Errors" in spec["components"]["schemas"]
    assert not any(path.startswith("/cases") for path in spec["paths"])  # pages are not the API


def test_database_and_data_folder_are_private(tmp_path: Path) -> None:
    data = tmp_path / "var"
    url = f"sqlite:///{data / 'netlm.db'}"
    upgrade(url)
    Store(create_db_engine(url)).ping()
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data / "netlm.db").st_mode) == 0o600


def test_an_older_install_with_loose_modes_is_tightened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    (data / "secret.key").write_text("k" * 64)
    url = f"sqlite:///{data / 'netlm.db'}"
    upgrade(url)
    Store(create_db_engine(url)).ping()  # WAL mode: -wal and -shm appear beside the file
    for path in (data, *data.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    monkeypatch.setenv("NETLM_DATA_DIR", str(data))
    monkeypatch.delenv("NETLM_SECRET_KEY", raising=False)
    monkeypatch.delenv("NETLM_DATABASE_URL", raising=False)
    settings = Settings.from_env()
    Store(create_db_engine(settings.database_url)).ping()
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert modes["netlm.db"] == modes["secret.key"] == 0o600, modes
    assert all(mode == 0o600 for name, mode in modes.items() if name.startswith("netlm.db")), modes
