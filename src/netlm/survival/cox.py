"""Cox proportional hazards with Efron (R's default) or Breslow ties, fitted as R's `coxph` does,
optionally stratified (R's `strata()`: risk sets within each stratum).

Newton–Raphson from β = 0 with R's step halving and convergence rule (relative change of the
log partial likelihood ≤ 1e-9, at most 20 iterations); each step is one SQL query over the
risk sets (`risksets`), Python solves the p × p system. On large data the first steps run on
a systematic sample of the rows (every k-th in time order): they only choose where the full
data's Newton iterations start, which then converge to the same estimate in fewer passes.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

from netlm.survival.concordance import concordance
from netlm.survival.data import TABLE, SurvivalData
from netlm.survival.errors import SurvivalInputError
from netlm.survival.options import Ties
from netlm.survival.risksets import (
    RiskSetSums,
    Step,
    linear_predictor,
    literal,
    sort_for_risk_sets,
)

COX_TABLE = "netlm_cox"
SAMPLE_TABLE = "netlm_cox_sample"
EPS = 1e-9  # R's coxph.control(eps): relative change of the log partial likelihood
MAX_ITER = 20  # R's coxph.control(iter.max)
SAMPLE_ABOVE = 200_000  # rows from which a sample chooses the starting point
SAMPLE_ROWS = 50_000

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[str], None]


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
class Fit:
    beta: FloatArray
    step: Step
    iterations: int
    converged: bool


class CoxPH:
    """Cox proportional hazards regression on the covariates of the data."""

    def __init__(self, ties: Ties | str = Ties.efron, conf_level: float = 0.95) -> None:
        self.ties = Ties(ties)
        self.conf_level = conf_level
        self.coefficients: list[Coefficient] = []
        self.beta: FloatArray = np.zeros(0)
        self.means: FloatArray = np.zeros(0)
        self.loglik: float = float("nan")
        self.iterations = 0
        self.converged = False
        self.concordance: float = float("nan")
        self.n = 0
        self.events = 0
        self.strata: list[str] = []

    def fit(
        self,
        data: SurvivalData,
        progress: Progress | None = None,
        *,
        warm_start: bool = True,
        with_concordance: bool = True,
    ) -> "CoxPH":
        """Estimate β; `warm_start=False` starts the full data at β = 0 as R does."""
        note = progress or (lambda _: None)
        names = data.covariates
        if not names:
            raise SurvivalInputError(
                ["--covariates, --factor: a Cox model needs at least one covariate"]
            )
        p = len(names)
        self.n, self.events = data.n, data.events
        self.means = _centre(data)
        stratified = bool(data.strata)
        self.strata = list(data.strata)
        note("sorting by time")
        centred = ", ".join(f"x{j} - {literal(self.means[j])} AS x{j}" for j in range(p))
        sort_for_risk_sets(
            data.engine, f"SELECT s, t, e, {centred} FROM {TABLE}", COX_TABLE, p, stratified
        )
        full = RiskSetSums(data.engine, COX_TABLE, p, self.ties, stratified)
        start = np.zeros(p)
        if warm_start and data.n > SAMPLE_ABOVE:
            every = data.n // SAMPLE_ROWS
            columns = ", ".join(f"x{j}" for j in range(p))
            sort_for_risk_sets(
                data.engine,
                f"SELECT s, t, e, {columns} FROM {COX_TABLE} WHERE pos % {every} = 0",
                SAMPLE_TABLE,
                p,
                stratified,
            )
            sample = RiskSetSums(data.engine, SAMPLE_TABLE, p, self.ties, stratified)
            start = _newton(sample, start, names, lambda i: note(f"sample: iteration {i}")).beta
        result = _newton(full, start, names, lambda i: note(f"Newton–Raphson: iteration {i}"))
        self.beta, self.loglik = result.beta, result.step.loglik
        self.iterations, self.converged = result.iterations, result.converged
        self.coefficients = self._coefficients(names, result.step)
        if with_concordance:
            note("concordance")
            self.concordance = concordance(
                data.engine, COX_TABLE, linear_predictor(self.beta), stratified
            )
        return self

    def predict_log_partial_hazard(self, rows: Sequence[Sequence[float]]) -> FloatArray:
        """x·β relative to the mean covariate values (as R's `predict(fit, type = "lp")`)."""
        x = np.asarray(rows, dtype=np.float64) - self.means
        return np.asarray(x @ self.beta, dtype=np.float64)

    def predict_partial_hazard(self, rows: Sequence[Sequence[float]]) -> FloatArray:
        """exp(x·β) relative to the mean covariate values (R's `type = "risk"`)."""
        return np.asarray(np.exp(self.predict_log_partial_hazard(rows)), dtype=np.float64)

    def to_json_dict(self) -> dict[str, Any]:
        strata = {"strata": self.strata} if self.strata else {}
        return {
            "n": self.n,
            "events": self.events,
            **strata,
            "coefficients": [c.to_json_dict() for c in self.coefficients],
            "concordance": self.concordance,
        }

    def _coefficients(self, names: list[str], step: Step) -> list[Coefficient]:
        se = np.sqrt(np.diag(np.linalg.inv(step.information)))
        z = NormalDist().inv_cdf(1 - (1 - self.conf_level) / 2)
        return [
            Coefficient(
                name=name,
                coef=float(b),
                se=float(s),
                hr=float(np.exp(b)),
                hr_lower=float(np.exp(b - z * s)),
                hr_upper=float(np.exp(b + z * s)),
                p=_wald_p(float(b / s)),
            )
            for name, b, s in zip(names, self.beta, se, strict=True)
        ]


def _wald_p(z: float) -> float:
    """Two-sided normal p of a Wald z, accurate far into the tail (erfc, as R's pnorm: the
    difference 1 - Φ(|z|) would round to 0 beyond |z| ≈ 8.3)."""
    return math.erfc(abs(z) / math.sqrt(2))


def _newton(
    sums: RiskSetSums, beta: FloatArray, names: list[str], note: Callable[[int], None]
) -> Fit:
    """R's coxph.fit loop: Newton steps, halved while the likelihood does not increase.

    As in R, convergence is tested on the full Newton step before any halving: near the
    maximum the likelihood is flat to rounding, and a full step that "loses" 1e-13 of it must
    be taken, not halved (halving there stops short of the estimate by ~1e-8). A halved step
    never ends the fit; the next Newton step starts from it.
    """
    note(0)
    current = sums.evaluate(beta)
    for iteration in range(1, MAX_ITER + 1):
        note(iteration)
        step = _solve(current.information, current.gradient, names)
        trial = sums.evaluate(beta + step)
        if abs(1 - current.loglik / trial.loglik) <= EPS:
            return Fit(beta + step, trial, iteration, True)
        halvings = 0
        while not trial.loglik >= current.loglik and halvings < 30:
            step = step / 2
            halvings += 1
            trial = sums.evaluate(beta + step)
        beta = beta + step
        current = trial
    return Fit(beta, current, MAX_ITER, False)


def _centre(data: SurvivalData) -> FloatArray:
    """The covariate means (R centres too: exp(xβ) stays far from overflow); refuse constants."""
    p = len(data.covariates)
    stats = data.engine.rows(
        "SELECT "
        + ", ".join(f"AVG(x{j}), MIN(x{j}), MAX(x{j})" for j in range(p))
        + f" FROM {TABLE}"
    )[0]
    constant = [
        name for j, name in enumerate(data.covariates) if stats[3 * j + 1] == stats[3 * j + 2]
    ]
    if constant:
        raise SurvivalInputError(
            [f'column "{name}": the same value in every row; not a covariate' for name in constant]
        )
    if data.events == 0:
        raise SurvivalInputError([f'column "{data.event}": no events (every row is censored)'])
    return np.array([float(stats[3 * j]) for j in range(p)])


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
