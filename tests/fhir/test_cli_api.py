"""`netlm fhir` through a real subprocess and `/api/v1/fhir` through the FastAPI app."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle

from netlm.settings import Settings
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.web.api.fhir import router
from netlm.web.app import create_app
from tests.app.conftest import PASSWORD
from tests.conftest import EXAMPLES

BUNDLES = Path(__file__).parent / "bundles"
NETLM = Path(sys.executable).parent / "netlm"


def _command() -> list[str]:
    """`netlm fhir` once it is mounted in the main app; the sub-app on its own until then."""
    mounted = subprocess.run([str(NETLM), "fhir", "--help"], capture_output=True, timeout=60)
    if mounted.returncode == 0:
        return [str(NETLM), "fhir"]
    return [sys.executable, "-c", "from netlm.cli.fhir import fhir_app; fhir_app()"]


@pytest.fixture(scope="module")
def fhir_cli() -> list[str]:
    return _command()


def run(cmd: list[str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_cli_import_prints_the_case_and_unmapped_lines(fhir_cli: list[str]) -> None:
    result = run(fhir_cli, "import", str(BUNDLES / "unknown-units.json"), "--date", "2024-06-01")
    assert result.returncode == 0, result.stderr
    case = json.loads(result.stdout)
    assert case["schema"] == "netlm.case/1"
    assert case["labs"]["albumin_g_dl"] == pytest.approx(3.8)
    lines = result.stderr.splitlines()
    assert any(
        line.startswith('unmapped: labs.hemoglobin_g_dl: unit "furlong" cannot be converted')
        for line in lines
    )
    assert all(line.startswith("unmapped: ") for line in lines)


def test_cli_import_from_stdin_with_patient(fhir_cli: list[str]) -> None:
    text = (BUNDLES / "two-patients.json").read_text(encoding="utf-8")
    result = run(fhir_cli, "import", "-", "--patient", "pb", "--date", "2024-06-01", stdin=text)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["primary"]["site"] == "rectum"


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [(["import", "-"], "{not json", "(json): malformed JSON"),
     (["import", "-"], json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
         {"resource": {"resourceType": "Patient", "id": "p", "birthDate": "yesterday"}}]}),
      "Patient/p.birthDate:"),
     (["import", str(BUNDLES / "two-patients.json")], None, "(patient): 2 Patients"),
     (["import", str(BUNDLES / "whipple.json"), "--date", "1/6/2024"], None, "--date:"),
     (["import", "no-such-file.json"], None, "(file): cannot read"),
     (["export", "-"], '{"schema": "netlm.case/1"}', "id: required field is missing")],
)  # fmt: skip
def test_cli_bad_input_exits_2_without_traceback(
    fhir_cli: list[str], args: list[str], stdin: str | None, expected: str
) -> None:
    result = run(fhir_cli, *args, stdin=stdin)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_cli_export_prints_a_valid_bundle(fhir_cli: list[str]) -> None:
    result = run(fhir_cli, "export", str(EXAMPLES[7]), "--lang", "zh",
                 "--patient-reference", "Patient/x")  # fmt: skip
    assert result.returncode == 0, result.stderr
    bundle = json.loads(result.stdout)
    Bundle.model_validate(bundle)
    guidance = bundle["entry"][0]["resource"]
    assert guidance["subject"] == {"reference": "Patient/x"}
    assert any("\u4e00" <= ch <= "\u9fff" for ch in guidance["note"][-1]["text"])


# --- API -------------------------------------------------------------------------------------


class Api:
    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def api(tmp_path: Path) -> Api:
    url = f"sqlite:///{tmp_path / 'netlm.db'}"
    upgrade(url)
    settings = Settings(database_url=url, secret_key="test-secret-" + "x" * 40, data_dir=tmp_path)
    store = Store(create_db_engine(url))
    tokens = {}
    for role in ("clinician", "viewer"):
        user = store.add_user(role, PASSWORD, role, display_name=role.title())
        tokens[role] = store.create_token(user, "tests")
    app = create_app(settings, store)
    if not any(getattr(r, "path", "") == "/api/v1/fhir/case" for r in app.routes):
        app.include_router(router)
    return Api(TestClient(app, base_url="http://testserver"), tokens)


def bundle_text(name: str) -> str:
    return (BUNDLES / f"{name}.json").read_text(encoding="utf-8")


def post(api: Api, path: str, body: str, role: str = "viewer") -> Any:
    headers = {**api.auth(role), "Content-Type": "application/json"}
    return api.client.post(path, content=body, headers=headers)


def test_api_case(api: Api) -> None:
    response = post(api, "/api/v1/fhir/case?date=2024-06-01", bundle_text("unknown-units"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["case"]["id"] == "fhir-units"
    assert body["sources"]["labs.albumin_g_dl"].startswith("Observation/")
    assert {"field": "labs.hemoglobin_g_dl"}.items() <= body["unmapped"][0].items()


def test_api_needs_a_login(api: Api) -> None:
    response = api.client.post("/api/v1/fhir/case", content=bundle_text("whipple"))
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [("{oops", 400, "(json)"), ('{"resourceType": "Patient"}', 422, "(bundle)"),
     (bundle_text("two-patients"), 422, "(patient)")],
)  # fmt: skip
def test_api_bad_bundles(api: Api, body: str, status: int, field: str) -> None:
    response = post(api, "/api/v1/fhir/case", body)
    assert response.status_code == status
    assert response.json()["errors"][0]["field"] == field


def test_api_case_with_patient_choice(api: Api) -> None:
    response = post(api, "/api/v1/fhir/case?patient=pa", bundle_text("two-patients"))
    assert response.json()["case"]["primary"]["site"] == "pancreas"


def test_api_assess_returns_a_fhir_bundle(api: Api) -> None:
    response = post(api, "/api/v1/fhir/assess?lang=zh&date=2024-06-01", bundle_text("whipple"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    Bundle.model_validate(bundle)
    assert bundle["entry"][0]["resource"]["subject"] == {"reference": "Patient/wh"}


def test_api_stored_case_as_fhir(api: Api) -> None:
    case = json.loads(EXAMPLES[2].read_text(encoding="utf-8"))
    created = api.client.post("/api/v1/cases", json=case, headers=api.auth("clinician"))
    assert created.status_code == 201, created.text
    response = api.client.get(f"/api/v1/fhir/cases/{case['id']}", headers=api.auth("viewer"))
    assert response.status_code == 200, response.text
    bundle = response.json()
    Bundle.model_validate(bundle)
    plan = bundle["entry"][1]["resource"]
    assert plan["subject"] == {"reference": f"Patient/{case['id']}"}
    assert plan["action"][0]["prefix"] == "1"
    missing = api.client.get("/api/v1/fhir/cases/nope", headers=api.auth("viewer"))
    assert missing.status_code == 404
