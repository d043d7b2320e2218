"""The same estimates as lifelines on random data (seeded): a second, independent reference."""

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from netlm.survival.cox import CoxPH
from netlm.survival.data import SurvivalData
from netlm.survival.engines import DuckDBEngine
from netlm.survival.km import KaplanMeier
from netlm.survival.logrank import LogRank


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(20261130)
    n = 2000
    x = rng.normal(size=(n, 3))
    group = rng.choice(["a", "b", "c", "d"], size=n)
    hazard = np.exp(0.6 * x[:, 0] - 0.4 * x[:, 1] + 0.1 * x[:, 2] + (group == "b") * 0.3)
    event_time = rng.exponential(1 / hazard)
    censor_time = rng.uniform(0, 3, size=n)
    return pd.DataFrame(
        {
            "followup_months": np.round(np.minimum(event_time, censor_time) * 12, 1),
            "death": (event_time <= censor_time).astype(int),
            "x1": x[:, 0],
            "x2": x[:, 1],
            "x3": x[:, 2],
            "center": group,
        }
    )


@pytest.fixture
def data_file(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "random.parquet"
    duckdb.from_df(frame).write_parquet(str(path))
    return path


def load(engine: DuckDBEngine, path: Path, **options: object) -> SurvivalData:
    return SurvivalData.load(engine, path, time="followup_months", event="death", **options)  # type: ignore[arg-type]


def test_kaplan_meier_matches_lifelines(
    duckdb_engine: DuckDBEngine, data_file: Path, frame: pd.DataFrame
) -> None:
    """lifelines' interval is the log-log one (exponential Greenwood)."""
    km = KaplanMeier("log-log").fit(load(duckdb_engine, data_file))
    reference = KaplanMeierFitter().fit(frame["followup_months"], frame["death"])
    curve = km.curves[0]
    np.testing.assert_allclose(
        curve.survival, reference.survival_function_at_times(curve.time).to_numpy(), atol=1e-12
    )
    band = reference.confidence_interval_survival_function_.loc[curve.time]
    np.testing.assert_allclose(curve.lower, band.iloc[:, 0].to_numpy(), atol=1e-8)
    np.testing.assert_allclose(curve.upper, band.iloc[:, 1].to_numpy(), atol=1e-8)


def test_log_rank_matches_lifelines(
    duckdb_engine: DuckDBEngine, data_file: Path, frame: pd.DataFrame
) -> None:
    result = LogRank().fit(load(duckdb_engine, data_file, by="center")).result
    reference = multivariate_logrank_test(frame["followup_months"], frame["center"], frame["death"])
    assert result is not None
    assert result.df == reference.degrees_of_freedom
    assert result.chisq == pytest.approx(reference.test_statistic, rel=1e-9)
    assert result.p == pytest.approx(reference.p_value, rel=1e-7)


def test_cox_matches_lifelines(
    duckdb_engine: DuckDBEngine, data_file: Path, frame: pd.DataFrame
) -> None:
    covariates = ["x1", "x2", "x3"]
    model = CoxPH().fit(load(duckdb_engine, data_file, covariates=covariates))
    reference = CoxPHFitter().fit(
        frame[["followup_months", "death", *covariates]],
        duration_col="followup_months",
        event_col="death",
    )
    for coefficient in model.coefficients:
        assert coefficient.coef == pytest.approx(reference.params_[coefficient.name], abs=1e-6)
        assert coefficient.se == pytest.approx(
            reference.standard_errors_[coefficient.name], rel=1e-5
        )
    assert model.concordance == pytest.approx(reference.concordance_index_, abs=1e-3)
