"""Shared fixtures: the shipped knowledge base, a builder for cases, an app on a fresh store and
a PostgreSQL database for the tests that need one."""

import contextlib
import copy
import json
import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from netlm import Case, parse_case
from netlm.knowledge.load import KnowledgeBase, load_knowledge_base
from netlm.settings import Settings
from netlm.store.db import create_db_engine, upgrade
from netlm.store.repository import Store
from netlm.web.app import create_app
from tests.postgres import ClusterError, private_cluster

ROOT = Path(__file__).resolve().parent.parent
VIGNETTES = sorted((ROOT / "tests" / "vignettes").glob("v*.json"))
GATE_VIGNETTES = sorted((ROOT / "tests" / "vignettes").glob("s*.json"))
# netlm's own pathway cases (p*): first line at diagnosis, liver-dominant disease, syndromes,
# neoadjuvant strategies, each citing its source
PATHWAY_VIGNETTES = sorted((ROOT / "tests" / "vignettes").glob("p*.json"))
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))

# The run's tmp_path folders go in a folder of the run's own (--basetemp) rather than pytest's
# shared /tmp/pytest-of-<user>, which stays behind even when empty: removed at the end when no
# test failed, else kept and named, to look into. A --basetemp given by hand is left alone.
RUN_TEMP = pytest.StashKey[Path]()
# Every JVM (Spark's) keeps its monitoring data in /tmp/hsperfdata_<user> (always /tmp, whatever
# TMPDIR says) and leaves the folder behind, empty: removed at the end when this run made it.
JVM_PERF_DATA = Path("/tmp") / f"hsperfdata_{pwd.getpwuid(os.geteuid()).pw_name}"
JVM_PERF_DATA_NEW = pytest.StashKey[bool]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.stash[JVM_PERF_DATA_NEW] = not JVM_PERF_DATA.exists()
    if config.option.basetemp is None:
        root = os.environ.get("PYTEST_DEBUG_TEMPROOT")  # where pytest itself would put it
        config.stash[RUN_TEMP] = Path(tempfile.mkdtemp(prefix="netlm-tests-", dir=root))
        config.option.basetemp = str(config.stash[RUN_TEMP])


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if session.config.stash[JVM_PERF_DATA_NEW]:
        with contextlib.suppress(OSError):  # not empty: a JVM of another program is running
            JVM_PERF_DATA.rmdir()
    folder = session.config.stash.get(RUN_TEMP, None)
    if folder is None:
        return
    if session.testsfailed == 0:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"the failed tests' temporary folders are kept in {folder}")


# Spark's tests start a JVM and plan large queries, slow on a cold JVM. Under `pytest -n 2`
# (make test) these modules run first and on one worker, one unit of work, sharing a warm
# session while the other worker runs the rest module by module (xdist's own `loadgroup` does
# not group on pytest 9, which ignores the node id it rewrites).
SPARK_MODULES = {
    "tests/registry/test_kb_impact.py",
    "tests/registry/test_parity.py",
    "tests/registry/test_spark.py",
    "tests/registry/test_spark_cluster.py",
    "tests/survival/test_cli.py",
    "tests/survival/test_spark.py",
}
SPARK_FIXTURES = {"spark", "spark_engine", "spark_cluster"}


def _module(nodeid: str) -> str:
    return nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    stray = [item.nodeid for item in items
             if set(getattr(item, "fixturenames", ())) & SPARK_FIXTURES
             and _module(item.nodeid) not in SPARK_MODULES]  # fmt: skip
    if stray:
        pytest.exit(f"tests/conftest.py: add the module of {stray[0]} to SPARK_MODULES", 4)
    items.sort(key=lambda item: _module(item.nodeid) not in SPARK_MODULES)  # stable


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadFileScheduling

    class SparkModulesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = _module(nodeid)
            return "spark" if module in SPARK_MODULES else module

    return SparkModulesTogether(config, log)


BASE_CASE: dict[str, Any] = {
    "schema": "netlm.case/1",
    "id": "t",
    "patient": {"age_years": 60, "sex": "female", "ecog": 0},
    "primary": {"site": "small_intestine", "status": "resected"},
    "pathology": {"differentiation": "well", "ki67_percent": 5},
    "liver": {"lesion_count": 10, "distribution": "bilobar", "tumor_burden_percent": 20},
    "extrahepatic": {"sites": []},
}


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `changes` into a copy of `base`; a value of None deletes the key."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def make_case(*layers: dict[str, Any], **changes: Any) -> Case:
    """A valid case: BASE_CASE with each layer, then `changes`, deep-merged on top."""
    data = BASE_CASE
    for layer in (*layers, changes):
        data = merge(data, layer)
    return parse_case(data)


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge_base()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """NETLM_TEST_POSTGRES_URL when set (a database the tests may empty), else a private cluster
    started for this session in a temporary folder and stopped at its end.

    Never a skip: without PostgreSQL the tests that need it fail and say what to install.
    """
    configured = os.environ.get("NETLM_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    try:
        cluster = private_cluster()
        url = cluster.__enter__()
    except ClusterError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield url
    finally:
        cluster.__exit__(None, None, None)


# An application on a fresh SQLite store, with one user of each role and their tokens.
PASSWORD = "correct horse battery"
ORIGIN = "http://testserver"


@dataclass
class Env:
    app: FastAPI
    store: Store
    settings: Settings
    tokens: dict[str, str]

    def client(self, address: str = "testclient") -> TestClient:
        """A client at `address` on this app's origin; like a browser's, its requests say so."""
        return TestClient(
            self.app, base_url=ORIGIN, headers={"Origin": ORIGIN}, client=(address, 50000)
        )

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_env(folder: Path) -> Env:
    """A fresh SQLite store in `folder` with one user (and API token) per role, and the app."""
    url = f"sqlite:///{folder / 'netlm.db'}"
    upgrade(url)
    settings = Settings(database_url=url, secret_key="test-secret-" + "x" * 40, data_dir=folder)
    store = Store(create_db_engine(url))
    tokens = {}
    for role in ("admin", "clinician", "viewer"):
        user = store.add_user(role, PASSWORD, role, display_name=f"{role.title()} User")
        tokens[role] = store.create_token(user, "tests")
    return Env(create_app(settings, store), store, settings, tokens)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)
