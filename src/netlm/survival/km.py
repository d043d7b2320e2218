"""Kaplan–Meier estimator with Greenwood variance, as R's `survfit` computes it.

The engine counts, per group and distinct time, the rows and the events, and sums the risk set
with a window; Python only multiplies along the event times of each group.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from netlm.survival.data import TABLE, SurvivalData
from netlm.survival.options import ConfType

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Curve:
    """One group's estimate at each of its event times (R: `summary(fit, censored = FALSE)`)."""

    group: str
    time: FloatArray
    survival: FloatArray
    lower: FloatArray
    upper: FloatArray
    n_risk: npt.NDArray[np.int64]
    n_event: npt.NDArray[np.int64]
    std_err_log: FloatArray  # standard error of the cumulative hazard (Greenwood)

    def at(self, times: Sequence[float]) -> FloatArray:
        """The survival estimate at arbitrary times (a right-continuous step function)."""
        index = np.searchsorted(self.time, np.asarray(times, dtype=np.float64), side="right")
        padded = np.concatenate([[1.0], self.survival])
        return np.asarray(padded[index], dtype=np.float64)

    def median(self) -> tuple[float | None, float | None, float | None]:
        """Median survival with its confidence limits (R's print.survfit); None: not reached.

        The lower limit is where the lower band crosses one half, the upper where the upper does.
        """
        return (
            _median(self.time, self.survival),
            _median(self.time, self.lower),
            _median(self.time, self.upper),
        )

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "time": _json_floats(self.time),
            "survival": _json_floats(self.survival),
            "lower": _json_floats(self.lower),
            "upper": _json_floats(self.upper),
            "n_risk": [int(v) for v in self.n_risk],
            "n_event": [int(v) for v in self.n_event],
        }


class KaplanMeier:
    """Kaplan–Meier curves, one per group of the data (lifelines style: construct, then fit)."""

    def __init__(self, conf_type: ConfType | str = ConfType.log, conf_level: float = 0.95) -> None:
        if not 0 < conf_level < 1:
            raise ValueError("conf_level must lie between 0 and 1")
        self.conf_type = ConfType(conf_type)
        self.conf_level = conf_level
        self.curves: list[Curve] = []
        self.max_time = 0.0
        self._data: SurvivalData | None = None

    def fit(self, data: SurvivalData) -> "KaplanMeier":
        counts = data.engine.arrays(
            "SELECT g, t, n_risk, d FROM ("
            "  SELECT g, t, d, SUM(n) OVER (PARTITION BY g ORDER BY t DESC"
            "    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n_risk"
            f"  FROM (SELECT g, t, count(*) AS n, SUM(e) AS d FROM {TABLE} GROUP BY g, t) c"
            ") r WHERE d > 0 ORDER BY g, t"
        )
        labels = np.asarray(counts["g"]).astype(str)
        z = NormalDist().inv_cdf(1 - (1 - self.conf_level) / 2)
        self.curves = []
        for group in data.groups:
            mine = labels == group.label
            self.curves.append(
                _curve(
                    group.label,
                    np.asarray(counts["t"][mine], dtype=np.float64),
                    np.asarray(counts["n_risk"][mine], dtype=np.int64),
                    np.asarray(counts["d"][mine], dtype=np.int64),
                    self.conf_type,
                    z,
                )
            )
        ((longest,),) = data.engine.rows(f"SELECT MAX(t) FROM {TABLE}")
        self.max_time = float(longest)
        self._data = data
        return self

    def predict(self, times: Sequence[float], group: str | None = None) -> FloatArray:
        """Survival at `times` for `group` (the only curve when the data has no groups)."""
        return self._curve(group).at(times)

    def number_at_risk(self, times: Sequence[float]) -> dict[str, list[int]]:
        """Per group, how many rows are still followed at each time (the table under a plot)."""
        if self._data is None:
            raise RuntimeError("fit the estimator first")
        columns = ", ".join(
            f"SUM(CASE WHEN t >= {float(x)!r} THEN 1 ELSE 0 END) AS n{i}"
            for i, x in enumerate(times)
        )
        found = {
            str(row[0]): [int(v) for v in row[1:]]
            for row in self._data.engine.rows(f"SELECT g, {columns} FROM {TABLE} GROUP BY g")
        }
        return {curve.group: found.get(curve.group, [0] * len(times)) for curve in self.curves}

    def to_json_dict(self) -> dict[str, Any]:
        return {"groups": [curve.to_json_dict() for curve in self.curves]}

    def _curve(self, group: str | None) -> Curve:
        if group is None and len(self.curves) == 1:
            return self.curves[0]
        for curve in self.curves:
            if curve.group == group:
                return curve
        raise KeyError(f"no group {group!r}; groups: {[c.group for c in self.curves]}")


def _curve(
    group: str,
    time: FloatArray,
    n_risk: npt.NDArray[np.int64],
    n_event: npt.NDArray[np.int64],
    conf_type: ConfType,
    z: float,
) -> Curve:
    n = n_risk.astype(np.float64)
    d = n_event.astype(np.float64)
    survival = np.cumprod(1.0 - d / n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Greenwood: the increment is infinite where everyone at risk has the event (as in R).
        increment = np.where(n > d, d / (n * (n - d)), np.inf)
        se: FloatArray = np.sqrt(np.cumsum(increment))
        lower, upper = confidence_interval(survival, se, conf_type, z)
    return Curve(group, time, survival, lower, upper, n_risk, n_event, se)


def confidence_interval(
    p: FloatArray, se: FloatArray, conf_type: ConfType, z: float
) -> tuple[FloatArray, FloatArray]:
    """R's `survfit_confint` with `logse = TRUE`: NaN where R gives NA."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type is ConfType.plain:
            half = se * p * z
            return np.maximum(p - half, 0.0), np.minimum(p + half, 1.0)
        if conf_type is ConfType.log:
            xx = np.where(p == 0, np.nan, p)
            return np.exp(np.log(xx) - z * se), np.minimum(np.exp(np.log(xx) + z * se), 1.0)
        xx = np.where((p == 0) | (p == 1), np.nan, p)
        half = z * se / np.log(xx)
        loglog = np.log(-np.log(xx))
        return np.exp(-np.exp(loglog - half)), np.exp(-np.exp(loglog + half))


def _median(time: FloatArray, survival: FloatArray) -> float | None:
    """The first time the curve is at or below one half; where it sits exactly at one half, the
    midpoint to the next event time (as R does)."""
    below = np.flatnonzero(survival <= 0.5)
    if len(below) == 0:
        return None
    i = int(below[0])
    if np.isclose(survival[i], 0.5, rtol=0, atol=1e-12) and i + 1 < len(time):
        return float((time[i] + time[i + 1]) / 2)
    return float(time[i])


def _json_floats(values: FloatArray) -> list[float | None]:
    """Floats for JSON: R's NA (NaN here, no JSON literal) becomes null."""
    return [None if not np.isfinite(v) else float(v) for v in values]
