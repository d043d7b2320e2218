"""Spark on a real cluster, not local mode: a standalone master and two workers, each its own JVM
(`spark_cluster`); `netlm registry` and `netlm survival` run with `--engine spark --master
spark://…` and their executors, started by the workers, read the registry from and write the
output parts to a folder that the driver and the workers share. The results are DuckDB's.
"""

import json
import math
import os
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from netlm.registry.synth import synthesise
from netlm.spark import SparkSetupError, conf_pairs, master_url, reachable
from tests.registry.conftest import NETLM, SparkCluster

# Both executors registered before the first job, so each has tasks; few shuffle partitions
# for a small registry. Given as NETLM_SPARK_CONF, as a site would set its own.
CLUSTER_CONF = "spark.scheduler.minRegisteredResourcesRatio=1.0 spark.sql.shuffle.partitions=4"


@pytest.fixture(scope="module")
def registry(spark_cluster: SparkCluster) -> Path:
    path = spark_cluster.root / "shared" / "registry.parquet"
    path.parent.mkdir()
    synthesise(2000, 11, path)
    return path


def netlm(*args: str | Path, cluster: SparkCluster | None = None, cwd: Path | None = None) -> str:
    """Run netlm (on the cluster when given) and return its stdout; a failure shows stderr."""
    env = os.environ | {"NETLM_SPARK_CONF": CLUSTER_CONF}
    spark = ["--engine", "spark", "--master", cluster.url] if cluster else []
    done = subprocess.run([str(NETLM), *map(str, args), *spark], capture_output=True, text=True,
                          env=env, check=False, timeout=1800, cwd=cwd)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def on_both_workers(cluster: SparkCluster, before: dict[str, str], name: str) -> None:
    """The one application run since `before` had tasks finished by the executors of both
    workers (the master lists an application once its driver has gone)."""
    deadline = time.monotonic() + 120
    while not (apps := set(cluster.finished_apps()) - set(before)):
        assert time.monotonic() < deadline, "the application did not end on the master"
        time.sleep(0.5)
    (app,) = apps
    assert cluster.finished_apps()[app] == name
    tasks = cluster.tasks_per_worker(app)
    assert all(count > 0 for count in tasks), f"finished tasks per worker: {tasks}"


def close(left: Any, right: Any) -> bool:
    """The same JSON, numbers to 1e-9 (Spark sums in another order)."""
    if isinstance(left, float) and isinstance(right, float):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(close(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(close, left, right))
    return bool(left == right)


def test_assess_on_the_cluster_equals_duckdb(spark_cluster: SparkCluster, registry: Path) -> None:
    """The executors write the assessment's parts to the shared folder, the driver joins them."""
    shared = registry.parent
    netlm("registry", "assess", registry, "--out", shared / "duckdb.parquet")
    before = spark_cluster.finished_apps()
    here = spark_cluster.root / "here"
    here.mkdir()
    netlm("registry", "assess", registry, "--out", shared / "spark.parquet", cluster=spark_cluster,
          cwd=here)  # fmt: skip
    on_both_workers(spark_cluster, before, "netlm-registry")
    assert list(here.iterdir()) == []  # no spark-warehouse/ where the command ran
    rows = pq.read_table(shared / "spark.parquet").to_pylist()
    assert rows == pq.read_table(shared / "duckdb.parquet").to_pylist()
    assert len(rows) == 2000


def test_survival_on_the_cluster_matches_duckdb(
    spark_cluster: SparkCluster, registry: Path
) -> None:
    """Kaplan-Meier by centre (the audit and Cox on Spark: test_spark.py and
    survival/test_spark.py, in local mode)."""
    command = ["survival", "km", registry, "--time", "followup_months", "--event", "death",
               "--by", "center", "--format", "json"]  # fmt: skip
    duck = json.loads(netlm(*command))
    before = spark_cluster.finished_apps()
    sparked = json.loads(netlm(*command, cluster=spark_cluster))
    on_both_workers(spark_cluster, before, "netlm-survival")
    assert close(sparked, duck), (sparked, duck)


@pytest.mark.parametrize(
    "master",
    ["local", "local[1]", "local[*]", "local[4,2]", "spark://h:7077", "spark://a:7077,b:7078",
     "yarn", "k8s://https://k8s.example:6443"],
)  # fmt: skip
def test_masters_spark_takes(master: str) -> None:
    assert master_url(master) == master


@pytest.mark.parametrize(
    ("master", "problem"),
    [
        ("local[0]", "not a Spark master"),
        ("spark://h", "not a Spark master"),
        ("mesos://h:5050", "not a Spark master"),
        ("sc://h:15002", "Spark Connect (sc://) is not supported"),
    ],
)
def test_other_masters_are_refused_by_option(master: str, problem: str) -> None:
    with pytest.raises(SparkSetupError) as raised:
        master_url(master)
    assert raised.value.lines[0].startswith(f"--master {master!r}: ")
    assert problem in raised.value.lines[0]


def test_settings_come_from_the_environment_then_the_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NETLM_SPARK_MASTER", "yarn")
    monkeypatch.setenv("NETLM_SPARK_CONF", "spark.executor.memory=4g 'spark.a=x y'")
    assert master_url(None) == "yarn"
    assert conf_pairs(["spark.executor.memory=8g"]) == {"spark.executor.memory": "8g",
                                                         "spark.a": "x y"}  # fmt: skip
    monkeypatch.setenv("NETLM_SPARK_CONF", "executor.memory=4g")
    with pytest.raises(SparkSetupError, match=re.escape("NETLM_SPARK_CONF 'executor.memory=4g'")):
        conf_pairs()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--engine", "spark", "--master", "spark//h:7077"], "--master 'spark//h:7077': not a"),
        (["--engine", "spark", "--conf", "spark.master=yarn"], "give the master with --master"),
        (["--master", "local[2]"], "--master: only with --engine spark"),
    ],
)
def test_bad_spark_options_exit_2_naming_the_option(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    source = tmp_path / "r.parquet"
    synthesise(5, 1, source)
    done = subprocess.run([str(NETLM), "registry", "assess", str(source), "--out",
                           str(tmp_path / "o.parquet"), *args], capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_a_standalone_master_that_does_not_answer_is_named_at_once(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SparkSetupError, match=re.escape(f"answers at 127.0.0.1:{port}")):
        reachable(f"spark://127.0.0.1:{port}")
