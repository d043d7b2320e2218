"""HTTP load benchmark of the application (run by `make bench`; not a test).

Starts `netlm serve` on loopback with a fresh embedded store, then drives it from a second
process with wrk at 50 concurrent connections:
  - POST /api/v1/assess (a case in, an assessment out), the number that matters, two ways:
    50 clients that each send their next request as soon as the last is answered (saturation:
    maximum throughput; latency is then mostly queueing, 50 / throughput by Little's law), and
    50 clients that pause 40-120 ms (random, mean 80) between requests (a paced load above
    500 requests/s, not in lock-step: the latency
    a client sees at the target load);
  - GET /healthz beside it, the framework floor of the same server (the peer: what FastAPI and
    uvicorn cost with no clinical work), reported as a ratio;
and times the tumour-board PDF report (GET /api/v1/cases/{id}/report.pdf) in both languages.
Targets: >= 500 requests/s with p99 < 50 ms on this 2-core machine; PDF < 2 s.
"""

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "examples" / "03-midgut-progressive-on-ssa-sstr4.json"
DURATION, CONNECTIONS = "15s", 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(url: str, script: Path | None) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", url]
    if script:
        args[1:1] = ["-s", str(script)]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out)
        if not match:
            raise RuntimeError(f"wrk output without {label}:\n{out}")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": ms(" 50%"), "p99": ms(" 99%"),
            "non2xx": float(errors.group(1)) if errors else 0.0}  # fmt: skip


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is required: scripts/system-deps.sh bench")
    with tempfile.TemporaryDirectory(prefix="netlm-bench-") as folder:
        run(Path(folder))  # the database and data folder go with it


def run(workdir: Path) -> None:
    url = f"sqlite:///{workdir / 'netlm.db'}"
    upgrade(url)
    store = Store(create_db_engine(url))
    user = store.add_user("bench", "sphinx of black quartz, judge my vow", "clinician")
    token = store.create_token(user, "bench")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NETLM_DATABASE_URL": url, "NETLM_DATA_DIR": str(workdir)}
    netlm = str(Path(sys.executable).parent / "netlm")
    server = subprocess.Popen(
        [netlm, "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.2)
        body = CASE.read_text()
        script = workdir / "assess.lua"
        request = (
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(body)}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {token}"\n'
        )
        script.write_text(request)
        paced = workdir / "assess_paced.lua"
        paced.write_text(request + "function delay() return math.random(40, 120) end\n")
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx2.post(f"{base}/api/v1/assess", content=body, headers={
            **auth, "Content-Type": "application/json"}).status_code == 200  # fmt: skip

        print(
            f"HTTP load: netlm serve --workers 2 on loopback; wrk -t1 -c{CONNECTIONS} -d{DURATION}"
        )
        assess = wrk(f"{base}/api/v1/assess", script)
        at_target = wrk(f"{base}/api/v1/assess", paced)
        floor = wrk(f"{base}/healthz", None)
        for name, r in (
            ("POST /api/v1/assess, saturation", assess),
            ("POST /api/v1/assess, paced ~80 ms", at_target),
            ("GET /healthz (framework floor)", floor),
        ):
            print(f"  {name:<34} {r['rps']:6.0f} req/s   p50 {r['p50']:7.2f} ms   "
                  f"p99 {r['p99']:7.2f} ms   non-2xx {r['non2xx']:.0f}")  # fmt: skip
        print(f"  assess / floor throughput at saturation: {assess['rps'] / floor['rps']:.2f}")
        met = at_target["rps"] >= 500 and at_target["p99"] < 50
        print(f"  target >= 500 req/s with p99 < 50 ms (paced load): {'met' if met else 'NOT met'}")

        created = httpx2.post(f"{base}/api/v1/cases", content=body,
                             headers={**auth, "Content-Type": "application/json"})  # fmt: skip
        case_id = created.json()["case_id"]
        for lang in ("en", "zh"):
            times = []
            for _ in range(5):
                start = time.perf_counter()
                response = httpx2.get(f"{base}/api/v1/cases/{case_id}/report.pdf?lang={lang}",
                                     headers=auth, timeout=30)  # fmt: skip
                times.append(time.perf_counter() - start)
                assert response.status_code == 200
            size = len(response.content) // 1024
            print(f"  report.pdf [{lang}]  median {statistics.median(times):.2f} s   "
                  f"max {max(times):.2f} s   ({size} KiB; target < 2 s)")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
