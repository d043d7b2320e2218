"""Risk-set sums for the Cox partial likelihood, one SQL query per Newton step.

The rows are kept sorted by time, latest first, with `pos` their place in that order and `last`
marking the final row of each time; then the risk set of a time is every row up to its last
row, and running window sums give exp(xβ), x·exp(xβ) and x xᵀ·exp(xβ) over it. The tied events
of each time are summed by an aggregate, expanded into their d deaths (Efron's l/d weights),
and the query returns the log partial likelihood, its gradient and its information matrix.
When no two events share a time (continuous follow-up), each event is its own tied set and
the query reads its sums off the running rows directly: no aggregate, join or expansion.

DuckDB evaluates a window without ORDER BY as a streaming running sum in table order, six
times faster than a sorted window. The query proves that order on every row it uses (the count
of rows so far and the largest `pos` so far must both equal the row's `pos`, so the frame is
exactly rows 1..pos); if the proof fails the query is run again with ORDER BY. Spark always
sorts.
"""

from dataclasses import dataclass
from itertools import combinations_with_replacement

import numpy as np
import numpy.typing as npt

from netlm.survival.engines import SqlEngine
from netlm.survival.options import Ties

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Step:
    """The log partial likelihood at β, its gradient and its (observed) information."""

    loglik: float
    gradient: FloatArray
    information: FloatArray


def pairs(p: int) -> list[tuple[int, int]]:
    return list(combinations_with_replacement(range(p), 2))


def sort_for_risk_sets(
    engine: SqlEngine, source: str, target: str, p: int, stratified: bool = False
) -> None:
    """Materialise `source` (s, t, e, x0…) as `target` sorted latest first (stratum by stratum
    when `stratified`), with pos and last (the final row of its time in its stratum)."""
    xs = ", ".join(f"x{j}" for j in range(p))
    by, within = ("s, ", "PARTITION BY s ") if stratified else ("", "")
    engine.materialise(
        target,
        f"SELECT pos, s, t, e, CASE WHEN next_t = t THEN 0 ELSE 1 END AS last, {xs} FROM ("
        f"  SELECT *, lead(t) OVER ({within}ORDER BY pos) AS next_t FROM ("
        f"    SELECT row_number() OVER (ORDER BY {by}t DESC, e) AS pos, s, t, e, {xs} "
        f"    FROM ({source}) source"
        f"  ) numbered"
        f") flagged ORDER BY pos",
    )


