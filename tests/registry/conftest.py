"""Registry fixtures: synthetic and random registries, one local Spark session for the run, and
one Spark standalone cluster (a master and two workers, each its own JVM).

Spark needs Java and pyspark (installed by `make test`); without them the Spark tests fail with
the reason, they never skip.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from netlm.model.case import Case
from netlm.registry.format import row_from_case
from netlm.registry.synth import arrow_schema
from tests.registry.generate import CaseGenerator

NETLM = Path(sys.executable).parent / "netlm"


def random_registry(path: Path, n: int, seed: int) -> list[Case]:
    """`n` random valid cases written as a registry; returns the cases in row order."""
    generator = CaseGenerator(seed)
    cases = [Case.model_validate(generator.case(i)) for i in range(n)]
    rows = [row_from_case(c) for c in cases]
    pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema()), path)
    return cases


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from netlm.registry.engines import spark_session

    session = spark_session("local[2]")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@dataclass
class SparkCluster:
    """A standalone master at `url`, its state as JSON at `json_url`, and the work folder of
    each worker (where the executors it starts keep one folder per application)."""

    url: str
    json_url: str
    work_dirs: list[Path]
    root: Path

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.json_url, timeout=10) as answer:
            state: dict[str, Any] = json.load(answer)
        return state

    def finished_apps(self) -> dict[str, str]:
        """Application id -> name, of the applications that ended."""
        return {app["id"]: app["name"] for app in self.state()["completedapps"]}

    def tasks_per_worker(self, app: str) -> list[int]:
        """How many tasks the executors of each worker finished for `app` (from their logs)."""
        return [
            sum(log.read_text(errors="replace").count("Finished task") for log in
                (work / app).glob("*/stderr"))
            for work in self.work_dirs
        ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _stop(processes: list[subprocess.Popen[bytes]]) -> list[str]:
    """SIGTERM to each process group (a worker's executors are in its group), SIGKILL to any
    left after 20 s; returns the groups that still had a process."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    left = []
    for process in processes:
        while time.monotonic() < deadline and _group_alive(process.pid):
            process.poll()
            time.sleep(0.2)
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            left.append(str(process.args))
        process.wait(10)
    return left


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkCluster]:
    """A Spark standalone cluster from pyspark's own distribution: `spark-class` starts a master
    and two workers (1 core, 1 GiB each) on 127.0.0.1, each a separate process group; ready
    once both workers are registered, stopped (with every executor) at the end."""
    import pyspark

    home = Path(pyspark.__file__).parent
    spark_class = home / "bin" / "spark-class"
    if not spark_class.is_file():
        pytest.fail(f"the cluster tests need {spark_class} (pip install pyspark)")
    root = tmp_path_factory.mktemp("spark-cluster")
    (root / "conf").mkdir()  # no spark-defaults.conf or spark-env.sh from elsewhere
    env = os.environ | {
        "SPARK_HOME": str(home),
        "SPARK_CONF_DIR": str(root / "conf"),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOCAL_DIRS": str(root / "scratch"),
        "SPARK_DAEMON_MEMORY": "512m",
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
    }
    port, webui = _free_port(), _free_port()
    url, work_dirs = f"spark://127.0.0.1:{port}", [root / "worker-1", root / "worker-2"]
    commands = [
        ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
         "--webui-port", str(webui)],
        *(["org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--webui-port",
           "0", "--cores", "1", "--memory", "1g", "--work-dir", str(work)] for work in work_dirs),
    ]  # fmt: skip
    processes: list[subprocess.Popen[bytes]] = []
    for command, log in zip(commands, ("master", "worker-1", "worker-2"), strict=True):
        with (root / f"{log}.log").open("wb") as out:
            processes.append(subprocess.Popen(
                [str(spark_class), *command], env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True))  # fmt: skip
    cluster = SparkCluster(url, f"http://127.0.0.1:{webui}/json", work_dirs, root)
    try:
        deadline, alive = time.monotonic() + 180, 0
        while alive < 2:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                logs = [f"{p.name}: {p.read_text()[-2000:]}" for p in root.glob("*.log")]
                pytest.fail("the Spark cluster did not start:\n" + "\n".join(logs))
            time.sleep(0.5)
            try:
                alive = int(cluster.state()["aliveworkers"])
            except OSError:  # the master's web UI is not up yet
                alive = 0
        yield cluster
    finally:
        left = _stop(processes)
        assert not left, f"Spark processes left running: {left}"
