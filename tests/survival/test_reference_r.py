"""Kaplan–Meier, log-rank and Cox against R's survival package (fixtures from make_fixtures.R).

KM estimates and confidence limits agree to 1e-8, Cox coefficients to 1e-6 (they agree to
~1e-12 in practice); R's NA is NaN here. The fixtures are committed: R is not needed to run.
"""

from collections import defaultdict

import numpy as np
import pytest

from netlm.survival import logrank
from netlm.survival.cox import CoxPH
from netlm.survival.data import Factor
from netlm.survival.engines import DuckDBEngine
from netlm.survival.km import KaplanMeier
from netlm.survival.logrank import LogRank
from tests.survival.conftest import load, number, read_csv

KM_CASES = [
    ("lung", None, "km_lung"),
    ("lung", "sex", "km_lung_sex"),
    ("ties", "arm", "km_ties_arm"),
    ("continuous", None, "km_continuous"),
    ("ends", "arm", "km_ends_arm"),  # S reaches 0: R's NA limits, NaN here
]


@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
@pytest.mark.parametrize(("dataset", "by", "fixture"), KM_CASES)
def test_kaplan_meier_equals_r(
    duckdb_engine: DuckDBEngine, dataset: str, by: str | None, fixture: str, conf_type: str
) -> None:
    expected: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in read_csv(f"{fixture}_{conf_type}.csv"):
        expected[row["group"]].append(row)
    km = KaplanMeier(conf_type).fit(load(duckdb_engine, dataset, by=by))
    assert [curve.group for curve in km.curves] == list(expected)
    for curve in km.curves:
        rows = expected[curve.group]
        assert curve.n_risk.tolist() == [int(r["n_risk"]) for r in rows]
        assert curve.n_event.tolist() == [int(r["n_event"]) for r in rows]
        for column, values in (
            ("time", curve.time),
            ("survival", curve.survival),
            ("lower", curve.lower),
            ("upper", curve.upper),
        ):
            reference = np.array([number(r[column]) for r in rows])
            np.testing.assert_allclose(values, reference, rtol=0, atol=1e-8, err_msg=column)
            assert np.array_equal(np.isnan(values), np.isnan(reference)), column


