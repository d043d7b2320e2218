"""Real charts through CDS Hooks: standard codes by prefetch, by fetch and by CLI give one case;
the card asks the board for what no EHR code carries, and the board's completion survives."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from netlm.engine import assess
from netlm.fhir.cds.completion import ehr_facts
from netlm.fhir.cds.service import case_id_for
from netlm.model.case import Case
from netlm.model.parse import parse_case_json
from tests.cds.conftest import BASE, STRATEGY, Cds, check_response, patient_view, running
from tests.cds.ehr import (
    BUNDLES,
    EHR_ISSUER,
    Ehr,
    FhirServer,
    load_bundle,
    prefetch_for,
    resources,
    serve,
)

ROOT = Path(__file__).resolve().parents[2]
NETLM = Path(sys.executable).parent / "netlm"
CHART = "standard-07"  # example 07 coded with standard codes only; lanreotide via a Medication
CASE_ID = case_id_for(EHR_ISSUER, "v07")
SAME: dict[str, Any] = {"id": True}


def fhir_context(server: FhirServer) -> dict[str, Any]:
    return {"fhirServer": server.base,
            "fhirAuthorization": {"access_token": server.token, "token_type": "Bearer",
                                  "expires_in": 300, "scope": "user/*.read", "subject": "netlm"}}  # fmt: skip


def stored(env: Cds) -> Case:
    return env.store.get_case(CASE_ID).case


def test_the_same_chart_by_prefetch_by_fetch_and_by_cli_gives_the_same_case(
    tmp_path: Path, ehr: Ehr
) -> None:
    chart = load_bundle(CHART)
    patient_id, prefetch = prefetch_for(chart)
    (tmp_path / "prefetch").mkdir()
    with running(tmp_path / "prefetch", ehr) as env:
        check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
        by_prefetch = stored(env)
    (tmp_path / "fetch").mkdir()
    with running(tmp_path / "fetch", ehr) as env, serve(FhirServer(resources(chart))) as server:
        env.allow(server.base)
        check_response(env.hook(STRATEGY, patient_view(patient_id, None, **fhir_context(server))))
        by_fetch = stored(env)
    observations = [q for q in server.searches if q.startswith("Observation?")]
    assert len(observations) == 3
    assert all("code=" in q and "_count=100" in q for q in observations)
    requests = [q for q in server.searches if q.startswith("MedicationRequest?")]
    assert requests
    assert all("_include=MedicationRequest%3Amedication" in q for q in requests)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    path = next(BUNDLES.glob(f"{CHART}*.json"))
    cli = subprocess.run([str(NETLM), "fhir", "import", str(path), "--date", today],
                         capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    by_cli = parse_case_json(cli.stdout.encode())
    assert by_prefetch.model_dump(exclude=SAME) == by_fetch.model_dump(exclude=SAME)
    assert by_prefetch.model_dump(exclude=SAME) == by_cli.model_dump(exclude=SAME)
    assert [(t.option, t.outcome) for t in by_fetch.prior_therapies] == [("ssa", "ongoing")]


def test_the_card_asks_the_board_for_what_no_ehr_code_carries(env: Cds) -> None:
    patient_id, prefetch = prefetch_for(load_bundle(CHART))
    info = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))[0]
    (link,) = info["links"]
    assert link["label"] == "Complete the case in netlm"
    assert link["url"].startswith(f"{BASE}/cases/{CASE_ID}/edit?complete=")
    asked = link["url"].split("complete=")[1].split(",")
    assert {"liver.pattern", "sstr_imaging.krenning_score"} <= set(asked)
    assert "No EHR code carries" in info["detail"]
    assert "liver pattern" in info["detail"]
    (version,) = env.store.case_versions(CASE_ID)
    facts = ehr_facts(version.comment)
    assert facts is not None
    assert facts["course.status"] == "Observation/v07-disease-status (mCODE CancerDiseaseStatus)"
    assert facts["prior_therapies"] == "MedicationRequest/v07-med19"


def test_the_boards_completion_survives_the_next_view_and_gives_the_example_strategy(
    env: Cds,
) -> None:
    patient_id, prefetch = prefetch_for(load_bundle(CHART))
    check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    example = parse_case_json((ROOT / "examples" / "07-transplant-candidate.json").read_bytes())
    board = env.store.add_user("dr-board", "correct horse battery", "clinician")
    completed = example.model_copy(update={"id": CASE_ID})
    env.store.update_case(CASE_ID, completed, board, expected_version=1, comment="MDT completion")
    info = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))[0]
    assert "liver.pattern" not in info["links"][0]["url"]
    merged = stored(env)
    assert assess(merged).recommendations == assess(example).recommendations
    assert assess(merged).classification == assess(example).classification
    # the EHR's facts replace the board's copies (the age is today's): a third version
    assert env.counts()["case_versions"] == 3
    assert merged.patient.age_years != example.patient.age_years
    # the EHR changes a fact it holds: it wins, and the board's findings stay
    for entry in prefetch["observationsFindings"]["entry"]:
        entry["resource"]["valueInteger"] = 1  # ECOG 0 -> 1
    check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    now = stored(env)
    assert now.patient.ecog == 1
    assert now.liver.pattern == example.liver.pattern == "III"
    latest = env.store.case_versions(CASE_ID)[-1]
    kept = next(line for line in latest.comment.splitlines() if line.startswith("kept from"))
    assert "liver.pattern" in kept


def test_a_medication_the_ehr_did_not_include_is_matched_on_its_display(env: Cds) -> None:
    patient_id, prefetch = prefetch_for(load_bundle(CHART))
    requests = prefetch["medicationRequests"]
    requests["entry"] = [e for e in requests["entry"] if e["search"]["mode"] == "match"]
    check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    assert [(t.option, t.outcome) for t in stored(env).prior_therapies] == [("ssa", "ongoing")]
    (version,) = env.store.case_versions(CASE_ID)
    assert "medicationReference.display" in json.dumps(ehr_facts(version.comment))


def test_a_patient_who_has_died_gets_a_card_saying_so_and_no_case(
    env: Cds, v03: tuple[str, Any]
) -> None:
    patient_id, prefetch = v03
    prefetch["patient"]["deceasedDateTime"] = "2021-03-04"
    (card,) = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    assert card["summary"] == "netlm: not assessed: the patient is recorded as deceased"
    assert "died on 2021-03-04" in card["detail"]
    assert env.counts()["case_versions"] == 0
