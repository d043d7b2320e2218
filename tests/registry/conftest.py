"""Registry fixtures: synthetic and random registries, and one Spark session for the run.

Spark needs Java and pyspark (installed by `make test`); without them the Spark tests fail with
the reason, they never skip.
"""

import sys
from collections.abc import Iterator
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
