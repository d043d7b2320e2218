"""The library API beside the CLI: predictions from fitted estimators."""

import numpy as np
import pytest

from netlm.survival.cox import CoxPH
from netlm.survival.engines import DuckDBEngine
from netlm.survival.km import KaplanMeier
from tests.survival.conftest import load, number, read_csv


def test_kaplan_meier_predicts_a_right_continuous_step(duckdb_engine: DuckDBEngine) -> None:
    km = KaplanMeier().fit(load(duckdb_engine, "lung", by="sex"))
    reference = [row for row in read_csv("km_lung_sex_log.csv") if row["group"] == "1"]
    first, second = number(reference[0]["survival"]), number(reference[1]["survival"])
    predicted = km.predict([0, 10.9, 11, 11.5, 12], group="1")
    np.testing.assert_allclose(predicted, [1, 1, first, first, second], rtol=1e-12)
    with pytest.raises(KeyError):
        km.predict([1], group="3")


def test_kaplan_meier_median_as_r_prints_it(duckdb_engine: DuckDBEngine) -> None:
    """R: print(survfit(Surv(time, status) ~ sex, lung)) gives 270 (212, 310) and 426 (348, 550)."""
    km = KaplanMeier().fit(load(duckdb_engine, "lung", by="sex"))
    assert [curve.median() for curve in km.curves] == [(270, 212, 310), (426, 348, 550)]


def test_cox_predicts_relative_to_the_mean_covariates(duckdb_engine: DuckDBEngine) -> None:
    model = CoxPH().fit(load(duckdb_engine, "ties", covariates=["x1", "x2", "x3"]))
    rows = [list(model.means), [1.0, 0.0, 50.0]]
    log_hazard = model.predict_log_partial_hazard(rows)
    assert log_hazard[0] == pytest.approx(0, abs=1e-12)
    assert log_hazard[1] == pytest.approx(float((np.array(rows[1]) - model.means) @ model.beta))
    np.testing.assert_allclose(model.predict_partial_hazard(rows), np.exp(log_hazard))
