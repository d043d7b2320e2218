"""`make test` leaves nothing in /tmp: a passing run removes its tmp_path folders."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_a_passing_run_leaves_no_tmp_path_folder(tmp_path: Path) -> None:
    tests = tmp_path / "inner"
    tests.mkdir()
    (tests / "test_inner.py").write_text(
        "def test_writes(tmp_path, tmp_path_factory):\n"
        "    (tmp_path / 'x').write_text('x')\n"
        "    (tmp_path_factory.mktemp('shared') / 'y').write_text('y')\n",
        encoding="utf-8",
    )
    temp = tmp_path / "tmp"
    temp.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
         str(ROOT / "pyproject.toml"), "--rootdir", str(tests), str(tests)],
        capture_output=True, text=True, timeout=120, cwd=tests,
        env={**os.environ, "TMPDIR": str(temp), "PYTEST_DEBUG_TEMPROOT": str(temp)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    left = [p for p in temp.rglob("*") if p.name.startswith("pytest-") and p.name[7:].isdigit()]
    assert left == []
