"""The treatment a synthetic patient is given, so that an audit finds the documented discordance.

Each patient gets what netlm itself recommends for the case as recorded (the first recommended
option, else the first considered, else nothing recorded), except a deliberate share,
DISCORDANT (ILLUSTRATIVE), who get an option netlm excludes for them. Drawing the care from the
knowledge base, rather than from simplified rules of its own, keeps `netlm registry audit` of a
synthetic registry at that share instead of counting every place where such rules and the
knowledge base part ways.
"""

import json
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from netlm.registry import batch
from netlm.registry.engines import DuckDBEngine

DISCORDANT = 0.15  # share given an excluded option: ILLUSTRATIVE


def _assessed(cols: dict[str, list[Any]], schema: pa.Schema) -> list[dict[str, Any]]:
    """netlm's recommendations and exclusions for every row, from the compiled query."""
    fields = [f for f in schema if f.name in cols]
    table = pa.table({f.name: cols[f.name] for f in fields}, schema=pa.schema(fields))
    with TemporaryDirectory(prefix="netlm-synth-") as tmp:
        source, out = Path(tmp, "chunk.parquet"), Path(tmp, "assessed.parquet")
        pq.write_table(table, source)
        engine = DuckDBEngine(source)
        try:
            batch.assess(engine, out)
        finally:
            engine.close()
        rows: list[dict[str, Any]] = pq.read_table(
            out, columns=["recommendations", "excluded"]
        ).to_pylist()
    return rows


def _concordant(recommendations: list[dict[str, Any]]) -> str | None:
    """The first recommended option, else the first considered; none (not recorded) when
    netlm proposes nothing, e.g. while the case lacks the findings that decide."""
    for strength in ("recommended", "consider"):
        for r in recommendations:
            if r["strength"] == strength:
                return str(r["option"])
    return None


def assign_care(
    rng: np.random.Generator, cols: dict[str, list[Any]], schema: pa.Schema
) -> np.ndarray:
    """One option code per row: netlm's choice, or for the DISCORDANT share an excluded one."""
    assessed = _assessed(cols, schema)
    deliberate = rng.random(len(assessed)) < DISCORDANT
    pick = rng.random(len(assessed))
    out = np.empty(len(assessed), dtype=object)
    for i, row in enumerate(assessed):
        excluded = [e["option"] for e in json.loads(row["excluded"] or "[]")]
        if deliberate[i] and excluded:
            out[i] = excluded[int(pick[i] * len(excluded))]
        else:
            out[i] = _concordant(json.loads(row["recommendations"] or "[]"))
    return out
