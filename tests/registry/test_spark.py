"""Spark local[2]: the audit equals DuckDB's, and bad data is named as DuckDB names it (the
command line on Spark end to end: test_spark_cluster.py and survival/test_cli.py)."""

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from netlm.registry.audit import run_audit, write_patients
from netlm.registry.engines import DuckDBEngine, Engine, RegistryError, SparkEngine
from netlm.registry.synth import synthesise


def test_spark_audit_equals_duckdb(tmp_path: Path, spark: Any) -> None:
    """The summary and the per-patient file (`--patients`) are the same on both engines."""
    source = tmp_path / "synth.csv"
    synthesise(1500, 3, source)
    duckdb_engine = DuckDBEngine(source)
    duck = run_audit(duckdb_engine, "center").to_json_dict()
    write_patients(duckdb_engine, "center", tmp_path / "duck.parquet")
    engine = SparkEngine(source, spark)
    sparked = run_audit(engine, "center").to_json_dict()
    write_patients(engine, "center", tmp_path / "spark.parquet")
    engine.close()
    assert sparked == duck
    assert duck["patients"] == 1500
    rows = pq.read_table(tmp_path / "spark.parquet").to_pylist()
    assert rows == pq.read_table(tmp_path / "duck.parquet").to_pylist()
    assert len(rows) == 1500


def _problems(engine: Engine) -> list[str]:
    engine.prepare()
    lines = engine.problems(50).lines
    engine.close()
    return lines


def test_spark_names_the_same_bad_cells_and_duplicate_ids(tmp_path: Path, spark: Any) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(
        "id,primary.site,prior_therapies,extrahepatic.sites\n"
        'a,pancreas,"[{""option"":""ssa"",""outcome"":""stable"",""line"":2}]",\n'
        'b,lung,,"[""bone"",3]"\n'
        "a,rectum,not json,\n",
        encoding="utf-8",
    )
    duck = _problems(DuckDBEngine(source))
    assert len(duck) == 6
    assert _problems(SparkEngine(source, spark)) == duck


def test_spark_names_a_record_that_does_not_fit_the_header(tmp_path: Path, spark: Any) -> None:
    source = tmp_path / "ragged.csv"
    source.write_text("id,primary.site\nx,pancreas\ny,rectum,surplus\n", encoding="utf-8")
    with pytest.raises(RegistryError) as raised:
        SparkEngine(source, spark)
    assert raised.value.lines == [f"{source}, row 2: 3 fields where the header has 2"]
