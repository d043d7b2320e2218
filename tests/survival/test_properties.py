"""Invariants on random small data sets (hypothesis), checked against direct computations."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlm.survival.concordance import pair_counts
from netlm.survival.cox import CoxPH
from netlm.survival.data import TABLE, SurvivalData
from netlm.survival.engines import DuckDBEngine
from netlm.survival.km import KaplanMeier
from netlm.survival.logrank import LogRank

Row = tuple[int, int, str, float]

rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 12),  # few distinct times: many ties
        st.integers(0, 1),
        st.sampled_from(["a", "b", "c"]),
        st.integers(-20, 20).map(lambda v: v / 4),
    ),
    min_size=2,
    max_size=60,
)


@contextmanager
def loaded(rows: list[Row], **options: object) -> Iterator[SurvivalData]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        body = "".join(f"{t},{e},{g},{x}\n" for t, e, g, x in rows)
        path.write_text("time,event,arm,x\n" + body, encoding="utf-8")
        engine = DuckDBEngine()
        try:
            yield SurvivalData.load(engine, path, time="time", event="event", **options)  # type: ignore[arg-type]
        finally:
            engine.close()


@settings(max_examples=40, deadline=None)
@given(rows_strategy)
def test_kaplan_meier_is_the_product_limit(rows: list[Row]) -> None:
    with loaded(rows) as data:
        curve = KaplanMeier().fit(data).curves[0]
    times = sorted({t for t, e, _, _ in rows if e == 1})
    survival, expected = 1.0, []
    for time in times:
        at_risk = sum(1 for t, _, _, _ in rows if t >= time)
        deaths = sum(1 for t, e, _, _ in rows if t == time and e == 1)
        survival *= 1 - deaths / at_risk
        expected.append((time, at_risk, deaths, survival))
    assert curve.time.tolist() == [float(t) for t, _, _, _ in expected]
    assert curve.n_risk.tolist() == [n for _, n, _, _ in expected]
    assert curve.n_event.tolist() == [d for _, _, d, _ in expected]
    np.testing.assert_allclose(curve.survival, [s for *_, s in expected], rtol=1e-12)
    assert np.all(np.diff(curve.survival) <= 0)
    defined = ~np.isnan(curve.lower)
    assert np.all(curve.lower[defined] <= curve.survival[defined] + 1e-15)
    assert np.all(curve.survival[defined] <= curve.upper[defined] + 1e-15)
    assert np.all(curve.upper[defined] <= 1)


@settings(max_examples=30, deadline=None)
@given(rows_strategy)
def test_log_rank_does_not_depend_on_group_names(rows: list[Row]) -> None:
    renamed = [(t, e, {"a": "z", "b": "y", "c": "x"}[g], x) for t, e, g, x in rows]
    if not any(e for _, e, _, _ in rows):
        return  # no events: refused (tested in test_validation)
    results = []
    for data_rows in (rows, renamed):
        with loaded(data_rows, by="arm") as data:
            if len(data.groups) < 2:
                return
            test = LogRank().fit(data).result
            assert test is not None
            results.append(test)
    assert results[0].df == results[1].df
    assert results[0].chisq == pytest.approx(results[1].chisq, rel=1e-9, abs=1e-12)
    assert results[0].chisq >= -1e-12


@settings(max_examples=30, deadline=None)
@given(rows_strategy)
def test_concordance_counts_every_comparable_pair(rows: list[Row]) -> None:
    concordant = discordant = tied = 0
    for ti, ei, _, xi in rows:
        if ei != 1:
            continue
        for tj, ej, _, xj in rows:
            if tj > ti or (tj == ti and ej == 0):
                concordant += xi > xj
                discordant += xi < xj
                tied += xi == xj
    with loaded(rows, covariates=["x"]) as data:
        engine = data.engine
        assert pair_counts(engine, TABLE, "x0") == (concordant, discordant, tied)
        engine.frame_rank = False  # the bit-level count Spark uses
        assert pair_counts(engine, TABLE, "x0") == (concordant, discordant, tied)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_cox_is_equivariant_under_shift_and_scale(seed: int) -> None:
    """x → a·x + b gives β → β / a: the model sees only differences of x.

    To the convergence tolerance (R's: 1e-9 on the log likelihood), as one of the two fits may
    take one more Newton step than the other."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=80)
    times = np.round(rng.exponential(1 / np.exp(0.7 * x)) * 10)
    events = (rng.uniform(size=80) < 0.8).astype(int)
    rows = [(int(t), int(e), "a", float(v)) for t, e, v in zip(times, events, x, strict=True)]
    shifted = [(t, e, g, 3 * v + 7) for t, e, g, v in rows]
    with loaded(rows, covariates=["x"]) as data:
        base = CoxPH().fit(data)
    with loaded(shifted, covariates=["x"]) as data:
        moved = CoxPH().fit(data)
    assert base.converged
    assert moved.converged
    assert moved.coefficients[0].coef == pytest.approx(base.coefficients[0].coef / 3, rel=1e-6)
    assert moved.coefficients[0].p == pytest.approx(base.coefficients[0].p, rel=1e-5)
    assert moved.concordance == base.concordance
