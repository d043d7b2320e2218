"""A private PostgreSQL cluster for one test session: made in a temporary folder, listening only on
a Unix socket in that folder, stopped and deleted when the session ends.

Nothing on the machine is started, changed or left running: no system service, no role in the
system cluster, no TCP port. As root the server runs as the unprivileged `postgres` user (the
Debian package creates it; PostgreSQL refuses to run as root); otherwise as the invoking user.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

MISSING = (
    "PostgreSQL's server programs (initdb, pg_ctl) were not found. Install the Debian package "
    "`postgresql` (as root: apt-get install postgresql; `make test` does this when run as root), "
    "or set NETLM_TEST_POSTGRES_URL to a PostgreSQL database the tests may empty."
)
DATABASE = "netlm_test"
ROLE = "netlm"
SETTINGS = (
    "listen_addresses = ''",  # no TCP port: nothing to collide with, nothing reachable
    "fsync = off",  # a throw-away cluster: durability costs time and buys nothing
    "synchronous_commit = off",
    "full_page_writes = off",
    "max_connections = 50",
)


class ClusterError(Exception):
    """The private cluster could not be made or started; the message says why."""


def server_bin() -> Path:
    """The folder of the newest installed PostgreSQL server programs."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise ClusterError(MISSING)


@contextmanager
def private_cluster() -> Iterator[str]:
    """Start a cluster in a new temporary folder; yield a SQLAlchemy URL to an empty database."""
    bindir = server_bin()
    owner = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="netlm-pg-"))
    data = folder / "data"
    try:
        if owner is not None:
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        _run(owner, [bindir / "initdb", "-D", data, "-U", ROLE, "--auth=trust", "-E", "UTF8",
                     "--no-sync", "--no-instructions"])  # fmt: skip
        settings = [*SETTINGS, f"unix_socket_directories = '{folder}'"]
        with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n".join(settings) + "\n")
        _run(owner, [bindir / "pg_ctl", "-D", data, "-l", folder / "server.log", "-w", "start"])
        try:
            with psycopg.connect(host=str(folder), user=ROLE, dbname="postgres") as connection:
                connection.autocommit = True
                connection.execute(f"CREATE DATABASE {DATABASE}")
            yield f"postgresql+psycopg://{ROLE}@/{DATABASE}?host={folder}"
        finally:
            _run(owner, [bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _server_user() -> pwd.struct_passwd | None:
    """The user the server runs as: None for the invoking user, `postgres` for root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ClusterError(
            "running as root, but there is no `postgres` user to run the server as "
            "(PostgreSQL refuses to run as root): install the Debian package `postgresql`"
        ) from None


def _run(owner: pwd.struct_passwd | None, command: list[str | Path]) -> None:
    as_user = {} if owner is None else {"user": owner.pw_uid, "group": owner.pw_gid,
                                        "extra_groups": [], "cwd": "/"}  # fmt: skip
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL, check=False, **as_user,  # type: ignore[arg-type]
    )  # fmt: skip
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise ClusterError(f"{Path(str(command[0])).name} failed: {' / '.join(tail)}")
