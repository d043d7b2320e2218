"""Benchmark of the survival analysis (run by `make bench`; not a test).

One synthetic registry of 1,000,000 tie-free rows (seeded DuckDB generator; six covariates with
known log hazard ratios, 70 % events, three centres) written to Parquet, then side by side in
one run with lifelines, the common Python survival library, on the same rows:

1. Cox PH, Efron ties, six covariates: netlm on DuckDB from the Parquet file (read, check,
   sort, Newton steps; concordance timed apart) vs lifelines `CoxPHFitter.fit` on a DataFrame
   already in memory. Target: ≥ 10× faster, coefficients equal to 1e-6.
2. Kaplan–Meier and the log-rank test across the centres, same comparison.
3. The same three on Spark local[2], with the session start reported apart.

    .venv/bin/python benchmarks/bench_survival.py [--rows N] [--spark-rows N] [--no-spark]
"""

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from netlm.survival.concordance import concordance
from netlm.survival.cox import COX_TABLE, CoxPH
from netlm.survival.data import SurvivalData
from netlm.survival.engines import DuckDBEngine, SparkEngine, SqlEngine
from netlm.survival.km import KaplanMeier
from netlm.survival.logrank import LogRank
from netlm.survival.risksets import linear_predictor

COVARIATES = ["a", "b", "c", "d", "e", "f"]
TRUE_LOG_HR = [0.5, -0.3, 0.4, 0.01, 0.2, -0.1]
T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def make_registry(path: Path, rows: int) -> None:
    """Exponential survival with the log hazard ratios above; censoring at random."""
    con = duckdb.connect()
    con.execute("SELECT setseed(0.20261130)")
    linear = " + ".join(f"{b} * {x}" for b, x in zip(TRUE_LOG_HR, COVARIATES, strict=True))
    con.execute(
        f"COPY (SELECT -ln(u) / exp({linear}) * 24 AS followup_months,"
        f" CASE WHEN v < 0.7 THEN 1 ELSE 0 END AS death, {', '.join(COVARIATES)},"
        f" 'center-' || CAST(floor(w * 3) AS INT) AS center FROM ("
        f"  SELECT random() - 0.5 AS a, random() - 0.5 AS b,"
        f"   CAST(random() < 0.5 AS INT) AS c, random() * 50 AS d, random() AS e,"
        f"   random() AS f, random() AS u, random() AS v, random() AS w FROM range({rows}))"
        f") TO '{path}' (FORMAT parquet)"
    )
    distinct, total = con.execute(
        f"SELECT count(DISTINCT followup_months), count(*) FROM '{path}'"
    ).fetchone() or (0, 0)
    if distinct != total:
        raise SystemExit(f"the generated times are not tie-free ({distinct} of {total})")


def load(engine: SqlEngine, path: Path, **options: object) -> SurvivalData:
    return SurvivalData.load(engine, path, time="followup_months", event="death", **options)  # type: ignore[arg-type]


