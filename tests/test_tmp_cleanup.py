"""`make test` leaves nothing in /tmp: the run's temporary folders (tmp_path, tmp_path_factory)
are in one folder of its own, removed when no test failed; a failed test's folder is kept and
named; the folder a JVM (Spark's) leaves is removed when the run made it. Checked on pytest runs
of their own, with the suite's settings and conftest hooks, in a temporary folder standing for
/tmp, and in a /tmp of their own (a private mount)."""

import os
import shutil
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


def test_a_run_starting_a_jvm_leaves_a_fresh_tmp_empty(tmp_path: Path) -> None:
    """On a fresh machine's empty /tmp (an empty tmpfs mounted on /tmp for this run only, in a
    mount namespace of its own; as another user, a user namespace maps it to root), a test that
    starts Java, as Spark does, and writes its tmp_path: afterwards /tmp is empty."""
    java = shutil.which("java")
    assert java, "Java is required (scripts/system-deps.sh install spark)"
    tests = tmp_path / "inner"
    tests.mkdir()
    (tests / "test_inner.py").write_text(
        "import subprocess\n"
        "def test_writes(tmp_path):\n"
        "    (tmp_path / 'x').write_text('x')\n"
        f"    subprocess.run([{java!r}, '-version'], check=True)\n",
        encoding="utf-8",
    )
    pytest = (f"{sys.executable} -m pytest -q -p no:cacheprovider -p tests.conftest "
              f"-c {ROOT / 'pyproject.toml'} --rootdir . .")  # fmt: skip
    # The test folder is under /tmp, which the empty one hides: copied into it, then removed. A
    # checkout or Python under /tmp (a CI clone there) stays visible: its folder, opened before
    # the mount, is bound back for the run and taken away before /tmp is listed.
    kept = _under_tmp([ROOT, Path(sys.prefix), Path(sys.base_prefix), Path(java).resolve()])
    opened = " ".join(f"{3 + i}<{folder}" for i, folder in enumerate(kept))
    bound = "".join(f" && mkdir {folder} && mount --no-canonicalize --bind /proc/self/fd/{3 + i} {folder}"
                    for i, folder in enumerate(kept))  # fmt: skip
    unbound = "".join(f" && umount {folder} && rmdir {folder}" for folder in kept)
    script = (f"cd {tests} && exec {opened} && mount -t tmpfs tmpfs /tmp{bound} && cp -r . "
              f"/tmp/inner && cd /tmp/inner && {pytest} && cd / && rm -r /tmp/inner{unbound} "
              f"&& find /tmp -mindepth 1")  # fmt: skip
    private = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        private.append("--map-root-user")
    env = {k: v for k, v in os.environ.items() if k not in ("TMPDIR", "PYTEST_DEBUG_TEMPROOT")}
    done = subprocess.run([*private, "bash", "-c", script], capture_output=True, text=True,
                          timeout=300, env={**env, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 passed"), done.stdout
    assert "/tmp/" not in done.stdout, "left in /tmp"


def _under_tmp(paths: list[Path]) -> list[Path]:
    """The folders directly in /tmp that hold any of `paths`."""
    tmp = Path("/tmp")
    tops = {tmp / p.resolve().relative_to(tmp).parts[0] for p in paths
            if p.resolve().is_relative_to(tmp) and p.resolve() != tmp}  # fmt: skip
    return sorted(tops)