class RiskSetSums:
    """The Newton-step query on one sorted table; `evaluate(β)` runs it.

    `stratified`: each stratum (column s) has its own risk sets, as R's `strata()`; the running
    windows are then partitioned and sorted (no streaming)."""

    def __init__(
        self, engine: SqlEngine, table: str, p: int, ties: Ties, stratified: bool = False
    ) -> None:
        self.engine = engine
        self.table = table
        self.p = p
        self.ties = ties
        self.stratified = stratified
        sums = engine.rows(
            f"SELECT {', '.join(f'SUM(e * x{j})' for j in range(p))}, "
            f"(SELECT COALESCE(MAX(d), 0) FROM "
            f"(SELECT COUNT(*) AS d FROM {table} WHERE e = 1 GROUP BY s, t) per_time) FROM {table}"
        )[0]
        self.event_sums = np.array(sums[:p], dtype=np.float64)
        self.tied_events = int(sums[p]) > 1

    def evaluate(self, beta: FloatArray) -> Step:
        p = self.p
        streaming = self.engine.streaming_windows and not self.stratified
        values = self._run(beta, streaming=streaming)
        loglik = float(beta @ self.event_sums - values[0])
        gradient = self.event_sums - values[1 : 1 + p]
        information = np.zeros((p, p))
        for (j, k), value in zip(pairs(p), values[1 + p :], strict=True):
            information[j, k] = information[k, j] = value
        return Step(loglik, gradient, information)

    def _run(self, beta: FloatArray, streaming: bool) -> FloatArray:
        row = self.engine.rows(self.query(beta, streaming))[0]
        if streaming and row[-1]:
            self.engine.streaming_windows = False  # order not kept: sort from now on
            return self._run(beta, streaming=False)
        return np.array([float(v) for v in row[:-1]])

    def query(self, beta: FloatArray, streaming: bool) -> str:
        p, xs, both = self.p, range(self.p), pairs(self.p)
        eta = linear_predictor(beta)
        frame = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
        within = "PARTITION BY s " if self.stratified else ""
        window = f"({frame})" if streaming else f"({within}ORDER BY pos {frame})"
        running = ", ".join(
            [
                "pos",
                "s",
                "t",
                "last",
                "COUNT(*) OVER win AS seen",
                "MAX(pos) OVER win AS top",
                "SUM(w) OVER win AS rw",
            ]
            + [f"SUM(w * x{j}) OVER win AS r_{j}" for j in xs]
            + [f"SUM(w * x{j} * x{k}) OVER win AS r{j}_{k}" for j, k in both]
        )
        tied = ", ".join(
            ["s AS se", "t AS te", "COUNT(*) AS d", "SUM(w) AS ew"]
            + [f"SUM(w * x{j}) AS e_{j}" for j in xs]
            + [f"SUM(w * x{j} * x{k}) AS e{j}_{k}" for j, k in both]
        )
        frac = "CAST(l AS DOUBLE) / d" if self.ties is Ties.efron else "0.0"
        proof = "CASE WHEN seen <> pos OR top <> pos THEN 1 ELSE 0 END" if streaming else "0"
        terms = ", ".join(
            ["den", f"{proof} AS disorder"]
            + [f"(r_{j} - frac * e_{j}) / den AS m{j}" for j in xs]
            + [f"(r{j}_{k} - frac * e{j}_{k}) / den AS q{j}_{k}" for j, k in both]
        )
        totals = ", ".join(
            ["SUM(ln(den))"]
            + [f"SUM(m{j})" for j in xs]
            + [f"SUM(q{j}_{k} - m{j} * m{k})" for j, k in both]
            + ["MAX(disorder)"]
        )
        explode = self.engine.explode_range("d")
        columns = ", ".join(f"x{j}" for j in range(p))
        if not self.tied_events:
            return self._query_without_ties(eta, window, streaming)
        return (
            f"WITH weighted AS (SELECT pos, s, t, e, last, exp({eta}) AS w, {columns} "
            f"FROM {self.table}), "
            f"running AS (SELECT {running} FROM weighted WINDOW win AS {window}), "
            f"tied AS (SELECT {tied} FROM weighted WHERE e = 1 GROUP BY s, t), "
            f"deaths AS (SELECT *, {explode} AS l FROM running JOIN tied "
            f"ON running.t = tied.te AND running.s = tied.se WHERE running.last = 1), "
            f"fractions AS (SELECT *, rw - frac * ew AS den FROM "
            f"(SELECT *, {frac} AS frac FROM deaths) f), "
            f"terms AS (SELECT {terms} FROM fractions) "
            f"SELECT {totals} FROM terms"
        )

    def _query_without_ties(self, eta: str, window: str, streaming: bool) -> str:
        """One event per event time: fewer windows, the second moments summed per row.

        The event is sorted after the censored rows of its time, so its own row closes its
        risk set and Efron's weights are all 0. Σ_t R2(t) / R0(t) is summed per row instead:
        Σ_i w_i x_i x_iᵀ A(T_i), with A(T) = Σ of 1 / R0 over the events at or before T, which
        is the total minus a running sum in the same order (a second window over the first),
        so 6 + 1 windows replace 27. With strata the total is the stratum's own.
        """
        xs, both = range(self.p), pairs(self.p)
        columns = ", ".join(f"x{j}" for j in xs)
        first = ", ".join(
            ["pos", "s", "e", "w", columns]
            + ["COUNT(*) OVER win AS seen", "MAX(pos) OVER win AS top", "SUM(w) OVER win AS rw"]
            + [f"SUM(w * x{j}) OVER win AS r_{j}" for j in xs]
        )
        proof = (
            "CASE WHEN seen <> pos OR top <> pos OR seen2 <> pos OR top2 <> pos THEN 1 ELSE 0 END"
            if streaming
            else "0"
        )
        if self.stratified:
            later = [f"SUM(w * x{j} * x{k} * (ta - pa + a))" for j, k in both]
            total = ", SUM(a) OVER (PARTITION BY s) AS ta"
        else:
            later = [f"SUM(a) * SUM(w * x{j} * x{k}) - SUM(w * x{j} * x{k} * (pa - a))"
                     for j, k in both]  # fmt: skip
            total = ""
        totals = ", ".join(
            ["SUM(CASE WHEN e = 1 THEN ln(rw) ELSE 0 END)"]
            + [f"SUM(CASE WHEN e = 1 THEN r_{j} / rw ELSE 0 END)" for j in xs]
            + [
                f"{sums} - SUM(CASE WHEN e = 1 THEN r_{j} * r_{k} / (rw * rw) ELSE 0 END)"
                for sums, (j, k) in zip(later, both, strict=True)
            ]
            + [f"MAX({proof})"]
        )
        return (
            f"WITH weighted AS (SELECT pos, s, e, exp({eta}) AS w, {columns} "
            f"FROM {self.table}), "
            f"first_pass AS (SELECT {first} FROM weighted WINDOW win AS {window}), "
            f"inverse AS (SELECT *, CASE WHEN e = 1 THEN 1.0 / rw ELSE 0.0 END AS a "
            f"FROM first_pass), "
            f"second_pass AS (SELECT *, SUM(a) OVER win AS pa, COUNT(*) OVER win AS seen2, "
            f"MAX(pos) OVER win AS top2{total} FROM inverse WINDOW win AS {window}) "
            f"SELECT {totals} FROM second_pass"
        )


def linear_predictor(beta: FloatArray) -> str:
    """x·β as SQL over the columns x0, x1, …"""
    return " + ".join(f"x{j} * {literal(b)}" for j, b in enumerate(beta)) or "0.0"


def literal(value: float) -> str:
    """A double literal both dialects read exactly (17 significant digits, exponent form)."""
    return f"({float(value):.17e})"
