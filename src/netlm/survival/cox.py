"""Cox proportional hazards with Efron (R's default) or Breslow ties, fitted as R's `coxph` does.

Each Newton–Raphson step is one SQL query: the engine computes exp(xβ) per row, sums
exp(xβ), x·exp(xβ) and x xᵀ·exp(xβ) per distinct time and over the tied events, accumulates the
risk sets with window sums, expands each event time into its d tied deaths (Efron's weights
l/d) and returns the log partial likelihood, its gradient and its information matrix, a few
dozen numbers. Python solves the p × p system and decides the next step.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations_with_replacement
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from netlm.survival.concordance import concordance
from netlm.survival.data import TABLE, SurvivalData
from netlm.survival.errors import SurvivalInputError

COX_TABLE = "netlm_cox"
EPS = 1e-9  # R's coxph.control(eps): relative change of the log partial likelihood
MAX_ITER = 20  # R's coxph.control(iter.max)

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[str], None]


class Ties(StrEnum):
    efron = "efron"
    breslow = "breslow"


@dataclass(frozen=True)
class Coefficient:
    name: str
    coef: float
    se: float
    hr: float
    hr_lower: float
    hr_upper: float
    p: float

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "coef": self.coef,
            "se": self.se,
            "hr": self.hr,
            "hr_lower": self.hr_lower,
            "hr_upper": self.hr_upper,
            "p": self.p,
        }


@dataclass(frozen=True)
class Step:
    """The log partial likelihood at β, its gradient and its (observed) information."""

    loglik: float
    gradient: FloatArray
    information: FloatArray


class CoxPH:
    """Cox proportional hazards regression on the covariates of the data."""

    def __init__(self, ties: Ties | str = Ties.efron, conf_level: float = 0.95) -> None:
        self.ties = Ties(ties)
        self.conf_level = conf_level
        self.coefficients: list[Coefficient] = []
        self.beta: FloatArray = np.zeros(0)
        self.means: FloatArray = np.zeros(0)
        self.loglik: float = float("nan")
        self.loglik_null: float = float("nan")
        self.iterations = 0
        self.converged = False
        self.concordance: float = float("nan")
        self.n = 0
        self.events = 0

    def fit(self, data: SurvivalData, progress: Progress | None = None) -> "CoxPH":
        note = progress or (lambda _: None)
        names = data.covariates
        if not names:
            raise SurvivalInputError(["--covariates: a Cox model needs at least one covariate"])
        p = len(names)
        self.means = _prepare(data)
        self.n, self.events = data.n, data.events
        event_sums = np.array(
            data.engine.rows(
                f"SELECT {', '.join(f'SUM(e * x{j})' for j in range(p))} FROM {COX_TABLE}"
            )[0],
            dtype=np.float64,
        )
        query = _step_sql(data, p, self.ties)
        beta = np.zeros(p)
        note("Newton–Raphson: iteration 0")
        current = _evaluate(data, query, beta, event_sums)
        self.loglik_null = current.loglik
        self.converged = False
        for iteration in range(1, MAX_ITER + 1):
            self.iterations = iteration
            note(f"Newton–Raphson: iteration {iteration}")
            step = _solve(current.information, current.gradient, names)
            trial = _evaluate(data, query, beta + step, event_sums)
            halvings = 0
            while not trial.loglik >= current.loglik and halvings < 30:  # R halves the step
                step /= 2
                halvings += 1
                trial = _evaluate(data, query, beta + step, event_sums)
            beta = beta + step
            done = abs(1 - current.loglik / trial.loglik) <= EPS
            current = trial
            if done:
                self.converged = True
                break
        self.beta, self.loglik = beta, current.loglik
        covariance = np.linalg.inv(current.information)
        se = np.sqrt(np.diag(covariance))
        z = NormalDist().inv_cdf(1 - (1 - self.conf_level) / 2)
        self.coefficients = [
            Coefficient(
                name=name,
                coef=float(b),
                se=float(s),
                hr=float(np.exp(b)),
                hr_lower=float(np.exp(b - z * s)),
                hr_upper=float(np.exp(b + z * s)),
                p=float(2 * NormalDist().cdf(-abs(b / s))),
            )
            for name, b, s in zip(names, beta, se, strict=True)
        ]
        note("concordance")
        self.concordance = concordance(data.engine, COX_TABLE, _linear_predictor(beta))
        return self

    def predict_log_partial_hazard(self, rows: Sequence[Sequence[float]]) -> FloatArray:
        """x·β relative to the mean covariate values (as R's `predict(fit, type = "lp")`)."""
        x = np.asarray(rows, dtype=np.float64) - self.means
        return np.asarray(x @ self.beta, dtype=np.float64)

    def predict_partial_hazard(self, rows: Sequence[Sequence[float]]) -> FloatArray:
        """exp(x·β) relative to the mean covariate values (R's `type = "risk"`)."""
        return np.asarray(np.exp(self.predict_log_partial_hazard(rows)), dtype=np.float64)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "events": self.events,
            "coefficients": [c.to_json_dict() for c in self.coefficients],
            "concordance": self.concordance,
        }


