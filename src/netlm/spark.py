"""The Spark session behind `--engine spark`, the same for `netlm registry` and `netlm survival`.

`--master` (or `NETLM_SPARK_MASTER`) says where the work runs: `local[2]` by default, in this
process; `spark://host:7077` (a standalone cluster), `yarn` or `k8s://…` for a hospital's or a
research network's cluster. Only SQL and DataFrame expressions run on the executors (no Python
UDF), so the workers need Java, not netlm nor its Python. They read the input and write the
output parts themselves: every path is a `file://` path that must be mounted at the same place
on the driver and every worker (NFS, a cluster or object-store mount).
"""

import os
import re
import shlex
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netlm.settings import spark_folders

DEFAULT_MASTER = "local[2]"
MASTER_ENV, CONF_ENV = "NETLM_SPARK_MASTER", "NETLM_SPARK_CONF"
LOG_CONFIG = Path(__file__).parent / "survival" / "data" / "spark-log4j2.properties"

_LOCAL = re.compile(r"local(\[(\*|[1-9]\d*)(,\s*[1-9]\d*)?\])?")
_STANDALONE = re.compile(r"spark://([^\s/:,]+:\d+)(,[^\s/:,]+:\d+)*")
_KUBERNETES = re.compile(r"k8s://\S+")


class SparkSetupError(ValueError):
    """A master or a setting netlm refuses, or a session that does not start: one line each,
    naming the option."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def master_url(option: str | None) -> str:
    """`--master`, else `NETLM_SPARK_MASTER`, else `local[2]`; checked before a JVM starts."""
    name, url = "--master", option
    if url is None:
        name, url = MASTER_ENV, os.environ.get(MASTER_ENV) or DEFAULT_MASTER
    url = url.strip()
    if url.startswith("sc://"):
        raise SparkSetupError(
            [f"{name} {url!r}: Spark Connect (sc://) is not supported; give the cluster's "
             "master (spark://host:port, yarn or k8s://…)"]
        )  # fmt: skip
    known = (_LOCAL.fullmatch(url), _STANDALONE.fullmatch(url), url == "yarn",
             _KUBERNETES.fullmatch(url))  # fmt: skip
    if not any(known):
        raise SparkSetupError(
            [f"{name} {url!r}: not a Spark master; expected local, local[N], local[*], "
             "spark://host:port, yarn or k8s://host:port"]
        )  # fmt: skip
    return url


def is_local(master: str) -> bool:
    return master.startswith("local")


def conf_pairs(options: Sequence[str] = ()) -> dict[str, str]:
    """Spark settings from `NETLM_SPARK_CONF` (KEY=VALUE, space-separated, shell quoting) and
    then `--conf KEY=VALUE` (which wins)."""
    pairs: dict[str, str] = {}
    try:
        sources = [(CONF_ENV, item) for item in shlex.split(os.environ.get(CONF_ENV, ""))]
    except ValueError as exc:  # an unclosed quotation
        raise SparkSetupError([f"{CONF_ENV}: {exc}"]) from None
    for name, item in [*sources, *(("--conf", item) for item in options)]:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.startswith("spark.") or key == "spark.":
            raise SparkSetupError([f"{name} {item!r}: expected spark.KEY=VALUE"])
        if key == "spark.master":
            raise SparkSetupError([f"{name} {item!r}: give the master with --master"])
        pairs[key] = value
    return pairs


def session_conf(master: str, app: str, local_partitions: int) -> dict[str, str]:
    """netlm's defaults for a session on `master`: quiet, UTC, and for a cluster executors that
    fit a small worker (1 core, 1 GiB each: raise them with --conf)."""
    conf = {
        "spark.app.name": app,
        "spark.ui.enabled": "false",  # no unauthenticated port: --conf spark.ui.enabled=true
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        # netlm's queries are wide projections with few joins; adaptive execution re-optimises
        # their large plans at every stage (a 3,000-row registry assess: 54 -> 42 s on a new JVM)
        "spark.sql.adaptive.enabled": "false",
        "spark.driver.memory": "2g",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={LOG_CONFIG}",
        **spark_folders(),
    }
    if is_local(master):
        # Nothing to reach from outside: no port on the network, few shuffle partitions.
        conf |= {
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.sql.shuffle.partitions": str(local_partitions),
        }
    else:
        # The executors call the driver back on its host name (set spark.driver.host when that
        # does not resolve on the workers); their scratch space is the cluster manager's.
        conf.pop("spark.local.dir", None)
        conf |= {"spark.executor.memory": "1g", "spark.executor.cores": "1"}
    return conf


def reachable(master: str, timeout: float = 5.0) -> None:
    """A standalone master answers on its port, else a clear error now (Spark itself retries
    for a minute before giving up)."""
    if not master.startswith("spark://"):
        return
    failures = []
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout).close()
            return
        except OSError as exc:
            failures.append(f"{address} ({exc.strerror or exc})")
    raise SparkSetupError([f"--master {master}: no Spark master answers at {', '.join(failures)}"])


def spark_session(
    option: str | None, app: str, conf: Sequence[str] = (), local_partitions: int = 4
) -> Any:
    """A Spark session on the master `option` (see `master_url`) with netlm's defaults, then
    NETLM_SPARK_CONF, then --conf; every setting checked before the JVM starts."""
    master = master_url(option)
    settings = session_conf(master, app, local_partitions) | conf_pairs(conf)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkSetupError(
            ["--engine spark needs pyspark: pip install 'netlm[spark]' (and Java 17)"]
        ) from None
    reachable(master)
    builder = SparkSession.builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SparkSetupError(
            [f"--master {master}: cannot start a Spark session: {first}"]
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def file_uri(path: Path) -> str:
    """`path` as the executors must read it: absolute, on the local (shared) file system even
    where the cluster's default file system is HDFS. Not percent-encoded: Hadoop parses it."""
    return "file://" + str(path.resolve())
