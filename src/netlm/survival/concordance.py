"""Harrell's concordance of a risk score with survival, as R's `coxph` reports it.

A pair is comparable when the shorter time is an event; a censored time equal to an event time
counts as longer, and two events at the same time are not compared (R's `tied.y`). The pair is
concordant when the earlier event has the higher score, tied when the scores are equal:
C = (concordant + tied / 2) / (concordant + discordant + tied).

Counting pairs without forming them, in SQL. Rows are ordered by time (latest first, censored
before events at the same time); for each event, the concordant pairs are the rows before it
with a lower score. Events tied on time are ordered by descending score, so none of them is
ever lower than a later one and tied times are never compared. DuckDB counts the lower rows with
a window rank ordered by score inside the frame; Spark, which has no such window, compares the
dense score ranks one bit at a time (rows sharing the higher bits, lower at that bit), which
over all bits counts every lower row exactly once: O(n log n) rows, no pair formed.
"""

from netlm.survival.engines import SqlEngine

RANKED = "netlm_ranked"
FRAME = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"


def concordance(engine: SqlEngine, table: str, score: str) -> float:
    """C for the score expression `score` over `table` (columns t, e and the score's inputs)."""
    concordant, discordant, tied = pair_counts(engine, table, score)
    comparable = concordant + discordant + tied
    return (concordant + tied / 2) / comparable if comparable else float("nan")


def pair_counts(engine: SqlEngine, table: str, score: str) -> tuple[int, int, int]:
    """(concordant, discordant, tied on the score) over the comparable pairs."""
    engine.materialise(
        RANKED,
        f"SELECT t, e, dense_rank() OVER (ORDER BY s) - 1 AS r "
        f"FROM (SELECT t, e, {score} AS s FROM {table}) scored",
    )
    concordant = _lower_before_ranked(engine) if engine.frame_rank else _lower_before_bits(engine)
    (comparable,) = engine.rows(
        f"SELECT COALESCE(SUM(d * (n_risk - d)), 0) FROM ("
        f"  SELECT d, SUM(c) OVER (ORDER BY t DESC {FRAME}) AS n_risk"
        f"  FROM (SELECT t, count(*) AS c, SUM(e) AS d FROM {RANKED} GROUP BY t) per_time) r"
    )[0]
    (tied,) = engine.rows(
        f"SELECT COALESCE(SUM(CASE WHEN e = 1 THEN c * before ELSE 0 END), 0) FROM ("
        f"  SELECT e, c, SUM(c) OVER (PARTITION BY r ORDER BY t DESC, e ASC {FRAME}) - c"
        f"    AS before"
        f"  FROM (SELECT r, t, e, count(*) AS c FROM {RANKED} GROUP BY r, t, e) g) o"
    )[0]
    concordant, comparable, tied = int(concordant), int(comparable), int(tied)
    return concordant, comparable - concordant - tied, tied


def _lower_before_ranked(engine: SqlEngine) -> int:
    (count,) = engine.rows(
        f"SELECT COALESCE(SUM(CASE WHEN e = 1 THEN lower ELSE 0 END), 0) FROM ("
        f"  SELECT e, rank(ORDER BY r) OVER (ORDER BY t DESC, e ASC, r DESC {FRAME}) - 1"
        f"    AS lower FROM {RANKED}) o"
    )[0]
    return int(count)


def _lower_before_bits(engine: SqlEngine) -> int:
    (top,) = engine.rows(f"SELECT MAX(r) FROM {RANKED}")[0]
    levels = ", ".join(f"({k})" for k in range(max(1, int(top).bit_length())))
    (count,) = engine.rows(
        f"SELECT COALESCE(SUM(CASE WHEN e = 1 AND bit = 1 THEN zeros ELSE 0 END), 0) FROM ("
        f"  SELECT e, bit, SUM(1 - bit) OVER (PARTITION BY k, prefix"
        f"    ORDER BY t DESC, e ASC, bit DESC {FRAME}) AS zeros FROM ("
        f"    SELECT k, CAST(floor(r / power(2, k + 1)) AS BIGINT) AS prefix,"
        f"      CAST(floor(r / power(2, k)) AS BIGINT) % 2 AS bit, t, e"
        f"    FROM {RANKED} CROSS JOIN (VALUES {levels}) AS levels(k)) split) o"
    )[0]
    return int(count)
