"""Spark (local[2]) gives what DuckDB gives: counts exactly, estimates to 1e-9.

One Spark session serves the module (it takes seconds to start); each estimator runs on the
same files on both engines, bad rows are found at the same rows.
"""

from pathlib import Path

import numpy as np
import pytest

from netlm.survival.cox import CoxPH
from netlm.survival.data import Factor, SurvivalData
from netlm.survival.engines import DuckDBEngine, SparkEngine
from netlm.survival.errors import SurvivalInputError
from netlm.survival.km import KaplanMeier
from netlm.survival.logrank import LogRank
from tests.survival.conftest import load


def test_kaplan_meier_and_log_rank_match(
    duckdb_engine: DuckDBEngine, spark_engine: SparkEngine
) -> None:
    duck = load(duckdb_engine, "ties", by="arm")
    spark = load(spark_engine, "ties", by="arm")
    assert duck.groups == spark.groups
    for left, right in zip(
        KaplanMeier().fit(duck).curves, KaplanMeier().fit(spark).curves, strict=True
    ):
        assert left.group == right.group
        assert left.n_risk.tolist() == right.n_risk.tolist()
        assert left.n_event.tolist() == right.n_event.tolist()
        np.testing.assert_array_equal(left.time, right.time)
        for a, b in (
            (left.survival, right.survival),
            (left.lower, right.lower),
            (left.upper, right.upper),
        ):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=0)
    duck_test, spark_test = LogRank().fit(duck).result, LogRank().fit(spark).result
    assert duck_test is not None
    assert spark_test is not None
    assert duck_test.df == spark_test.df
    assert duck_test.observed.tolist() == spark_test.observed.tolist()
    assert spark_test.chisq == pytest.approx(duck_test.chisq, rel=1e-9)
    assert spark_test.p == pytest.approx(duck_test.p, rel=1e-9)


@pytest.mark.parametrize(
    ("dataset", "covariates", "ties"),
    [
        ("lung", ["age", "sex", "ph.ecog"], "efron"),  # tied event times
        ("lung", ["age", "sex", "ph.ecog"], "breslow"),
        ("continuous", ["x1", "x2", "x3"], "efron"),  # no ties: the per-row second moments
    ],
)
def test_cox_matches(
    duckdb_engine: DuckDBEngine,
    spark_engine: SparkEngine,
    dataset: str,
    covariates: list[str],
    ties: str,
) -> None:
    duck = CoxPH(ties).fit(load(duckdb_engine, dataset, covariates=covariates))
    spark = CoxPH(ties).fit(load(spark_engine, dataset, covariates=covariates))
    assert (spark.n, spark.events) == (duck.n, duck.events)
    assert spark.concordance == pytest.approx(duck.concordance, rel=1e-12)
    for a, b in zip(duck.coefficients, spark.coefficients, strict=True):
        for field in ("coef", "se", "hr", "hr_lower", "hr_upper", "p"):
            assert getattr(b, field) == pytest.approx(getattr(a, field), rel=1e-9), field


def test_bad_rows_are_found_at_the_same_rows(
    tmp_path: Path, duckdb_engine: DuckDBEngine, spark_engine: SparkEngine
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,death\n1,1\n2,x\n-4.5,0\n3,1\n", encoding="utf-8")
    found = []
    for engine in (duckdb_engine, spark_engine):
        with pytest.raises(SurvivalInputError) as caught:
            SurvivalData.load(engine, path, time="time", event="death")
        found.append(caught.value.problems)
    assert (
        found[0]
        == found[1]
        == [
            'row 2, column "death": "x" is not a number',
            'row 3, column "time": "-4.5" is negative (a follow-up time is 0 or more)',
        ]
    )


CATEGORICAL = {
    "lung": (["age"], "ph.ecog", "sex"),  # tied times
    "ties": (["x1"], "arm", "x2"),
    "continuous": (["x1"], "arm", "x2"),  # tie-free: the per-row second moments
}


@pytest.mark.parametrize("dataset", list(CATEGORICAL))
@pytest.mark.parametrize("stratify", [False, True])
def test_cox_with_categorical_covariates_and_strata_matches(
    duckdb_engine: DuckDBEngine, spark_engine: SparkEngine, dataset: str, stratify: bool
) -> None:
    """The same levels in the same order (lung's ph.ecog is a number, the random data's arm is
    text), the same strata and the same estimates and concordance."""
    covariates, factor, stratum = CATEGORICAL[dataset]
    options = {"covariates": covariates, "factors": [Factor(factor)]}
    if stratify:
        options["strata"] = [stratum]
    duck = CoxPH().fit(load(duckdb_engine, dataset, **options))
    spark = CoxPH().fit(load(spark_engine, dataset, **options))
    assert [c.name for c in spark.coefficients] == [c.name for c in duck.coefficients]
    assert spark.concordance == pytest.approx(duck.concordance, rel=1e-12)
    for a, b in zip(duck.coefficients, spark.coefficients, strict=True):
        assert b.coef == pytest.approx(a.coef, rel=1e-9)
        assert b.se == pytest.approx(a.se, rel=1e-9)