def run_netlm(engine: SqlEngine, path: Path, label: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    data, figures["km_load"] = timed(lambda: load(engine, path))
    _, figures["km_fit"] = timed(lambda: KaplanMeier().fit(data))
    figures["km"] = figures["km_load"] + figures["km_fit"]
    data, load_by = timed(lambda: load(engine, path, by="center"))
    test, fit_by = timed(lambda: LogRank().fit(data))
    figures["logrank"] = load_by + fit_by
    assert test.result is not None
    figures["logrank_chisq"] = test.result.chisq
    data, load_cov = timed(lambda: load(engine, path, covariates=COVARIATES))
    model, fit = timed(lambda: CoxPH().fit(data, with_concordance=False))
    figures["cox"] = load_cov + fit
    figures["cox_iterations"] = model.iterations
    figures["concordance_value"], figures["concordance"] = timed(
        lambda: concordance(engine, COX_TABLE, linear_predictor(model.beta))
    )
    for name, coefficient in zip(COVARIATES, model.coefficients, strict=True):
        figures[f"coef_{name}"] = coefficient.coef
    print(
        f"  {label:<22} reading and checking the file {figures['km_load']:.2f} s, then "
        "(each figure includes its own reading):"
    )
    print(
        f"  {'':<22} KM {figures['km']:7.2f} s   log-rank {figures['logrank']:7.2f} s   "
        f"Cox {figures['cox']:7.2f} s ({model.iterations} Newton steps on all rows)   "
        f"concordance {figures['concordance']:6.2f} s"
    )
    return figures


def run_lifelines(frame: pd.DataFrame) -> dict[str, float]:
    figures: dict[str, float] = {}
    _, figures["km"] = timed(
        lambda: KaplanMeierFitter().fit(frame["followup_months"], frame["death"])
    )
    test, figures["logrank"] = timed(
        lambda: multivariate_logrank_test(frame["followup_months"], frame["center"], frame["death"])
    )
    figures["logrank_chisq"] = float(test.test_statistic)
    columns = ["followup_months", "death", *COVARIATES]
    model, figures["cox"] = timed(
        lambda: CoxPHFitter().fit(frame[columns], duration_col="followup_months", event_col="death")
    )
    value, figures["concordance"] = timed(lambda: float(model.concordance_index_))
    figures["concordance_value"] = value
    for name in COVARIATES:
        figures[f"coef_{name}"] = float(model.params_[name])
    print(
        f"  {'lifelines':<22} KM {figures['km']:7.2f} s   log-rank {figures['logrank']:7.2f} s   "
        f"Cox {figures['cox']:7.2f} s   concordance {figures['concordance']:6.2f} s"
    )
    return figures


def compare(ours: dict[str, float], peer: dict[str, float], label: str) -> None:
    worst = max(abs(ours[f"coef_{n}"] - peer[f"coef_{n}"]) for n in COVARIATES)
    print(
        f"  {label}: Cox {peer['cox'] / ours['cox']:5.1f}× faster than lifelines "
        f"(target ≥ 10×), coefficients differ by at most {worst:.1e} (target ≤ 1e-6: "
        f"{'met' if worst <= 1e-6 else 'NOT met'}); KM {peer['km'] / ours['km']:.2f}×, "
        f"log-rank {peer['logrank'] / ours['logrank']:.2f}× "
        f"(chisq {ours['logrank_chisq']:.6f} vs {peer['logrank_chisq']:.6f}); "
        f"concordance {ours['concordance_value']:.6f} vs {peer['concordance_value']:.6f}, "
        f"{peer['concordance'] / ours['concordance']:.1f}×"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--spark-rows", type=int, default=1_000_000)
    parser.add_argument("--no-spark", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "registry.parquet"
        _, made = timed(lambda: make_registry(path, options.rows))
        print(
            f"survival: {options.rows:,} tie-free rows, 6 covariates, 3 centres "
            f"(generated in {made:.1f} s); true log HR {TRUE_LOG_HR}"
        )
        frame = duckdb.sql(f"SELECT * FROM '{path}'").df()
        duck = DuckDBEngine()
        ours = run_netlm(duck, path, "netlm on DuckDB")
        duck.close()
        peer = run_lifelines(frame)
        compare(ours, peer, "DuckDB")
        print(
            "  estimates vs truth: "
            + ", ".join(
                f"{n} {ours[f'coef_{n}']:+.4f} ({b:+.2f})"
                for n, b in zip(COVARIATES, TRUE_LOG_HR, strict=True)
            )
        )
        if options.no_spark:
            return
        spark_path = path
        if options.spark_rows != options.rows:
            spark_path = Path(folder) / "registry-spark.parquet"
            make_registry(spark_path, options.spark_rows)
        spark, started = timed(lambda: SparkEngine("local[2]"))
        print(f"  Spark local[2] session started in {started:.1f} s (not counted below)")
        on_spark = run_netlm(spark, spark_path, f"netlm on Spark ({options.spark_rows:,})")
        spark.close()
        if options.spark_rows == options.rows:
            worst = max(
                abs(on_spark[f"coef_{n}"] - ours[f"coef_{n}"]) / abs(ours[f"coef_{n}"])
                for n in COVARIATES
            )
            print(
                f"  Spark vs DuckDB: Cox {ours['cox'] / on_spark['cox']:.2f}×, KM "
                f"{ours['km'] / on_spark['km']:.2f}×, log-rank "
                f"{ours['logrank'] / on_spark['logrank']:.2f}× (DuckDB time / Spark time); "
                f"coefficients agree to {worst:.1e} relative"
            )
            compare(on_spark, peer, "Spark")


if __name__ == "__main__":
    main()
