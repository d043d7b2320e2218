"""Clear refusals: another FHIR version named, a deceased patient, no primary tumour (with the
Conditions seen); every refusal carries what the chart held that was not used."""

import copy
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netlm.fhir import FhirMappingError, bundle_to_case
from netlm.fhir import codes as c
from netlm.fhir.mapping.result import NOT_USED
from tests.app.conftest import Env
from tests.fhir.charts import BUNDLES, ON, bundle, concept, obs, qty

PUBLIC = BUNDLES / "public"
DSTU2 = PUBLIC / "smart-dstu2-patient-1032702.json"
SYNTHEA = PUBLIC / "synthea-r4-alberto-atencio-first-8-entries.json"
NETLM = Path(sys.executable).parent / "netlm"


def refusal(data: Any, on: dt.date = ON) -> FhirMappingError:
    with pytest.raises(FhirMappingError) as err:
        bundle_to_case(data, on=on)
    return err.value


def public(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# --- FHIR versions -----------------------------------------------------------------------------


def test_a_real_dstu2_bundle_is_refused_by_name() -> None:
    err = refusal(public(DSTU2))
    (reason,) = err.reasons
    assert "this is a FHIR DSTU2 Bundle" in reason.message
    assert "Patient/smart-1032702.name.family is a list" in reason.message
    assert "netlm reads FHIR R4 (4.0.1) only" in reason.message
    unread = [u.reason for u in err.unmapped]
    assert "MedicationOrder/smart-MedicationOrder-101: not read (FHIR DSTU2)" in unread
    assert len([u for u in unread if u.startswith("Condition/")]) == 5


def stu3_condition(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["entry"][1]["resource"]["clinicalStatus"] = "active"
    return data


def r5_medication(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["entry"].append({"resource": {
        "resourceType": "MedicationStatement", "id": "m", "status": "recorded",
        "subject": {"reference": "Patient/p"},
        "medication": {"concept": concept(c.ATC, "H01CB02")}}})  # fmt: skip
    return data


@pytest.mark.parametrize(
    ("change", "version", "evidence"),
    [(stu3_condition, "STU3", "Condition/prim.clinicalStatus is a code"),
     (r5_medication, "R5", "MedicationStatement/m.medication is a CodeableReference"),
     (lambda d: {**d, "fhirVersion": "3.0.2"}, "STU3", "Bundle.fhirVersion 3.0.2")],
)  # fmt: skip
def test_stu3_and_r5_bundles_are_refused_by_name(change: Any, version: str, evidence: str) -> None:
    (reason,) = refusal(change(bundle())).reasons
    assert f"this is a FHIR {version} Bundle" in reason.message
    assert evidence in reason.message


# --- Deceased patients -------------------------------------------------------------------------


def deceased(**death: Any) -> dict[str, Any]:
    data = bundle(obs("k", c.LOINC, c.KI67, "2023-01-15", valueQuantity=qty(5, "%")))
    data["entry"][0]["resource"].update(death)
    return data


def test_a_patient_who_died_is_refused_after_the_death() -> None:
    err = refusal(deceased(deceasedDateTime="2023-02-01"))
    (reason,) = err.reasons
    assert reason.path == "(patient)"
    assert "died on 2023-02-01" in reason.message
    assert "on or before 2023-02-01" in reason.message


def test_a_patient_is_assessed_as_the_chart_stood_on_or_before_the_death() -> None:
    result = bundle_to_case(deceased(deceasedDateTime="2023-02-01"), on=dt.date(2023, 2, 1))
    assert result.case.patient.age_years == 62  # born 1960-06-15
    assert result.case.pathology.ki67_percent == 5


def test_deceased_without_a_date_is_refused() -> None:
    (reason,) = refusal(deceased(deceasedBoolean=True)).reasons
    assert "deceased (deceasedBoolean) without a date" in reason.message


# --- No primary tumour -------------------------------------------------------------------------


def test_a_real_synthea_chart_names_the_conditions_seen_and_lists_what_was_not_used() -> None:
    err = refusal(public(SYNTHEA))
    (reason,) = err.reasons
    assert reason.path == "primary.site"
    assert "Conditions seen: Condition/0c230c71-0f5b-4bf5-b739-35706b2ca7b3 " in reason.message
    for code in ("128613002 'Seizure disorder'", "703151001", "84757009 'Epilepsy'"):
        assert code in reason.message
    not_used = [u.reason for u in err.unmapped if u.field == NOT_USED]
    assert len(not_used) == 4  # three Conditions and the clonazepam MedicationRequest
    assert any("rxnorm|1153378 'Clonazepam [Klonopin]'" in r for r in not_used)
    assert [p.path for p in err.problems[1:]] == ["unmapped: (not used)"] * 4


def test_the_cli_prints_every_unmapped_line_with_a_refusal() -> None:
    result = subprocess.run(
        [str(NETLM), "fhir", "import", str(SYNTHEA), "--date", "2024-06-01"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{SYNTHEA}: primary.site: no Condition for the primary tumour")
    assert (
        len([line for line in lines if line.startswith(f"{SYNTHEA}: unmapped: (not used): ")]) == 4
    )


def test_the_api_returns_the_unmapped_list_in_the_422_body(env: Env) -> None:
    headers = {**env.auth("viewer"), "Content-Type": "application/json"}
    response = env.client().post(
        "/api/v1/fhir/case?date=2024-06-01", content=SYNTHEA.read_bytes(), headers=headers
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors[0]["field"] == "primary.site"
    assert [e["field"] for e in errors[1:]] == ["unmapped: (not used)"] * 4
