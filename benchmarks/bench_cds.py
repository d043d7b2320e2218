"""Benchmark of the CDS Hooks patient-view service (run by hand or by `make bench`; not a test).

In process through FastAPI's TestClient on a fresh embedded store: 500 patient-view calls with
full prefetch (patient v03 of tests/fhir/bundles, a midgut NET G2 with diffuse liver
metastases), each with its own ES384-signed JWT (signed before the clock starts: signing is the
EHR's cost). Every call verifies the JWT, records its jti, maps 20-odd FHIR resources, assesses,
checks the stored case and records the cards. Beside it the peer: the same case as netlm.case/1
through POST /api/v1/assess (bearer token, nothing stored), so the ratio is what the CDS
envelope (JWT, FHIR mapping, store) costs on top of the assessment. Target: p99 < 100 ms.
"""

import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm

from netlm.fhir.cds.routes import cds_store, router
from netlm.fhir.cds.searchset import prefetch_for
from netlm.settings import Settings
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "tests" / "fhir" / "bundles" / "03-midgut-progressive-on-ssa-sstr4.json"
CASE = ROOT / "examples" / "03-midgut-progressive-on-ssa-sstr4.json"
CALLS, WARM_UP = 500, 50
BASE = "http://testserver"
URL = f"{BASE}/cds-services/netlm-strategy"
ISSUER = "https://ehr.bench.example"


def prefetch() -> tuple[str, dict[str, Any]]:
    items = [e["resource"] for e in json.loads(BUNDLE.read_text())["entry"]]
    (patient,) = (r for r in items if r["resourceType"] == "Patient")
    return patient["id"], prefetch_for(items, patient["id"])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call: Any, n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="netlm-bench-cds-"))
    url = f"sqlite:///{workdir / 'netlm.db'}"
    upgrade(url)
    store = Store(create_db_engine(url))
    settings = Settings(database_url=url, secret_key="bench-" + "x" * 40, data_dir=workdir)
    app = create_app(settings, store)
    if not any(getattr(r, "path", "") == "/cds-services" for r in app.routes):
        app.include_router(router)
    key = ec.generate_private_key(ec.SECP384R1())
    public = {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1", "alg": "ES384"}
    cds_store(app).add_client(ISSUER, "bench EHR", {"keys": [public]}, [])
    user = store.add_user("bench", "benchmark password", "clinician")
    api = {"Authorization": f"Bearer {store.create_token(user, 'bench')}"}

    patient_id, data = prefetch()
    body = json.dumps(
        {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/bench", "patientId": patient_id},
            "prefetch": data,
        }
    )
    now = int(time.time())
    tokens = [
        jwt.encode(
            {"iss": ISSUER, "aud": URL, "iat": now, "exp": now + 600, "jti": str(uuid.uuid4())},
            key,
            algorithm="ES384",
            headers={"kid": "k1", "typ": "JWT"},
        )
        for _ in range(CALLS + WARM_UP)
    ]
    case = CASE.read_text()
    json_headers = {"Content-Type": "application/json"}

    with TestClient(app, base_url=BASE) as client:

        def hook(i: int) -> None:
            headers = {**json_headers, "Authorization": f"Bearer {tokens[i]}"}
            response = client.post(URL, content=body, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json()["cards"], "patient-view gave no card"

        def peer(_: int) -> None:
            response = client.post("/api/v1/assess", content=case, headers={**api, **json_headers})
            assert response.status_code == 200, response.text

        timed(hook, WARM_UP)
        timed(peer, WARM_UP)
        cds = timed(lambda i: hook(WARM_UP + i), CALLS)
        assess = timed(peer, CALLS)

    print(f"CDS Hooks patient-view, full prefetch, in process (TestClient), {CALLS} calls")
    for name, times in (
        ("POST /cds-services/netlm-strategy", cds),
        ("POST /api/v1/assess (peer)", assess),
    ):
        print(
            f"  {name:<36} median {statistics.median(times):6.2f} ms   "
            f"p99 {percentile(times, 0.99):6.2f} ms"
        )
    ratio = statistics.median(cds) / statistics.median(assess)
    print(f"  patient-view / assess (median): {ratio:.2f}")
    met = percentile(cds, 0.99) < 100
    print(f"  target p99 < 100 ms: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
