"""The set-up a newcomer runs: the system-package script, the lock file, the Makefile's options
and the tests' private PostgreSQL cluster (started and stopped, nothing left behind)."""

import os
import re
import subprocess
import tomllib
from pathlib import Path

import psycopg
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from sqlalchemy import make_url

from tests.conftest import ROOT
from tests.postgres import private_cluster

SCRIPT = ROOT / "scripts" / "system-deps.sh"


def _without_packages(tmp_path: Path) -> dict[str, str]:
    """A non-root user (uid 1000) on a machine where dpkg-query knows no installed package."""
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, script in (("dpkg-query", "exit 1"), ("id", "echo 1000")):
        (fake / name).write_text(f"#!/bin/sh\n{script}\n")
        (fake / name).chmod(0o755)
    return {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}


def test_missing_packages_are_named_in_one_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(SCRIPT), "check", "pdf", "test", "postgres-server"],
        capture_output=True, text=True, env=_without_packages(tmp_path),
    )  # fmt: skip
    packages = (
        "libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk chromium poppler-utils "
        "postgresql-client postgresql"
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"netlm needs these Debian packages, which are not installed: {packages}",
        f"install them as root: apt-get install --no-install-recommends {packages}",
    ]


def test_without_root_make_run_only_advises_about_the_pdf_packages(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(SCRIPT), "advise", "pdf"], capture_output=True, text=True,
        env=_without_packages(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0
    assert result.stderr == (
        "note: the PDF report will need the Debian packages: libpango-1.0-0 libpangoft2-1.0-0 "
        "fonts-noto-cjk (the rest works without them)\n"
    )


def test_unknown_group_is_refused() -> None:
    result = subprocess.run([str(SCRIPT), "check", "nonsense"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("unknown group: nonsense")


def test_the_lock_pins_every_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *(r for e in project["optional-dependencies"].values()
                                          for r in e)]  # fmt: skip
    lock = (ROOT / "requirements" / "lock.txt").read_text()
    pinned = {canonicalize_name(m[1]): m[2] for m in re.finditer(r"^([\w.-]+)==(\S+)", lock, re.M)}
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name == canonicalize_name(project["name"]):
            continue  # netlm[spark] in dev: the spark extra is checked on its own
        assert name in pinned, f"{name} is not in the lock: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{name}=={pinned[name]} does not satisfy {requirement}: run `make lock`"
        )
    assert lock.count("--hash=sha256:") >= len(pinned), "every pin carries its hashes"


def test_make_run_takes_port_and_host() -> None:
    result = subprocess.run(
        ["make", "-n", "run", "PORT=8123", "HOST=0.0.0.0"], capture_output=True, text=True,
        cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "netlm serve --demo --host 0.0.0.0 --port 8123" in result.stdout
    assert "http://0.0.0.0:8123" in result.stdout


def test_the_private_cluster_leaves_nothing_behind() -> None:
    with private_cluster() as url:
        folder = Path(make_url(url).query["host"])  # type: ignore[arg-type]
        with psycopg.connect(host=str(folder), user="netlm", dbname="netlm_test") as connection:
            assert connection.execute("SELECT current_setting('listen_addresses')").fetchone() == (
                "",
            ), "no TCP port"
        pid = int((folder / "data" / "postmaster.pid").read_text().split()[0])
        assert Path(f"/proc/{pid}").exists()
    assert not folder.exists()
    assert not Path(f"/proc/{pid}").exists() or "postgres" not in Path(
        f"/proc/{pid}/cmdline"
    ).read_text(errors="replace"), "the server was stopped"
