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

With strata (column s, as R's `coxph` with `strata()`), pairs are formed within a stratum only:
every window and group is split by s as well.
"""

from netlm.survival.engines import SqlEngine

RANKED = "netlm_ranked"
FRAME = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"


def concordance(engine: SqlEngine, table: str, score: str, stratified: bool = False) -> float:
    """C for the score expression `score` over `table` (columns s, t, e and the score's
    inputs); `stratified`: pairs within a stratum only."""
    concordant, discordant, tied = pair_counts(engine, table, score, stratified)
    comparable = concordant + discordant + tied
    return (concordant + tied / 2) / comparable if comparable else float("nan")


def pair_counts(
    engine: SqlEngine, table: str, score: str, stratified: bool = False
) -> tuple[int, int, int]:
    """(concordant, discordant, tied on the score) over the comparable pairs."""
    engine.materialise(
        RANKED,
        f"SELECT s, t, e, dense_rank() OVER (ORDER BY score) - 1 AS r "
        f"FROM (SELECT s, t, e, {score} AS score FROM {table}) scored",
    )
    # "s, " splits every window and group by stratum; without strata s is one constant.
    by = "s, " if stratified else ""
    lower = _lower_before_ranked if engine.frame_rank else _lower_before_bits
    concordant = lower(engine, by)
    (comparable,) = engine.rows(
        f"SELECT COALESCE(SUM(d * (n_risk - d)), 0) FROM ("
        f"  SELECT d, SUM(c) OVER ({_partition(by)}ORDER BY t DESC {FRAME}) AS n_risk"
        f"  FROM (SELECT {by}t, count(*) AS c, SUM(e) AS d FROM {RANKED} GROUP BY {by}t)"
        f"  per_time) r"
    )[0]
    (tied,) = engine.rows(
        f"SELECT COALESCE(SUM(CASE WHEN e = 1 THEN c * before ELSE 0 END), 0) FROM ("
        f"  SELECT e, c, SUM(c) OVER (PARTITION BY {by}r ORDER BY t DESC, e ASC {FRAME}) - c"
        f"    AS before"
        f"  FROM (SELECT {by}r, t, e, count(*) AS c FROM {RANKED} GROUP BY {by}r, t, e) g) o"
    )[0]
    concordant, comparable, tied = int(concordant), int(comparable), int(tied)
    return concordant, comparable - concordant - tied, tied


def _partition(by: str) -> str:
    return f"PARTITION BY {by.rstrip(', ')} " if by else ""


def _lower_before_ranked(engine: SqlEngine, by: str) -> int:
    (count,) = engine.rows(
        f"SELECT COALESCE(SUM(CASE WHEN e = 1 THEN lower ELSE 0 END), 0) FROM ("
        f"  SELECT e, rank(ORDER BY r) OVER ({_partition(by)}ORDER BY t DESC, e ASC, r DESC"
        f"    {FRAME}) - 1 AS lower FROM {RANKED}) o"
    )[0]
    return int(count)


def _lower_before_bits(engine: SqlEngine, by: str) -> int:
    (top,) = engine.rows(f"SELECT MAX(r) FROM {RANKED}")[0]
    levels = ", ".join(f"({k})" for k in range(max(1, int(top).bit_length())))
    (count,) = engine.rows(
        f"SELECT COALESCE(SUM(CASE WHEN e = 1 AND bit = 1 THEN zeros ELSE 0 END), 0) FROM ("
        f"  SELECT e, bit, SUM(1 - bit) OVER (PARTITION BY {by}k, prefix"
        f"    ORDER BY t DESC, e ASC, bit DESC {FRAME}) AS zeros FROM ("
        f"    SELECT {by}k, CAST(floor(r / power(2, k + 1)) AS BIGINT) AS prefix,"
        f"      CAST(floor(r / power(2, k)) AS BIGINT) % 2 AS bit, t, e"
        f"    FROM {RANKED} CROSS JOIN (VALUES {levels}) AS levels(k)) split) o"
    )[0]
    return int(count)
