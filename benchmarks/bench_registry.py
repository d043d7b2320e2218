"""Batch assessment of a synthetic registry: the compiled SQL on DuckDB (and Spark local[2])
against the single-case engine in a loop (timed on a sample, extrapolated).

    python benchmarks/bench_registry.py [--n 1000000] [--sample 10000] [--spark-n 200000]

Prints wall times and the ratio from one run. Not a test: the figures depend on the machine.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from netlm.engine import assess
from netlm.knowledge.load import load_knowledge_base
from netlm.registry import batch
from netlm.registry.engines import DuckDBEngine, SparkEngine, spark_session
from netlm.registry.format import case_from_row
from netlm.registry.synth import synthesise


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--spark-n", type=int, default=200_000)
    args = parser.parse_args()
    kb = load_knowledge_base()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "registry.parquet"
        synthesise(args.n, 1, source)
        print(f"load average before: {os.getloadavg()[0]:.2f} (the machine is shared)")
        started, cpu = time.perf_counter(), time.process_time()
        engine = DuckDBEngine(source)
        checked = batch.check(engine, skip_bad=False)
        checking = time.perf_counter() - started
        batch.write_assessment(engine, folder / "out.parquet", kb)
        duck, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows = pq.read_table(source).slice(0, args.sample).to_pylist()
        started = time.perf_counter()
        for row in rows:
            assess(case_from_row(row), kb=kb)
        loop = (time.perf_counter() - started) / len(rows) * args.n
        print(f"DuckDB batch assess, {checked.rows} rows (check + assess + write): {duck:.2f} s "
              f"(check {checking:.2f} s; CPU {cpu:.2f} s on {os.cpu_count()} cores)")  # fmt: skip
        print(f"single-case engine loop, {len(rows)}-row sample extrapolated to {args.n}: "
              f"{loop:.1f} s")  # fmt: skip
        print(f"ratio loop / DuckDB: {loop / duck:.1f}x (target: 1M rows under 5 s)")
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
