"""Benchmark of the CDS Hooks patient-view service (run by hand or by `make bench`; not a test).

In process through FastAPI's TestClient on a fresh embedded store: 500 patient-view calls with
full prefetch (patient v03 of tests/fhir/bundles, a midgut NET G2 with diffuse liver
metastases), each with its own ES384-signed JWT (signed before the clock starts: signing is the
EHR's cost). Every call verifies the JWT, records its jti, maps 20-odd FHIR resources, assesses,
checks the stored case and records the cards. Beside it the peer: the same case as netlm.case/1
through POST /api/v1/assess (bearer token, nothing stored), so the ratio is what the CDS
envelope (JWT, FHIR mapping, store) costs on top of the assessment. Target: p99 < 100 ms.

Then the same patient with 1,500 routine labs besides (older copies of the chart's own five labs,
one of each a day: every one a code netlm reads, the worst case), twice: as an EHR sends it for
netlm's templates (each search its newest 100, `_count=100&_sort=-date`), and as an EHR that
ignores the bound sends it (all 1,500 in the labs slot). And the first call of a fresh app, which
waits for nothing: the UCUM registry is built when the app starts.
"""

import copy
import datetime as dt
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

from netlm.fhir.cds.prefetch import LABS, PATIENT_TOKEN, PREFETCH
from netlm.fhir.cds.routes import cds_store, router
from netlm.fhir.cds.searchset import matches, prefetch_for, searchset
from netlm.settings import Settings
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "tests" / "fhir" / "bundles" / "03-midgut-progressive-on-ssa-sstr4.json"
CASE = ROOT / "examples" / "03-midgut-progressive-on-ssa-sstr4.json"
CALLS, WARM_UP = 500, 50
ROUTINE_LABS = 1500
BASE = "http://testserver"
URL = f"{BASE}/cds-services/netlm-strategy"
ISSUER = "https://ehr.bench.example"


def chart(routine_labs: int = 0) -> list[dict[str, Any]]:
    """Patient v03's resources, with `routine_labs` older copies of its labs (one a day each)."""
    items = [e["resource"] for e in json.loads(BUNDLE.read_text())["entry"]]
    labs = [
        r
        for r in items
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] in LABS
    ]
    newest = dt.date.fromisoformat(labs[0]["effectiveDateTime"][:10])
    for n in range(routine_labs):
        old = copy.deepcopy(labs[n % len(labs)])
        old["id"] = f"{old['id']}-routine-{n}"
        old["effectiveDateTime"] = (newest - dt.timedelta(days=1 + n // len(labs))).isoformat()
        items.append(old)
    return items


def prefetch(items: list[dict[str, Any]], unbounded: bool = False) -> tuple[str, dict[str, Any]]:
    """The prefetch for netlm's templates; `unbounded`: every match in one page, as an EHR that
    ignores `_count` would send it."""
    (patient,) = (r for r in items if r["resourceType"] == "Patient")
    data = prefetch_for(items, patient["id"])
    if unbounded:
        for key, query in PREFETCH.items():
            if "?" in query:
                found = matches(items, query.replace(PATIENT_TOKEN, patient["id"]))
                data[key] = searchset(found)
    return patient["id"], data


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


def hook_body(patient_id: str, data: dict[str, Any]) -> str:
    return json.dumps(
        {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/bench", "patientId": patient_id},
            "prefetch": data,
        }
    )


def report(name: str, times: list[float]) -> None:
    print(
        f"  {name:<44} median {statistics.median(times):6.2f} ms   "
        f"p99 {percentile(times, 0.99):6.2f} ms"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="netlm-bench-cds-") as folder:
        run(Path(folder))  # the database and data folder go with it


def run(workdir: Path) -> None:
    url = f"sqlite:///{workdir / 'netlm.db'}"
    upgrade(url)
    store = Store(create_db_engine(url))
    settings = Settings(
        database_url=url, secret_key="bench-" + "x" * 40, data_dir=workdir, public_url=BASE
    )
    app = create_app(settings, store)
    if not any(getattr(r, "path", "") == "/cds-services" for r in app.routes):
        app.include_router(router)
    key = ec.generate_private_key(ec.SECP384R1())
    public = {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "k1", "alg": "ES384"}
    cds_store(app).add_client(ISSUER, "bench EHR", {"keys": [public]}, [])
    user = store.add_user("bench", "sphinx of black quartz, judge my vow", "clinician")
    api = {"Authorization": f"Bearer {store.create_token(user, 'bench')}"}

    small = hook_body(*prefetch(chart()))
    crowded = chart(ROUTINE_LABS)
    bounded = hook_body(*prefetch(crowded))
    unbounded = hook_body(*prefetch(crowded, unbounded=True))

    def sign() -> str:
        """A fresh JWT (signed before the clock starts: signing is the EHR's cost)."""
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": URL, "iat": now, "exp": now + 600, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, key, algorithm="ES384", headers={"kid": "k1", "typ": "JWT"})

    case = CASE.read_text()
    json_headers = {"Content-Type": "application/json"}

    with TestClient(app, base_url=BASE) as client:

        def hooks(body: str, n: int) -> list[float]:
            tokens = iter([sign() for _ in range(n)])

            def hook(_: int) -> None:
                headers = {**json_headers, "Authorization": f"Bearer {next(tokens)}"}
                response = client.post(URL, content=body, headers=headers)
                assert response.status_code == 200, response.text
                assert response.json()["cards"], "patient-view gave no card"

            return timed(hook, n)

        def peer(_: int) -> None:
            response = client.post("/api/v1/assess", content=case, headers={**api, **json_headers})
            assert response.status_code == 200, response.text

        first = hooks(bounded, 1)
        results: dict[str, list[float]] = {}
        for name, body in (
            ("patient-view, v03 (20-odd resources)", small),
            (f"patient-view, v03 + {ROUTINE_LABS} labs, bounded", bounded),
            (f"patient-view, v03 + {ROUTINE_LABS} labs, all sent", unbounded),
        ):
            hooks(body, WARM_UP)
            results[name] = hooks(body, CALLS)
        timed(peer, WARM_UP)
        results["POST /api/v1/assess (peer, v03)"] = timed(peer, CALLS)

    print(f"CDS Hooks patient-view, full prefetch, in process (TestClient), {CALLS} calls each")
    print(f"  first call of a fresh app ({ROUTINE_LABS} labs, bounded): {first[0]:.1f} ms")
    for name, times in results.items():
        report(name, times)
    ratio = statistics.median(results[next(iter(results))]) / statistics.median(
        results["POST /api/v1/assess (peer, v03)"]
    )
    print(f"  patient-view / assess (median, v03): {ratio:.2f}")
    for name, times in results.items():
        if "labs" in name:
            met = "met" if percentile(times, 0.99) < 100 else "NOT met"
            print(f"  target p99 < 100 ms, {name.split(', ', 1)[1]}: {met}")


if __name__ == "__main__":
    main()
