"""CDS Hooks calls in the audit trail: a patient-view whose chart has not changed still reads
the stored case, and is recorded as a read with the EHR's address (issue 17: it left no trace);
a call with a forged token is recorded as refused."""

from typing import Any

from sqlalchemy import text

from netlm.fhir.cds.service import case_id_for
from tests.cds.conftest import STRATEGY, Cds, check_response, patient_view
from tests.cds.ehr import EHR_ISSUER


def _rows(env: Cds, after: int) -> list[dict[str, Any]]:
    with env.store.engine.connect() as connection:
        found = connection.execute(
            text("SELECT * FROM audit_log WHERE seq > :seq ORDER BY seq"), {"seq": after}
        )
        return [dict(r) for r in found.mappings()]


def _head(env: Cds) -> int:
    with env.store.engine.connect() as connection:
        return int(connection.scalar(text("SELECT COALESCE(MAX(seq), 0) FROM audit_log")) or 0)


def test_an_unchanged_patient_view_is_recorded_as_a_read(
    env: Cds, v03: tuple[str, dict[str, Any]]
) -> None:
    patient_id, prefetch = v03
    check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    before, counts = _head(env), env.counts()
    check_response(env.hook(STRATEGY, patient_view(patient_id, prefetch)))
    assert env.counts()["case_versions"] == counts["case_versions"]  # nothing changed
    (row,) = [r for r in _rows(env, before) if r["action"] == "read"]
    assert row["entity_id"] == case_id_for(EHR_ISSUER, patient_id)
    assert (row["username"], row["address"]) == ("cds-hooks", "testclient")
    assert row["via"] == "POST /cds-services/{service_id}"


def test_a_refused_hook_call_is_recorded(env: Cds, v03: tuple[str, dict[str, Any]]) -> None:
    patient_id, prefetch = v03
    before = _head(env)
    forged = {"Authorization": "Bearer not.a.jwt"}
    assert env.hook(STRATEGY, patient_view(patient_id, prefetch), forged).status_code == 401
    (row,) = _rows(env, before)
    assert (row["action"], row["outcome"], row["address"]) == ("refused", "401", "testclient")