@pytest.mark.parametrize("layout", ["pivoted", "grid"])
@pytest.mark.parametrize("row", read_csv("logrank.csv"), ids=lambda row: row["case"])
def test_log_rank_equals_r(
    duckdb_engine: DuckDBEngine, row: dict[str, str], layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both query layouts: a column per group (few groups) and the time × group grid (many)."""
    monkeypatch.setattr(logrank, "PIVOT_GROUPS", 12 if layout == "pivoted" else 1)
    dataset, by = row["case"].split("_", 1)
    result = LogRank().fit(load(duckdb_engine, dataset, by=by)).result
    assert result is not None
    assert result.df == int(row["df"])
    assert result.chisq == pytest.approx(number(row["chisq"]), rel=1e-10)
    assert result.p == pytest.approx(number(row["p"]), rel=1e-8)


COX = read_csv("cox.csv")
COX_CASES = sorted({(row["case"], row["ties"]) for row in COX})


@pytest.mark.parametrize(("dataset", "ties"), COX_CASES)
def test_cox_equals_r(duckdb_engine: DuckDBEngine, dataset: str, ties: str) -> None:
    rows = [row for row in COX if (row["case"], row["ties"]) == (dataset, ties)]
    names = [row["name"] for row in rows]
    model = CoxPH(ties).fit(load(duckdb_engine, dataset, covariates=names))
    assert model.converged
    assert (model.n, model.events) == (int(rows[0]["n"]), int(rows[0]["events"]))
    assert model.loglik == pytest.approx(number(rows[0]["loglik"]), rel=1e-10)
    assert model.concordance == pytest.approx(number(rows[0]["concordance"]), abs=1e-12)
    for coefficient, row in zip(model.coefficients, rows, strict=True):
        assert coefficient.name == row["name"]
        assert coefficient.coef == pytest.approx(number(row["coef"]), abs=1e-6)
        assert coefficient.coef == pytest.approx(number(row["coef"]), rel=1e-8)
        for field in ("se", "hr", "hr_lower", "hr_upper", "p"):
            expected = number(row[field])  # no absolute floor: p can be 1e-22
            assert getattr(coefficient, field) == pytest.approx(expected, rel=1e-7, abs=0), field


def test_warm_start_reaches_the_estimate_r_reaches(duckdb_engine: DuckDBEngine) -> None:
    """The sample only picks the start: from β = 0 the result is the same estimate."""
    data = load(duckdb_engine, "ties", covariates=["x1", "x2", "x3"])
    cold = CoxPH().fit(data, warm_start=False)
    for coefficient, row in zip(
        cold.coefficients, [r for r in COX if r["case"] == "ties"], strict=False
    ):
        assert coefficient.coef == pytest.approx(number(row["coef"]), abs=1e-9)


COX_FACTORS = read_csv("cox_factors.csv")
FACTOR_CASES = sorted({(r["case"], r["ties"], r["covariates"], r["factor"]) for r in COX_FACTORS})


@pytest.mark.parametrize(("dataset", "ties", "covariates", "factor"), FACTOR_CASES)
def test_cox_with_a_categorical_covariate_equals_r(
    duckdb_engine: DuckDBEngine, dataset: str, ties: str, covariates: str, factor: str
) -> None:
    """`Factor` against R's `relevel(factor(x), ref)`: the indicators, their names and order."""
    rows = [
        r
        for r in COX_FACTORS
        if (r["case"], r["ties"], r["covariates"], r["factor"])
        == (dataset, ties, covariates, factor)
    ]
    data = load(
        duckdb_engine, dataset, covariates=covariates.split(), factors=[Factor.parse(factor)]
    )
    model = CoxPH(ties).fit(data)
    assert model.converged
    assert [c.name for c in model.coefficients] == [r["name"] for r in rows]
    assert (model.n, model.events) == (int(rows[0]["n"]), int(rows[0]["events"]))
    assert model.loglik == pytest.approx(number(rows[0]["loglik"]), rel=1e-10)
    assert model.concordance == pytest.approx(number(rows[0]["concordance"]), abs=1e-12)
    for coefficient, row in zip(model.coefficients, rows, strict=True):
        assert coefficient.coef == pytest.approx(number(row["coef"]), abs=1e-6)
        for field in ("se", "hr", "hr_lower", "hr_upper", "p"):
            expected = number(row[field])  # no absolute floor: p can be 1e-22
            assert getattr(coefficient, field) == pytest.approx(expected, rel=1e-7, abs=0), field


COX_STRATA = read_csv("cox_strata.csv")
STRATA_CASES = sorted({(r["case"], r["ties"], r["strata"]) for r in COX_STRATA})


@pytest.mark.parametrize(("dataset", "ties", "stratum"), STRATA_CASES)
def test_stratified_cox_equals_r(
    duckdb_engine: DuckDBEngine, dataset: str, ties: str, stratum: str
) -> None:
    """`strata=` against R's `+ strata(x)`: risk sets and concordance within each stratum;
    tied (lung, ties) and tie-free (continuous) event times."""
    rows = [
        r for r in COX_STRATA if (r["case"], r["ties"], r["strata"]) == (dataset, ties, stratum)
    ]
    names = [r["name"] for r in rows]
    model = CoxPH(ties).fit(load(duckdb_engine, dataset, covariates=names, strata=[stratum]))
    assert model.converged
    assert (model.n, model.events) == (int(rows[0]["n"]), int(rows[0]["events"]))
    assert model.loglik == pytest.approx(number(rows[0]["loglik"]), rel=1e-10)
    assert model.concordance == pytest.approx(number(rows[0]["concordance"]), abs=1e-12)
    assert model.to_json_dict()["strata"] == [stratum]
    for coefficient, row in zip(model.coefficients, rows, strict=True):
        assert coefficient.coef == pytest.approx(number(row["coef"]), abs=1e-6)
        assert coefficient.coef == pytest.approx(number(row["coef"]), rel=1e-8)
        for field in ("se", "hr", "hr_lower", "hr_upper", "p"):
            expected = number(row[field])  # no absolute floor: p can be 1e-22
            assert getattr(coefficient, field) == pytest.approx(expected, rel=1e-7, abs=0), field
