"""Harrell's concordance of a risk score with survival, as R's `coxph` reports it.

A pair is comparable when the shorter time is an event; a censored time equal to an event time
counts as longer, and two events at the same time are not compared (R's `tied.y`). The pair is
concordant when the earlier event has the higher score, tied when the scores are equal:
C = (concordant + tied / 2) / (concordant + discordant + tied).

Counting pairs without forming them, in SQL: rank the scores densely, and for each bit of the
rank compare the rows whose ranks share the higher bits and differ at that bit; a window sum in
time order counts, for each event, the rows still at risk that are lower at that bit. Over all
bits this counts every lower-scored row at risk exactly once: O(n log n) rows, no pair formed.
"""

from netlm.survival.engines import SqlEngine

RANKED = "netlm_ranked"


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
    (top,) = engine.rows(f"SELECT MAX(r) FROM {RANKED}")[0]
    bits = max(1, int(top).bit_length())
    levels = ", ".join(f"({k})" for k in range(bits))
    order = "ORDER BY t DESC, e ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
    concordant, discordant = engine.rows(
        f"WITH split AS ("
        f"  SELECT k, CAST(floor(r / power(2, k + 1)) AS BIGINT) AS prefix,"
        f"    CAST(floor(r / power(2, k)) AS BIGINT) % 2 AS bit, t, e"
        f"  FROM {RANKED} CROSS JOIN (VALUES {levels}) AS levels(k)),"
        f" grouped AS ("
        f"  SELECT k, prefix, t, e, SUM(1 - bit) AS c0, SUM(bit) AS c1"
        f"  FROM split GROUP BY k, prefix, t, e),"
        f" ordered AS ("
        f"  SELECT e, c0, c1,"
        f"    SUM(c0) OVER (PARTITION BY k, prefix {order}) - c0 AS before0,"
        f"    SUM(c1) OVER (PARTITION BY k, prefix {order}) - c1 AS before1"
        f"  FROM grouped)"
        f" SELECT COALESCE(SUM(CASE WHEN e = 1 THEN c1 * before0 ELSE 0 END), 0),"
        f"  COALESCE(SUM(CASE WHEN e = 1 THEN c0 * before1 ELSE 0 END), 0) FROM ordered"
    )[0]
    (tied,) = engine.rows(
        f"SELECT COALESCE(SUM(CASE WHEN e = 1 THEN c * before ELSE 0 END), 0) FROM ("
        f"  SELECT e, c, SUM(c) OVER (PARTITION BY r {order}) - c AS before"
        f"  FROM (SELECT r, t, e, count(*) AS c FROM {RANKED} GROUP BY r, t, e) g) o"
    )[0]
    return int(concordant), int(discordant), int(tied)
