"""Parity: the compiled SQL gives, row by row and field by field, what `netlm.assess` gives.

30 000 random valid cases (unknowns included, numbers on the rules' own thresholds) on DuckDB
(NETLM_PARITY_CASES=100000 for the longer check, ~2 min); a smaller sample on Spark local[2],
which must also equal DuckDB's output exactly.
"""

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from netlm.knowledge.load import load_knowledge_base
from netlm.registry import batch
from netlm.registry.engines import DuckDBEngine, SparkEngine
from tests.registry.conftest import random_registry
from tests.registry.parity import all_differences

PARITY_CASES = int(os.environ.get("NETLM_PARITY_CASES", "30000"))
SPARK_CASES = 3_000


def _coverage(rows: list[dict[str, Any]]) -> Counter[str]:
    seen: Counter[str] = Counter()
    for row in rows:
        for r in json.loads(row["recommendations"]):
            seen[f"proposed:{r['option']}:{r['strength']}"] += 1
        for e in json.loads(row["excluded"]):
            seen[f"excluded:{e['option']}"] += 1
            for rule in e["rules"]:
                seen[f"rule:{rule.split(':')[0]}"] += 1
        for key in ("grade", "liver_pattern", "resectability", "intent"):
            seen[f"{key}:{row[f'classification.{key}']}"] += 1
    return seen


def test_duckdb_equals_the_engine_on_random_cases(tmp_path: Path) -> None:
    source, out = tmp_path / "random.parquet", tmp_path / "out.parquet"
    cases = random_registry(source, PARITY_CASES, seed=2024)
    checked = batch.assess(DuckDBEngine(source), out)
    assert checked.rows == PARITY_CASES
    assert not checked.skipped
    rows = pq.read_table(out).to_pylist()
    assert all_differences(rows, cases) == []
    seen = _coverage(rows)
    kb = load_knowledge_base()
    for code in kb.options:  # every option both proposed and excluded somewhere
        assert seen[f"excluded:{code}"] > 0, code
        assert any(seen[f"proposed:{code}:{s}"] for s in ("recommended", "consider")), code
    for kind in ("unmet", "not_approved", "nec"):
        assert seen[f"rule:{kind}"] > 0, kind
    for grade in ("G1", "G2", "G3", "NEC", "unknown"):
        assert seen[f"grade:{grade}"] > 0
    for value in ("resectable", "potentially_resectable", "unresectable", "undetermined"):
        assert seen[f"resectability:{value}"] > 0


def test_spark_equals_duckdb_and_the_engine(tmp_path: Path, spark: Any) -> None:
    source = tmp_path / "random.parquet"
    cases = random_registry(source, SPARK_CASES, seed=7)
    batch.assess(DuckDBEngine(source), tmp_path / "duck.parquet")
    engine = SparkEngine(source, spark)
    checked = batch.assess(engine, tmp_path / "spark.parquet")
    engine.close()
    assert checked.rows == SPARK_CASES
    duck = pq.read_table(tmp_path / "duck.parquet").to_pylist()
    sparked = pq.read_table(tmp_path / "spark.parquet").to_pylist()
    assert sparked == duck
    assert all_differences(sparked, cases) == []


def test_csv_and_parquet_registries_give_the_same_assessment(tmp_path: Path) -> None:
    import pyarrow.csv as pacsv

    source = tmp_path / "random.parquet"
    random_registry(source, 2_000, seed=11)
    pacsv.write_csv(pq.read_table(source), tmp_path / "random.csv")
    batch.assess(DuckDBEngine(source), tmp_path / "a.parquet")
    batch.assess(DuckDBEngine(tmp_path / "random.csv"), tmp_path / "b.parquet")
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))


def test_the_comparison_sees_a_change_in_any_field(tmp_path: Path) -> None:
    """The parity check itself: a row altered in one field no longer equals the engine."""
    source = tmp_path / "random.parquet"
    cases = random_registry(source, 200, seed=3)
    batch.assess(DuckDBEngine(source), tmp_path / "out.parquet")
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert all_differences(rows, cases) == []
    row = next(r for r in rows if json.loads(r["excluded"]) and json.loads(r["recommendations"]))
    recommendations = json.loads(row["recommendations"])
    excluded = json.loads(row["excluded"])
    changed = {
        "classification.grade": "G9",
        "classification.intent": "none",
        "recommendations": json.dumps([*recommendations[::-1], recommendations[0]]),
        "excluded": json.dumps(excluded[1:]),
    }
    at = rows.index(row)
    for field, value in changed.items():
        altered = [*rows[:at], {**row, field: value}, *rows[at + 1 :]]
        found = all_differences(altered, cases)
        assert len(found) == 1, (field, found)
        assert found[0].startswith(f"{row['id']}: {field}"), (field, found)
