"""Every bundled example chart gives one case, however it reaches netlm: by prefetch (every slot
filled), by fetch (every slot null, read from a FHIR server over loopback HTTP) and by
`netlm fhir import` (the import function for every chart, the CLI process for one).

One app for the module, with two EHRs registered, so that the prefetch and fetch cases of a
patient are kept apart (`ehr-<issuer tag>-<patientId>`).
"""

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from netlm.fhir.cds.prefetch import PREFETCH
from netlm.fhir.cds.routes import cds_store
from netlm.fhir.cds.service import case_id_for
from netlm.fhir.mapping import bundle_to_case
from netlm.model.case import Case
from netlm.model.parse import parse_case_json
from tests.cds.conftest import BASE, STRATEGY, Cds, check_response, make_env, patient_view
from tests.cds.ehr import Ehr, FhirServer, prefetch_for, resources, serve

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "fhir"
CHARTS = sorted(EXAMPLES.glob("*.json")) + sorted(
    p for p in (EXAMPLES / "feeds").glob("*.json") if not p.name.endswith(".expected.json")
)
BY_CLI = EXAMPLES / "feeds" / "epic-02-pnet-pathology-report.json"
NETLM = Path(sys.executable).parent / "netlm"
PREFETCHING, FETCHING = Ehr("https://prefetch.example.org"), Ehr("https://fetch.example.org")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cds]:
    app, store, _ = make_env(tmp_path_factory.mktemp("same-case"))
    for ehr in (PREFETCHING, FETCHING):
        cds_store(app).add_client(ehr.issuer, ehr.issuer, ehr.jwks(), [])
    with TestClient(app, base_url=BASE) as client:
        yield Cds(app, client, store, PREFETCHING)


def _call(env: Cds, ehr: Ehr, body: dict[str, Any]) -> Case:
    check_response(env.client.post(STRATEGY, json=body, headers=ehr.auth(STRATEGY)))
    patient_id = body["context"]["patientId"]
    return env.store.get_case(case_id_for(ehr.issuer, patient_id)).case


def _facts(case: Case) -> dict[str, Any]:
    return case.model_dump(exclude={"id"})


def test_the_charts_are_all_here() -> None:
    assert len(CHARTS) == 14  # eight teaching charts, six EHR feeds
    assert BY_CLI in CHARTS


@pytest.mark.parametrize("path", CHARTS, ids=lambda p: p.stem)
def test_prefetch_fetch_and_import_give_the_same_case(env: Cds, path: Path) -> None:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    patient_id, prefetch = prefetch_for(bundle)
    by_prefetch = _call(env, PREFETCHING, patient_view(patient_id, prefetch))
    with serve(FhirServer(resources(bundle))) as server:
        cds_store(env.app).set_fhir_servers(FETCHING.issuer, [server.base], allow_http=True)
        nothing = dict.fromkeys(PREFETCH)  # every slot null: netlm reads each one itself
        body = patient_view(patient_id, nothing, fhirServer=server.base,
                            fhirAuthorization={"access_token": server.token, "expires_in": 300,
                                               "token_type": "Bearer", "scope": "user/*.read",
                                               "subject": "netlm"})  # fmt: skip
        by_fetch = _call(env, FETCHING, body)
    assert len(server.searches) >= len(PREFETCH) - 1  # every search (the Patient is a read)
    today = dt.datetime.now(dt.UTC).date()
    by_import = bundle_to_case(bundle, patient_id=patient_id, on=today).case
    assert _facts(by_prefetch) == _facts(by_import)
    assert _facts(by_fetch) == _facts(by_import)
    if path == BY_CLI:
        cli = subprocess.run([str(NETLM), "fhir", "import", str(path), "--date", today.isoformat()],
                             capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
        assert _facts(parse_case_json(cli.stdout.encode())) == _facts(by_import)
