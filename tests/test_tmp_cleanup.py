"""`make test` leaves nothing in /tmp: the run's temporary folders (tmp_path, tmp_path_factory)
are in one folder of its own, removed when no test failed; a failed test's folder is kept and
named. Checked on a pytest run of its own, with the suite's settings and conftest hooks, in a
temporary folder standing for /tmp."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def _pytest(tmp_path: Path, test: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run one test file with the suite's pyproject.toml and conftest hooks; returns the run and
    the folder standing for /tmp."""
    tests = tmp_path / "inner"
    tests.mkdir()
    (tests / "test_inner.py").write_text(test, encoding="utf-8")
    temp = tmp_path / "tmp"
    temp.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tests), str(tests)],
        capture_output=True, text=True, timeout=120, cwd=tests,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(temp),
             "PYTEST_DEBUG_TEMPROOT": str(temp)},
    )  # fmt: skip
    return done, temp


WRITES = (
    "def test_writes(tmp_path, tmp_path_factory):\n"
    "    (tmp_path / 'x').write_text('x')\n"
    "    (tmp_path_factory.mktemp('shared') / 'y').write_text('y')\n"
)


def test_a_passing_run_leaves_nothing_in_tmp(tmp_path: Path) -> None:
    done, temp = _pytest(tmp_path, WRITES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(temp.iterdir()) == [], "not even an empty pytest-of-<user>"


def test_a_failing_run_keeps_the_folder_and_names_it(tmp_path: Path) -> None:
    done, temp = _pytest(tmp_path, WRITES + "    assert False\n")
    assert done.returncode == 1, done.stdout + done.stderr
    (kept,) = temp.iterdir()
    assert kept.name.startswith("netlm-tests-")
    assert f"the failed tests' temporary folders are kept in {kept}" in done.stdout
    assert (kept / "test_writes0" / "x").read_text() == "x"
