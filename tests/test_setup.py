"""The set-up a newcomer runs: the system-package script, the lock file, the Makefile's options
and the tests' private PostgreSQL cluster (started and stopped, nothing left behind)."""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
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


def _root_with_busy_apt(tmp_path: Path, timeout: int) -> tuple[dict[str, str], Path, Path]:
    """Root on a machine missing every package, whose apt-get only records its arguments, and a
    lock file standing for dpkg's; returns the environment, the lock and apt-get's record."""
    env = _without_packages(tmp_path)
    fake, lock, record = tmp_path / "bin", tmp_path / "lock-frontend", tmp_path / "apt-get.log"
    (fake / "id").write_text("#!/bin/sh\necho 0\n")
    (fake / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> {record}\n')
    (fake / "apt-get").chmod(0o755)
    lock.touch()
    env |= {"NETLM_APT_LOCKS": str(lock), "NETLM_APT_LOCK_TIMEOUT": str(timeout)}
    return env, lock, record


def _hold(lock: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding a POSIX lock on the file as dpkg does, for a while."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'w'); "
         "fcntl.lockf(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(float(sys.argv[2]))",
         str(lock), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n"
    return holder


def test_install_waits_for_apt_then_proceeds(tmp_path: Path) -> None:
    env, lock, record = _root_with_busy_apt(tmp_path, timeout=60)
    holder = _hold(lock, 2)
    name = Path(f"/proc/{holder.pid}/comm").read_text().strip()
    started = time.monotonic()
    result = subprocess.run([str(SCRIPT), "install", "bench"], capture_output=True, text=True,
                            env=env, timeout=60)  # fmt: skip
    holder.wait()
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 1.5, "it waited for the lock"
    assert f"waiting for apt: {lock} is held by process {holder.pid} ({name})" in result.stderr
    assert record.read_text().splitlines() == [
        "update -q",
        "install -y -q --no-install-recommends -o DPkg::Lock::Timeout=60 wrk",
    ]


def test_install_names_the_process_when_apt_stays_busy(tmp_path: Path) -> None:
    env, lock, record = _root_with_busy_apt(tmp_path, timeout=1)
    holder = _hold(lock, 30)
    try:
        result = subprocess.run([str(SCRIPT), "install", "bench"], capture_output=True,
                                text=True, env=env, timeout=30)  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert f"apt is still busy after 1 s: {lock} is held by process {holder.pid}" in result.stderr
    assert "NETLM_APT_LOCK_TIMEOUT" in result.stderr
    assert not record.exists(), "nothing was installed"


def test_make_run_starts_when_the_pdf_packages_cannot_be_installed(tmp_path: Path) -> None:
    """`make run` asks for the PDF packages in advise mode, which exits 0 when apt stays busy or
    fails, so that make goes on to serve."""
    planned = subprocess.run(["make", "-n", "run"], capture_output=True, text=True, cwd=ROOT)
    assert "scripts/system-deps.sh advise pdf\n" in planned.stdout
    assert "system-deps.sh install" not in planned.stdout
    env, lock, _record = _root_with_busy_apt(tmp_path, timeout=1)
    holder = _hold(lock, 30)
    try:
        busy = subprocess.run([str(SCRIPT), "advise", "pdf"], capture_output=True, text=True,
                              env=env, timeout=30)  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    (tmp_path / "bin" / "apt-get").write_text(
        "#!/bin/sh\necho 'E: Unable to locate package' >&2\nexit 100\n"
    )
    failing = subprocess.run([str(SCRIPT), "advise", "pdf"], capture_output=True, text=True,
                             env=env, timeout=30)  # fmt: skip
    for result in (busy, failing):
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines()[-1] == (
            "note: the PDF report's Debian packages were not installed (libpango-1.0-0 "
            "libpangoft2-1.0-0 fonts-noto-cjk); netlm starts without them and the PDF report "
            "names what is missing. Install them later: scripts/system-deps.sh install pdf"
        )


def _private_apt(folder: Path, dpkg: Path) -> Path:
    """An apt configuration of the test's own: no package source (`apt-get update` reads nothing
    from the network) and its own lists, cache and auto/manual marks, so that nothing of the
    machine's apt state changes; dpkg's database and its locks are those in `dpkg`."""
    for sub in ("sources.list.d", "lists/partial", "cache/archives/partial"):
        (folder / sub).mkdir(parents=True)
    (folder / "sources.list").touch()
    conf = folder / "apt.conf"
    conf.write_text(
        f'Dir::Etc::SourceList "{folder}/sources.list";\n'
        f'Dir::Etc::SourceParts "{folder}/sources.list.d";\n'
        f'Dir::State::Lists "{folder}/lists";\n'
        f'Dir::State::extended_states "{folder}/extended_states";\n'
        f'Dir::State::status "{dpkg}/status";\n'
        f'Dir::Cache "{folder}/cache";\n'
    )
    return conf


def _installed_group() -> str:
    """A group of packages this machine has (make test installs pdf, test and spark first)."""
    for group in ("spark", "pdf", "build"):
        listed = subprocess.run([str(SCRIPT), "list", group], capture_output=True, text=True)
        query = subprocess.run(["dpkg-query", "-W", "-f=${Status}\n", *listed.stdout.split()],
                               capture_output=True, text=True)  # fmt: skip
        if query.returncode == 0 and "not-installed" not in query.stdout:
            return group
    raise AssertionError("none of the spark, pdf or build packages is installed")


def test_install_waits_for_the_real_dpkg_lock(tmp_path: Path) -> None:
    """apt's own lock, held as apt holds it (an fcntl write lock on lock-frontend and lock) for
    3 s: the script says it waits, naming the process, then the real apt-get runs. As root these
    are dpkg's locks in /var/lib/dpkg; as another user, a copy of dpkg's database in tmp_path
    (apt-get takes the locks beside it) stands in, named by NETLM_APT_LOCKS, and `id` says root.
    dpkg-query says nothing is installed, so that there is something to install; apt-get then
    finds every package installed already and changes nothing."""
    env = _without_packages(tmp_path)
    (tmp_path / "bin" / "id").write_text("#!/bin/sh\necho 0\n")
    if os.geteuid() == 0:
        dpkg = Path("/var/lib/dpkg")
    else:
        dpkg = tmp_path / "dpkg"
        dpkg.mkdir()
        shutil.copy("/var/lib/dpkg/status", dpkg)
        env["NETLM_APT_LOCKS"] = f"{dpkg}/lock-frontend {dpkg}/lock"
    env |= {"APT_CONFIG": str(_private_apt(tmp_path / "apt", dpkg)),
            "NETLM_APT_LOCK_TIMEOUT": "60"}  # fmt: skip
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time\n"
         "files = [open(f'{sys.argv[1]}/{name}', 'a') for name in ('lock-frontend', 'lock')]\n"
         "for f in files:\n"
         "    while True:  # F_SETLK, as apt: wait while a real apt holds it\n"
         "        try:\n"
         "            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
         "            break\n"
         "        except OSError:\n"
         "            time.sleep(0.2)\n"
         "print('held', flush=True)\n"
         "time.sleep(3)\n", str(dpkg)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        name = Path(f"/proc/{holder.pid}/comm").read_text().strip()
        started = time.monotonic()
        result = subprocess.run([str(SCRIPT), "install", _installed_group()], capture_output=True,
                                text=True, env=env, timeout=60)  # fmt: skip
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 0, result.stderr
    assert f"waiting for apt: {dpkg}/lock-frontend is held by process {holder.pid} ({name})" in (
        result.stderr
    )
    assert waited >= 2, "it waited for the lock"
    assert "is already the newest version" in result.stderr, "the real apt-get ran"


def test_ci_installs_python_and_make_on_a_bare_machine_through_the_lock_wait(
    tmp_path: Path,
) -> None:
    """.ci/run on a machine without Python or make, apt busy for a moment: it waits, installs the
    build group, then runs make test (apt-get and make only record what they were asked)."""
    env, lock, record = _root_with_busy_apt(tmp_path, timeout=60)
    bare = tmp_path / "bare"
    bare.mkdir()
    for tool in ("bash", "dirname", "grep", "awk", "stat", "cat", "sleep"):
        (bare / tool).symlink_to(shutil.which(tool) or tool)
    for tool in ("dpkg-query", "id", "apt-get"):
        (bare / tool).symlink_to(tmp_path / "bin" / tool)
    (bare / "make").write_text(f'#!/bin/sh\necho "make $*" >> {record}\n')
    (bare / "make").chmod(0o755)
    holder = _hold(lock, 2)
    result = subprocess.run(["/bin/sh", "-c", f"exec {ROOT / '.ci' / 'run'}"], capture_output=True,
                            text=True, env={**env, "PATH": str(bare)}, timeout=60)  # fmt: skip
    holder.wait()
    assert result.returncode == 0, result.stderr
    assert f"waiting for apt: {lock} is held by process {holder.pid}" in result.stderr
    assert record.read_text().splitlines() == [
        "update -q",
        "install -y -q --no-install-recommends -o DPkg::Lock::Timeout=60 python3 python3-venv "
        "python3-pip make",
        "make test",
    ]


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


def test_make_run_says_how_to_run_netlm() -> None:
    result = subprocess.run(["make", "-n", "run"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert ".venv/bin/netlm --help, or '. .venv/bin/activate' and then netlm --help" in (
        result.stdout
    )


def test_a_wheel_installs_netlm_on_its_own(tmp_path: Path) -> None:
    """What `pipx install .` and `uv tool install .` do: build a wheel from the source and install
    it in a venv of its own, where `netlm` runs from any folder. The dependencies are taken from
    .venv (a .pth file) instead of installed again, which would take minutes; the wheel is
    built from a copy so that the build leaves nothing in the checkout. About 20 s (pip fetches
    setuptools for the isolated build)."""
    source = tmp_path / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source)
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "--wheel-dir", tmp_path / "dist", source],
                   check=True)  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("netlm-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    subprocess.run([*pip, "--python", python, "install", "--no-deps", wheel], check=True)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (Path(site) / "netlm-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    def netlm(*args: str) -> str:
        run = subprocess.run([venv / "bin" / "netlm", *args], capture_output=True, text=True,
                             cwd=tmp_path, env={**os.environ, "PATH": "/usr/bin:/bin"})  # fmt: skip
        assert run.returncode == 0, run.stderr
        return run.stdout

    assert netlm("--version").startswith("netlm 0.2.0 (knowledge base ")
    where = subprocess.run([python, "-c", "import netlm; print(netlm.__file__)"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert where.startswith(site), "the wheel's netlm, not the checkout's"
    example = json.loads(
        netlm(
            "assess",
            str(ROOT / "examples" / "01-ileal-g1-type1-resectable.json"),
            "--format",
            "json",
        )
    )
    assert example["schema"] == "netlm.assessment/1", "the knowledge base travels in the wheel"


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
