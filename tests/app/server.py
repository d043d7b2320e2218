"""`netlm serve` in its own process on a free port of 127.0.0.1, for tests that need a real
server (a browser, or a second client while the first one misbehaves)."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx2

from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_with_dr_li(data: Path) -> tuple[str, Store]:
    """A migrated SQLite database in `data`, its URL and a store on it, holding Dr Li: a
    clinician who signs in with her hospital account (her password is never used)."""
    url = f"sqlite:///{data / 'netlm.db'}"
    upgrade(url)
    store = Store(create_db_engine(url))
    store.add_user("dr.li", "a password she never uses", "clinician", display_name="Dr Li")
    return url, store


@contextmanager
def served(
    data: Path, database_url: str, extra_env: Mapping[str, str] = {}, args: Sequence[str] = ()
) -> Iterator[str]:
    """The server's base URL once `/healthz` answers; the server stops when the block ends.
    `extra_env` adds to its environment (e.g. single sign-on's provider), `args` to `netlm serve`
    (e.g. `--demo`, which `make run` uses); what it prints is in `data`/server.log."""
    port = free_port()
    env = {**os.environ, "NETLM_DATABASE_URL": database_url, "NETLM_DATA_DIR": str(data),
           **extra_env}  # fmt: skip
    log_path = data / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "netlm", "serve", "--port", str(port), *args],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                time.sleep(0.2)
        else:
            proc.kill()
            raise RuntimeError(f"server did not start: {log_path.read_text()!r}")
        try:
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)
