"""The streaming risk-set sums: proven in order, or recomputed with ORDER BY (same numbers)."""

import numpy as np
import pytest

from netlm.survival.cox import COX_TABLE, CoxPH
from netlm.survival.engines import DuckDBEngine
from netlm.survival.options import Ties
from netlm.survival.risksets import RiskSetSums
from tests.survival.conftest import load


@pytest.mark.parametrize("dataset", ["ties", "continuous"])
def test_rows_out_of_order_fall_back_to_sorted_windows(
    duckdb_engine: DuckDBEngine, dataset: str
) -> None:
    data = load(duckdb_engine, dataset, covariates=["x1", "x2", "x3"])
    model = CoxPH().fit(data)
    beta = model.beta
    in_order = RiskSetSums(duckdb_engine, COX_TABLE, 3, Ties.efron).evaluate(beta)
    assert duckdb_engine.streaming_windows  # the proof held: the fast path was used
    duckdb_engine.materialise("shuffled", f"SELECT * FROM {COX_TABLE} ORDER BY hash(pos)")
    shuffled = RiskSetSums(duckdb_engine, "shuffled", 3, Ties.efron)
    result = shuffled.evaluate(beta)
    assert not duckdb_engine.streaming_windows  # the proof failed: sorted windows from now on
    assert result.loglik == pytest.approx(in_order.loglik, rel=1e-12)
    np.testing.assert_allclose(result.gradient, in_order.gradient, atol=1e-8)
    np.testing.assert_allclose(result.information, in_order.information, rtol=1e-10)


def test_both_query_shapes_agree_on_data_without_ties(duckdb_engine: DuckDBEngine) -> None:
    """The per-row second moments (no ties) equal the windowed ones of the general query."""
    data = load(duckdb_engine, "continuous", covariates=["x1", "x2", "x3"])
    model = CoxPH().fit(data)
    sums = RiskSetSums(duckdb_engine, COX_TABLE, 3, Ties.efron)
    assert not sums.tied_events
    fast = sums.evaluate(model.beta)
    sums.tied_events = True
    general = sums.evaluate(model.beta)
    assert fast.loglik == pytest.approx(general.loglik, rel=1e-12)
    np.testing.assert_allclose(fast.gradient, general.gradient, atol=1e-9)
    np.testing.assert_allclose(fast.information, general.information, rtol=1e-11)