def _prepare(data: SurvivalData) -> FloatArray:
    """Keep the covariates centred (as R does, for exp(xβ) far from overflow); refuse constants."""
    p = len(data.covariates)
    stats = data.engine.rows(
        "SELECT "
        + ", ".join(f"AVG(x{j}), MIN(x{j}), MAX(x{j})" for j in range(p))
        + f" FROM {TABLE}"
    )[0]
    means = np.array([float(stats[3 * j]) for j in range(p)])
    constant = [
        name for j, name in enumerate(data.covariates) if stats[3 * j + 1] == stats[3 * j + 2]
    ]
    if constant:
        raise SurvivalInputError(
            [f'column "{name}": the same value in every row; not a covariate' for name in constant]
        )
    if data.events == 0:
        raise SurvivalInputError([f'column "{data.event}": no events (every row is censored)'])
    centred = ", ".join(f"x{j} - {_literal(means[j])} AS x{j}" for j in range(p))
    data.engine.materialise(COX_TABLE, f"SELECT t, e, {centred} FROM {TABLE}")
    return means


def _pairs(p: int) -> list[tuple[int, int]]:
    return list(combinations_with_replacement(range(p), 2))


def _step_sql(data: SurvivalData, p: int, ties: Ties) -> str:
    """The query behind one Newton step; `{eta}` stands for the linear predictor."""
    xs = range(p)
    pairs = _pairs(p)
    per_time = ", ".join(
        ["SUM(w) AS sw", "SUM(e) AS d", "SUM(e * w) AS ew"]
        + [f"SUM(w * x{j}) AS s_{j}" for j in xs]
        + [f"SUM(e * w * x{j}) AS e_{j}" for j in xs]
        + [f"SUM(w * x{j} * x{k}) AS s{j}_{k}" for j, k in pairs]
        + [f"SUM(e * w * x{j} * x{k}) AS e{j}_{k}" for j, k in pairs]
    )
    window = "OVER (ORDER BY t DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    risk_sets = ", ".join(
        ["d", "ew", f"SUM(sw) {window} AS rw"]
        + [f"e_{j}, SUM(s_{j}) {window} AS r_{j}" for j in xs]
        + [f"e{j}_{k}, SUM(s{j}_{k}) {window} AS r{j}_{k}" for j, k in pairs]
    )
    frac = "CAST(l AS DOUBLE) / d" if ties is Ties.efron else "0.0"
    tied = ", ".join(
        ["den"]
        + [f"(r_{j} - frac * e_{j}) / den AS m{j}" for j in xs]
        + [f"(r{j}_{k} - frac * e{j}_{k}) / den AS q{j}_{k}" for j, k in pairs]
    )
    totals = ", ".join(
        ["SUM(ln(den))"]
        + [f"SUM(m{j})" for j in xs]
        + [f"SUM(q{j}_{k} - m{j} * m{k})" for j, k in pairs]
    )
    engine = data.engine
    return (
        f"WITH rows_w AS (SELECT t, e, exp({{eta}}) AS w, {', '.join(f'x{j}' for j in xs)} "
        f"FROM {COX_TABLE}), "
        f"per_time AS (SELECT t, {per_time} FROM rows_w GROUP BY t), "
        f"risk AS (SELECT {risk_sets} FROM per_time), "
        f"deaths AS (SELECT *, {engine.explode_range('d')} AS l FROM risk WHERE d > 0), "
        f"weighted AS (SELECT *, rw - frac * ew AS den FROM "
        f"(SELECT *, {frac} AS frac FROM deaths) fr), "
        f"terms AS (SELECT {tied} FROM weighted) "
        f"SELECT {totals} FROM terms"
    )


def _evaluate(data: SurvivalData, query: str, beta: FloatArray, event_sums: FloatArray) -> Step:
    p = len(beta)
    row = data.engine.rows(query.replace("{eta}", _linear_predictor(beta)))[0]
    values = np.array([float(v) for v in row])
    loglik = float(beta @ event_sums - values[0])
    gradient = event_sums - values[1 : 1 + p]
    information = np.zeros((p, p))
    for (j, k), value in zip(_pairs(p), values[1 + p :], strict=True):
        information[j, k] = information[k, j] = value
    return Step(loglik, gradient, information)


def _solve(information: FloatArray, gradient: FloatArray, names: list[str]) -> FloatArray:
    """The Newton step; a singular information matrix means collinear covariates."""
    try:
        np.linalg.cholesky(information)
    except np.linalg.LinAlgError:
        raise SurvivalInputError(
            [
                "--covariates: the information matrix is singular; some of "
                f"{', '.join(names)} are collinear or constant within the events"
            ]
        ) from None
    return np.asarray(np.linalg.solve(information, gradient), dtype=np.float64)


def _linear_predictor(beta: FloatArray) -> str:
    return " + ".join(f"x{j} * {_literal(b)}" for j, b in enumerate(beta)) or "0.0"


def _literal(value: float) -> str:
    """A double literal both dialects read exactly (17 significant digits, exponent form)."""
    return f"({float(value):.17e})"
