"""Prefetch slots as CDS Hooks 2.0.1 lets an EHR send them: null, an OperationOutcome, absent,
or a search with more matches than netlm's bound; one app for the module."""

import copy
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netlm.fhir.cds import searchset
from netlm.fhir.cds.prefetch import BOUNDS, COUNT, PATIENT_TOKEN, PREFETCH
from netlm.fhir.cds.routes import cds_store
from netlm.fhir.cds.service import case_id_for
from tests.cds.conftest import BASE, STRATEGY, Cds, check_response, make_env, patient_view
from tests.cds.ehr import EHR_ISSUER, Ehr, FhirServer, load_bundle, prefetch_for, resources, serve

FAILED = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "too-costly", "diagnostics": "search too large"}],
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cds]:
    tmp_path = tmp_path_factory.mktemp("slots")
    app, store, _ = make_env(tmp_path)
    ehr = Ehr()
    cds_store(app).add_client(ehr.issuer, "Test EHR", ehr.jwks(), [])
    with TestClient(app, base_url=BASE) as client:
        yield Cds(app, client, store, ehr)


@pytest.fixture
def v03() -> tuple[str, dict[str, Any]]:
    return prefetch_for(load_bundle("03"))


def context(server: FhirServer | str) -> dict[str, Any]:
    base = server if isinstance(server, str) else server.base
    return {"fhirServer": base,
            "fhirAuthorization": {"access_token": "ehr-access-token", "token_type": "Bearer",
                                  "expires_in": 300, "scope": "user/*.read", "subject": "netlm"}}  # fmt: skip


def test_null_and_failed_slots_without_a_fhir_server_are_assessed_and_named(
    env: Cds, v03: tuple[str, Any]
) -> None:
    patient_id, prefetch = v03
    prefetch["procedures"] = None
    prefetch["observationsLabs"] = FAILED
    info, review = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    assert info["summary"].startswith("netlm: NET G2, liver type III")  # Ki-67 still read
    assert "**Data netlm did not receive**" in info["detail"]
    assert "- procedures: the EHR has none (null)" in info["detail"]
    assert "- laboratory results: the EHR's FHIR server could not run the search" in info["detail"]
    assert "1 search(es) incomplete" in review["summary"]  # null is none, not incomplete


def test_null_and_failed_slots_are_read_from_the_fhir_server(
    env: Cds, v03: tuple[str, Any]
) -> None:
    patient_id, prefetch = v03
    prefetch["observationsLabs"] = FAILED
    prefetch["observationsFindings"] = None
    with serve(FhirServer(resources(load_bundle("03")))) as server:
        env.allow(server.base)
        cards = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch,
                                                               **context(server))))  # fmt: skip
    assert len(server.searches) == 2  # the two Observation searches, and nothing else
    assert all(q.startswith("Observation?patient=v03&code=") for q in server.searches)
    assert "did not receive" not in cards[0]["detail"]
    stored = env.store.get_case(case_id_for(EHR_ISSUER, patient_id)).case
    assert stored.pathology.ki67_percent == 4
    assert stored.labs.platelets_10e9_per_l is not None


def test_a_null_slot_the_fhir_server_cannot_fill_is_named_not_412(
    env: Cds, v03: tuple[str, Any]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/fhir"
    env.allow(dead)
    patient_id, prefetch = v03
    prefetch["medicationStatements"] = None
    cards = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch, **context(dead))))
    assert "- medication statements: not readable from the EHR's FHIR server" in cards[0]["detail"]
    del prefetch["medicationStatements"]  # absent and unreadable: the spec's 412
    response = env.hook(STRATEGY, patient_view(patient_id, prefetch, **context(dead)))
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"


def test_every_slot_null_without_a_server_is_a_card_saying_what_is_missing(env: Cds) -> None:
    prefetch = dict.fromkeys(BOUNDS | {"patient": 0})
    (card,) = check_response(env.hook(STRATEGY, patient_view("v03", prefetch)))
    assert card["summary"] == "netlm: not assessed: the EHR sent no Patient record"
    assert "- patient record: the EHR has none (null)" in card["detail"]


def _crowded(extra: int) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """Chart v03 with `extra` older platelet counts, as the EHR's prefetch and as resources."""
    items = resources(load_bundle("03"))
    (platelets,) = (
        r
        for r in items
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "777-3"
    )
    for n in range(extra):
        old = copy.deepcopy(platelets)
        old["id"] = f"old-platelets-{n}"
        old["effectiveDateTime"] = f"20{10 + n % 10}-01-{1 + n % 28:02d}"
        items.append(old)
    patient_id, prefetch = prefetch_for({"entry": [{"resource": r} for r in items]})
    return patient_id, prefetch, items


def test_a_search_with_more_than_its_bound_reads_the_newest_and_says_so(env: Cds) -> None:
    patient_id, prefetch, items = _crowded(COUNT + 20)
    labs = prefetch["observationsLabs"]
    assert len(labs["entry"]) == COUNT
    assert labs["total"] > COUNT
    info, review = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    assert f"- laboratory results: only the newest {COUNT} read" in info["detail"]
    assert "1 search(es) incomplete" in review["summary"]
    everything = searchset.matches(
        items, PREFETCH["observationsLabs"].replace(PATIENT_TOKEN, "v03")
    )
    prefetch["observationsLabs"] = searchset.searchset(everything)  # `_count` ignored: one page
    info = check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))[0]
    assert f"- laboratory results: only the newest {COUNT} read" in info["detail"]
    del prefetch["observationsLabs"]
    with serve(FhirServer(items, page_size=30)) as server:
        env.allow(server.base)
        check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch, **context(server))))
    pages = [p for p in server.requests if "777-3" in p]
    assert len(pages) == 4  # 30 + 30 + 30 + 30 >= 100: the fifth page is never asked for


def test_gaps_are_worded_in_chinese(tmp_path: Path, v03: tuple[str, Any]) -> None:
    app, _, _ = make_env(tmp_path, cds_lang="zh")
    ehr = Ehr()
    cds_store(app).add_client(ehr.issuer, "EHR", ehr.jwks(), [])
    patient_id, prefetch = v03
    prefetch["procedures"] = None
    prefetch["observationsLabs"] = FAILED
    with TestClient(app, base_url=BASE) as client:
        cards = check_response(client.post(STRATEGY, json=patient_view(patient_id, prefetch),
                                           headers=ehr.auth(STRATEGY)))  # fmt: skip
    assert "**netlm未收到的数据**" in cards[0]["detail"]
    assert "- 手术与操作：EHR中没有（null）" in cards[0]["detail"]
    assert "1项查询不完整" in cards[1]["summary"]
    empty = dict.fromkeys(BOUNDS | {"patient": 0})
    with TestClient(app, base_url=BASE) as client:
        (card,) = check_response(client.post(STRATEGY, json=patient_view("v03", empty),
                                             headers=ehr.auth(STRATEGY)))  # fmt: skip
    assert card["summary"] == "netlm：未评估：EHR未提供患者记录"
