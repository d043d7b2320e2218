"""scripts/demo_ehr.py with no server where it looks: a message naming --base, no traceback."""

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_no_server_names_base_and_registers_nothing(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chart = ROOT / "examples" / "fhir" / "03-midgut-progressive-on-ssa-sstr4.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo_ehr.py"), str(chart),
         "--base", f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "NETLM_DATA_DIR": str(tmp_path / "data")},
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"no netlm server answers at http://127.0.0.1:{port}" in done.stderr
    assert "--base" in done.stderr
    assert not (tmp_path / "data" / "demo-ehr").exists()
