"""Spark local[2]: the audit equals DuckDB's, and the command line runs on Spark end to end."""

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from netlm.registry.audit import run_audit
from netlm.registry.engines import DuckDBEngine, SparkEngine
from netlm.registry.synth import synthesise
from tests.registry.test_registry_cli import run


def test_spark_audit_equals_duckdb(tmp_path: Path, spark: Any) -> None:
    source = tmp_path / "synth.csv"
    synthesise(1500, 3, source)
    duck = run_audit(DuckDBEngine(source), "center").to_json_dict()
    engine = SparkEngine(source, spark)
    sparked = run_audit(engine, "center").to_json_dict()
    engine.close()
    assert sparked == duck
    assert duck["patients"] == 1500


def test_cli_assess_on_spark_equals_duckdb(tmp_path: Path) -> None:
    source = tmp_path / "small.parquet"
    synthesise(40, 9, source)
    for engine in ("duckdb", "spark"):
        done = run("registry", "assess", source, "--out", tmp_path / f"{engine}.parquet",
                   "--engine", engine)  # fmt: skip
        assert done.returncode == 0, done.stderr
    sparked = pq.read_table(tmp_path / "spark.parquet").to_pylist()
    assert sparked == pq.read_table(tmp_path / "duckdb.parquet").to_pylist()
    assert len(sparked) == 40
