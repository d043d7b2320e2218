"""`netlm fhir` through a real subprocess and `/api/v1/fhir` through the FastAPI app."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from tests.app.conftest import Env
from tests.conftest import EXAMPLES

BUNDLES = Path(__file__).parent / "bundles"
NETLM = Path(sys.executable).parent / "netlm"


@pytest.fixture(scope="module")
def fhir_cli() -> list[str]:
    return [str(NETLM), "fhir"]


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


FEEDS = Path(__file__).parents[2] / "examples" / "fhir" / "feeds"


def test_cli_import_shows_report_text_as_proposals_never_in_the_case(fhir_cli: list[str]) -> None:
    chart = FEEDS / "epic-02-pnet-pathology-report.json"
    result = run(fhir_cli, "import", str(chart), "--date", "2024-03-15")
    assert result.returncode == 0, result.stderr
    assert "mitoses_per_2mm2" not in json.loads(result.stdout)["pathology"]
    proposals = [line for line in result.stderr.splitlines() if line.startswith("proposal")]
    assert any(
        "pathology.mitoses_per_2mm2 = 2.0" in line
        and "DiagnosticReport/ePath1" in line
        and "mitoses 2/2 mm2" in line
        for line in proposals
    )
    assert any("pathology.ki67_percent = 8.0 (the case holds 8.0)" in line for line in proposals)


def test_cli_import_as_of_a_date_lists_what_came_later(fhir_cli: list[str]) -> None:
    chart = FEEDS / "cerner-02-jejunal-net-as-of-date.json"
    result = run(fhir_cli, "import", str(chart), "--date", "2024-03-01")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pathology"] == {"ki67_below_percent": 3}
    assert "unmapped: (after the date): Observation/ki67b has effectiveDateTime 2024-05-02" in (
        result.stderr
    )


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
     (["import", "no-such-file.json"], None, "no-such-file.json: cannot read"),
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


def bundle_text(name: str) -> str:
    return (BUNDLES / f"{name}.json").read_text(encoding="utf-8")


def post(env: Env, path: str, body: str, role: str = "viewer") -> Any:
    headers = {**env.auth(role), "Content-Type": "application/json"}
    return env.client().post(path, content=body, headers=headers)


def test_api_case(env: Env) -> None:
    response = post(env, "/api/v1/fhir/case?date=2024-06-01", bundle_text("unknown-units"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["case"]["id"] == "fhir-units"
    assert body["sources"]["labs.albumin_g_dl"].startswith("Observation/")
    assert {"field": "labs.hemoglobin_g_dl"}.items() <= body["unmapped"][0].items()


def test_api_case_returns_report_text_as_proposals_never_in_the_case(env: Env) -> None:
    body = (FEEDS / "epic-02-pnet-pathology-report.json").read_text(encoding="utf-8")
    answer = post(env, "/api/v1/fhir/case?date=2024-03-15", body).json()
    assert "mitoses_per_2mm2" not in answer["case"]["pathology"]
    mitoses = next(p for p in answer["proposals"] if p["field"] == "pathology.mitoses_per_2mm2")
    assert mitoses["value"] == 2
    assert mitoses["source"] == "DiagnosticReport/ePath1"
    assert "mitoses 2/2 mm2" in mitoses["quote"]
    assert mitoses["comparator"] is None
    spec = env.client().get("/openapi.json").json()
    answered = spec["paths"]["/api/v1/fhir/case"]["post"]["responses"]["200"]["content"]
    schema = answered["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "proposals" in spec["components"]["schemas"][schema]["required"]


def test_api_needs_a_login(env: Env) -> None:
    response = env.client().post("/api/v1/fhir/case", content=bundle_text("whipple"))
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [("{oops", 400, "(json)"), ('{"resourceType": "Patient"}', 422, "(bundle)"),
     (bundle_text("two-patients"), 422, "(patient)")],
)  # fmt: skip
def test_api_bad_bundles(env: Env, body: str, status: int, field: str) -> None:
    response = post(env, "/api/v1/fhir/case", body)
    assert response.status_code == status
    assert response.json()["errors"][0]["field"] == field


def test_api_case_with_patient_choice(env: Env) -> None:
    response = post(env, "/api/v1/fhir/case?patient=pa", bundle_text("two-patients"))
    assert response.json()["case"]["primary"]["site"] == "pancreas"


def test_api_assess_returns_a_fhir_bundle(env: Env) -> None:
    response = post(env, "/api/v1/fhir/assess?lang=zh&date=2024-06-01", bundle_text("whipple"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    Bundle.model_validate(bundle)
    assert bundle["entry"][0]["resource"]["subject"] == {"reference": "Patient/wh"}


def test_api_stored_case_as_fhir(env: Env) -> None:
    case = json.loads(EXAMPLES[2].read_text(encoding="utf-8"))
    created = env.client().post("/api/v1/cases", json=case, headers=env.auth("clinician"))
    assert created.status_code == 201, created.text
    response = env.client().get(f"/api/v1/fhir/cases/{case['id']}", headers=env.auth("viewer"))
    assert response.status_code == 200, response.text
    bundle = response.json()
    Bundle.model_validate(bundle)
    plan = bundle["entry"][1]["resource"]
    assert plan["subject"] == {"reference": f"Patient/{case['id']}"}
    assert plan["action"][0]["prefix"] == "1"
    missing = env.client().get("/api/v1/fhir/cases/nope", headers=env.auth("viewer"))
    assert missing.status_code == 404
