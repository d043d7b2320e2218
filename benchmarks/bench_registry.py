"""Batch assessment of a synthetic registry: the compiled SQL on DuckDB (and Spark local[2])
against the single-case engine in a loop (timed on a sample, extrapolated).

    python benchmarks/bench_registry.py [--n 1000000] [--repeat 3] [--sample 10000]
                                        [--spark-n 200000]

DuckDB's run is split into its phases (read + check, compiled decisions, text, write), each
with its wall and CPU time (the process's, DuckDB's threads included); the machine is shared,
so the best of --repeat runs is shown, with the CPU time, which other load disturbs less. One
more run under DuckDB's profiler shows which operators take each phase's time. Not a test:
the figures depend on the machine.
"""

import argparse
import json
import os
import resource
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pyarrow.parquet as pq

from netlm.engine import assess
from netlm.knowledge.load import KnowledgeBase, load_knowledge_base
from netlm.registry import batch
from netlm.registry.engines import DuckDBEngine, SparkEngine, spark_session
from netlm.registry.format import case_from_row
from netlm.registry.query import AssessmentQuery
from netlm.registry.synth import synthesise

PHASES = ("read + check", "compiled decisions", "text", "write (Parquet)")
Timings = dict[str, tuple[float, float]]  # phase -> (wall, CPU) seconds


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Profiled:
    """A DuckDB connection that adds the operator times of each query it runs (DuckDB's
    JSON profile) to the current phase."""

    def __init__(self, con: Any, path: Path) -> None:
        self.con, self.path, self.phase = con, path, ""
        self.operators: defaultdict[str, defaultdict[str, float]] = defaultdict(
            lambda: defaultdict(float)
        )
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute(f"PRAGMA profiling_output = '{path}'")

    def execute(self, query: str, *args: Any) -> Any:
        result = self.con.execute(query, *args)
        if query.lstrip().upper().startswith(("SELECT", "CREATE OR REPLACE TEMP TABLE", "COPY")):
            counts = self.operators[self.phase]
            for node in json.loads(self.path.read_text()).get("operator", []):
                _add_operators(node, counts)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


def _add_operators(node: dict[str, Any], counts: defaultdict[str, float]) -> None:
    counts[str(node.get("name", "?")).strip()] += float(node.get("timing", 0.0))
    for child in node.get("children", []):
        _add_operators(child, counts)


def _run(source: Path, out: Path, kb: KnowledgeBase, profile: Path | None = None) -> Timings:
    """One DuckDB run, check + assess + write, timed phase by phase."""
    times: Timings = {}
    engines: list[DuckDBEngine] = []
    profiled: list[_Profiled] = []

    def phase(name: str, work: Callable[[], object]) -> None:
        if profiled:
            profiled[0].phase = name
        started, cpu = time.perf_counter(), _cpu()
        work()
        times[name] = (time.perf_counter() - started, _cpu() - cpu)

    def check() -> None:
        engine = DuckDBEngine(source)
        if profile is not None:
            profiled.append(_Profiled(engine.con, profile))
            profiled[0].phase = PHASES[0]
            engine.con = cast(Any, profiled[0])  # the connection, its queries profiled
        engines.append(engine)
        batch.check(engine, skip_bad=False)

    phase(PHASES[0], check)
    engine = engines[0]
    query = AssessmentQuery(kb, engine.dialect)
    phase(PHASES[1], lambda: batch.assess_codes(engine, query))
    phase(PHASES[2], lambda: batch.render_texts(engine, query))
    phase(PHASES[3], lambda: batch.write_output(engine, query, out))
    engine.close()
    if profiled:
        for name in PHASES:
            counts = profiled[0].operators[name]
            total = sum(counts.values()) or 1.0
            ranked = sorted(counts.items(), key=lambda item: -item[1])[:4]
            top = ", ".join(f"{op} {100 * t / total:.0f} %" for op, t in ranked)
            print(f"  {name}: {top}")
    return times


def _duckdb(source: Path, folder: Path, kb: KnowledgeBase, repeat: int) -> float:
    """The phase split of the best of `repeat` runs, then the profile; the best wall time."""
    runs = [_run(source, folder / "out.parquet", kb) for _ in range(repeat)]
    best = min(runs, key=lambda r: sum(w for w, _ in r.values()))
    rows = pq.ParquetFile(folder / "out.parquet").metadata.num_rows
    wall = sum(w for w, _ in best.values())
    cpus = sorted(sum(c for _, c in r.values()) for r in runs)
    print(f"DuckDB batch assess, {rows} rows, best of {repeat} runs "
          f"({os.cpu_count()} cores; wall / CPU seconds):")  # fmt: skip
    for name in PHASES:
        print(f"  {name:<20} {best[name][0]:6.2f} / {best[name][1]:6.2f}")
    print(f"  {'total':<20} {wall:6.2f} / {sum(c for _, c in best.values()):6.2f}   "
          f"(CPU of the {repeat} runs: {', '.join(f'{c:.2f}' for c in cpus)}; "
          "target: 1M rows under 5 s)")  # fmt: skip
    print("DuckDB's profile of one more run (share of each phase's operator time):")
    with tempfile.NamedTemporaryFile(suffix=".json") as profile:
        _run(source, folder / "out.parquet", kb, Path(profile.name))
    return wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--spark-n", type=int, default=200_000)
    args = parser.parse_args()
    kb = load_knowledge_base()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "registry.parquet"
        synthesise(args.n, 1, source)
        print(f"load average before: {os.getloadavg()[0]:.2f} (the machine is shared)")
        duck = _duckdb(source, folder, kb, args.repeat)
        rows = pq.read_table(source).slice(0, args.sample).to_pylist()
        started = time.perf_counter()
        for row in rows:
            assess(case_from_row(row), kb=kb)
        loop = (time.perf_counter() - started) / len(rows) * args.n
        print(f"single-case engine loop, {len(rows)}-row sample extrapolated to {args.n}: "
              f"{loop:.1f} s")  # fmt: skip
        print(f"ratio loop / DuckDB: {loop / duck:.1f}x")
        if args.spark_n:
            spark_source = folder / "spark.parquet"
            synthesise(args.spark_n, 2, spark_source)
            started = time.perf_counter()
            session = spark_session("local[2]")
            session.sparkContext.setLogLevel("ERROR")
            start_up = time.perf_counter() - started
            started = time.perf_counter()
            engine = SparkEngine(spark_source, session)
            batch.assess(engine, folder / "spark-out.parquet", kb=kb)
            spark = time.perf_counter() - started
            session.stop()
            per_row_loop = loop / args.n * args.spark_n
            print(f"Spark local[2] session start: {start_up:.1f} s")
            print(f"Spark local[2] batch assess, {args.spark_n} rows: {spark:.1f} s "
                  f"(loop for the same rows: {per_row_loop:.1f} s, ratio "
                  f"{per_row_loop / spark:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
