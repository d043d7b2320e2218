"""The log-rank test for k groups, as R's `survdiff` (rho = 0) computes it.

The engine sums, over the distinct event times, each group's observed and expected events and
the k × k variance of their difference; Python only solves the small k − 1 system. Up to
PIVOT_GROUPS groups, one pass: a column per group of the per-time counts, one running window
per group for its risk set, every sum in one aggregate. With more groups (each a pair of
columns would make the query wide), a grid of event times × groups and a self-join on time.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from netlm.survival.data import TABLE, SurvivalData
from netlm.survival.engines import sql_string
from netlm.survival.errors import SurvivalInputError

PIVOT_GROUPS = 12
FloatArray = npt.NDArray[np.float64]

# Per (group, pooled event time): the group's number at risk n_g and events d_g, with the pooled
# numbers at risk n and events d. A group's risk set at a time where it has no row comes from
# zero-count grid rows, summed with RANGE so that rows at the same time count as at risk.
_RISK_SETS = f"""
WITH cnt AS (SELECT g, t, count(*) AS c, SUM(e) AS d FROM {TABLE} GROUP BY g, t),
pooled AS (
  SELECT t, d, SUM(c) OVER (ORDER BY t DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    AS n
  FROM (SELECT t, SUM(c) AS c, SUM(d) AS d FROM cnt GROUP BY t) totals
),
grid AS (
  SELECT groups.g, pooled.t FROM pooled CROSS JOIN (SELECT DISTINCT g FROM cnt) groups
  WHERE pooled.d > 0
),
stacked AS (
  SELECT g, t, c, d FROM cnt
  UNION ALL SELECT g, t, 0 AS c, 0 AS d FROM grid
),
at_risk AS (
  SELECT g, t, d, SUM(c) OVER (PARTITION BY g ORDER BY t DESC
    RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n_g
  FROM stacked
),
per_group AS (
  SELECT a.g, a.t, MAX(a.n_g) AS n_g, SUM(a.d) AS d_g, MAX(p.n) AS n, MAX(p.d) AS d
  FROM at_risk a JOIN pooled p ON a.t = p.t
  WHERE p.d > 0 GROUP BY a.g, a.t
)
"""


@dataclass(frozen=True)
class LogRankResult:
    chisq: float
    df: int
    p: float
    groups: list[str]
    observed: npt.NDArray[np.float64]
    expected: npt.NDArray[np.float64]

    def to_json_dict(self) -> dict[str, Any]:
        return {"chisq": self.chisq, "df": self.df, "p": self.p}


class LogRank:
    """Log-rank test of equal survival across the groups of the data."""

    def __init__(self) -> None:
        self.result: LogRankResult | None = None

    def fit(self, data: SurvivalData) -> "LogRank":
        if len(data.groups) < 2:
            raise SurvivalInputError(
                [
                    f'column "{data.by}": one group only ({data.groups[0].label}); '
                    "a log-rank test compares two or more"
                    if data.by is not None
                    else "--by: a log-rank test compares groups; name the column that holds them"
                ]
            )
        if data.events == 0:
            raise SurvivalInputError(
                [f'column "{data.event}": no events (every row is censored); nothing to compare']
            )
        labels = [group.label for group in data.groups]
        if len(labels) <= PIVOT_GROUPS:
            observed, expected, variance = _pivoted(data, labels)
        else:
            observed, expected, variance = _grid(data, labels)
        self.result = _test(labels, observed, expected, variance)
        return self

    def to_json_dict(self) -> dict[str, Any]:
        if self.result is None:
            raise RuntimeError("fit the test first")
        return self.result.to_json_dict()


def _pivoted(data: SurvivalData, labels: list[str]) -> tuple[FloatArray, FloatArray, FloatArray]:
    k = len(labels)
    counts = ", ".join(
        f"SUM(CASE WHEN g = {sql_string(label)} THEN 1 ELSE 0 END) AS c{i}, "
        f"SUM(CASE WHEN g = {sql_string(label)} THEN e ELSE 0 END) AS d{i}"
        for i, label in enumerate(labels)
    )
    window = "OVER (ORDER BY t DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    risk = ", ".join(f"d{i}, SUM(c{i}) {window} AS n{i}" for i in range(k))
    pairs = [(i, j) for i in range(k) for j in range(i, k)]
    sums = ", ".join(
        [f"SUM(d{i})" for i in range(k)]
        + [f"SUM(CAST(n{i} AS DOUBLE) * d / n)" for i in range(k)]
        + [f"SUM(v * n{i} / n)" for i in range(k)]
        + [f"SUM(v * n{i} * n{j} / (CAST(n AS DOUBLE) * n))" for i, j in pairs]
    )
    row = data.engine.rows(
        f"SELECT {sums} FROM ("
        f"  SELECT *, CASE WHEN n > 1 THEN CAST(d AS DOUBLE) * (n - d) / (n - 1) ELSE 0 END AS v"
        f"  FROM (SELECT d, SUM(c) {window} AS n, {risk} FROM ("
        f"    SELECT t, count(*) AS c, SUM(e) AS d, {counts} FROM {TABLE} GROUP BY t"
        f"  ) per_time) risk_sets"
        f") weighted WHERE d > 0"
    )[0]
    values = np.array([float(v) for v in row])
    observed, expected, diagonal = values[:k], values[k : 2 * k], values[2 * k : 3 * k]
    variance = np.diag(diagonal)
    for (i, j), cross in zip(pairs, values[3 * k :], strict=True):
        variance[i, j] -= cross
        if i != j:
            variance[j, i] -= cross
    return observed, expected, variance


def _grid(data: SurvivalData, labels: list[str]) -> tuple[FloatArray, FloatArray, FloatArray]:
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    observed, expected = np.zeros(k), np.zeros(k)
    for g, o, e in data.engine.rows(
        _RISK_SETS + "SELECT g, SUM(d_g), SUM(CAST(n_g AS DOUBLE) * d / n) "
        "FROM per_group GROUP BY g"
    ):
        observed[index[str(g)]], expected[index[str(g)]] = float(o), float(e)
    variance = np.zeros((k, k))
    # v_t = d (n - d) / (n - 1); V_gh = Σ v_t n_g / n (δ_gh − n_h / n)
    for g, h, diagonal, cross in data.engine.rows(
        _RISK_SETS + "SELECT a.g, b.g, "
        "SUM(CASE WHEN a.g = b.g THEN v * a.n_g / a.n ELSE 0 END), "
        "SUM(v * a.n_g * b.n_g / (CAST(a.n AS DOUBLE) * a.n)) "
        "FROM (SELECT *, CASE WHEN n > 1 THEN CAST(d AS DOUBLE) * (n - d) / (n - 1) "
        "ELSE 0 END AS v FROM per_group) a "
        "JOIN per_group b ON a.t = b.t GROUP BY a.g, b.g"
    ):
        variance[index[str(g)], index[str(h)]] = float(diagonal) - float(cross)
    return observed, expected, variance


def _test(
    labels: list[str],
    observed: npt.NDArray[np.float64],
    expected: npt.NDArray[np.float64],
    variance: npt.NDArray[np.float64],
) -> LogRankResult:
    """R's survdiff: drop groups with nothing expected, then the first, and solve."""
    keep = expected > 0
    df = int(keep.sum()) - 1
    chisq = 0.0
    if df >= 1:
        diff = (observed - expected)[keep][1:]
        v = variance[np.ix_(keep, keep)][1:, 1:]
        chisq = float(diff @ np.linalg.pinv(v) @ diff)  # pinv: a singular V is no crash
    from scipy.stats import chi2  # loaded on use: scipy.stats takes a while to import

    p = float(chi2.sf(chisq, df)) if df >= 1 else 1.0
    return LogRankResult(chisq, df, p, labels, observed, expected)
