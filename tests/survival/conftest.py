"""Engines, reference values from R (committed fixtures) and data files for the survival tests."""

import csv
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netlm.survival.data import SurvivalData
from netlm.survival.engines import DuckDBEngine, SparkEngine, SqlEngine

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DATASETS = {
    "lung": ("lung.csv", "time", "status"),
    "ties": ("random_ties.csv", "time", "event"),
    "continuous": ("random_continuous.csv", "time", "event"),
    "ends": ("ends_in_death.csv", "time", "event"),
}


def read_csv(name: str) -> list[dict[str, str]]:
    with (FIXTURES / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def number(text: str) -> float:
    """R's fixture numbers; an empty field is R's NA."""
    return float(text) if text.strip() else float("nan")


@pytest.fixture
def duckdb_engine() -> Iterator[DuckDBEngine]:
    engine = DuckDBEngine()
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def spark_engine() -> Iterator[SparkEngine]:
    """One local[2] Spark session for every Spark test (it takes seconds to start)."""
    if shutil.which("java") is None:
        pytest.fail("Spark tests need Java: run scripts/system-deps.sh test (installs OpenJDK)")
    engine = SparkEngine("local[2]")
    yield engine
    engine.close()


def load(engine: SqlEngine, dataset: str, **options: Any) -> SurvivalData:
    """A fixture data set in `engine`; rows with an empty value are skipped as R drops NA."""
    name, time, event = DATASETS[dataset]
    return SurvivalData.load(
        engine, FIXTURES / name, time=time, event=event, skip_bad=True, **options
    )
