"""Survival data in an engine: the input file checked row by row, then kept as one clean table.

The checks run in the engine (one aggregate pass); only when a row is bad does a second pass
number the rows in file order to say which, so a clean file costs nothing extra. A bad value is
an error naming the column, the row (1-based, header excluded) and the value; with `skip_bad`
such rows are left out and reported, never dropped silently.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from netlm.survival.engines import SOURCE_VIEW, SqlEngine, sql_string
from netlm.survival.errors import SurvivalInputError

TABLE = "netlm_survival"
MAX_LISTED = 50
MAX_LEVELS = 50  # a categorical covariate with more values is most likely not categorical
ALL = "all"


@dataclass(frozen=True)
class Factor:
    """A categorical covariate: one 0/1 indicator per value except the reference.

    The reference is `reference` when given, else the first value in the column's own order
    (numbers numerically, text as sorted bytes), which is R's default for `factor()` in the C
    locale. The indicators are named `column=value`.
    """

    column: str
    reference: str | None = None

    @classmethod
    def parse(cls, spec: str) -> "Factor":
        """`column` or `column=reference`."""
        column, _, reference = spec.partition("=")
        return cls(column.strip(), reference.strip() if reference.strip() else None)


@dataclass(frozen=True)
class Role:
    """A column the analysis reads, and what a valid value of it is."""

    column: str
    kind: str  # "time", "event", "group", "covariate", "factor" or "stratum"


@dataclass(frozen=True)
class Skipped:
    """Rows left out under `skip_bad`: how many, and the problem lines of the first ones."""

    count: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Group:
    label: str
    n: int
    events: int


@dataclass
class SurvivalData:
    """The clean table `netlm_survival` (t, e, g, s, x0, x1, …) and what is known about it.

    `s` is the stratum of the row (the values of the `strata` columns joined), '' without strata.
    """

    engine: SqlEngine
    time: str
    event: str
    by: str | None
    covariates: list[str]
    groups: list[Group]
    skipped: Skipped
    strata: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return sum(group.n for group in self.groups)

    @property
    def events(self) -> int:
        return sum(group.events for group in self.groups)

    @classmethod
    def load(
        cls,
        engine: SqlEngine,
        path: Path,
        *,
        time: str,
        event: str,
        by: str | None = None,
        covariates: Sequence[str] = (),
        factors: Sequence[Factor] = (),
        strata: Sequence[str] = (),
        skip_bad: bool = False,
    ) -> "SurvivalData":
        """Register `path` in `engine`, check the columns the analysis needs, keep them clean.

        `covariates` are numeric columns; `factors` categorical ones, each expanded into
        indicator covariates (`Factor`) after the numeric ones; `strata` columns split the Cox
        risk sets (R's `strata()`)."""
        engine.register(path)
        roles = [Role(time, "time"), Role(event, "event")]
        if by is not None:
            roles.append(Role(by, "group"))
        roles += [Role(column, "covariate") for column in covariates]
        roles += [Role(factor.column, "factor") for factor in factors]
        roles += [Role(column, "stratum") for column in strata]
        _check_columns(engine, roles)
        reasons = {role.column: _reason_sql(engine, role) for role in roles}
        bad = " OR ".join(f"({sql}) IS NOT NULL" for sql in reasons.values())
        (total, n_bad), *_ = engine.rows(
            f"SELECT count(*), COALESCE(SUM(CASE WHEN {bad} THEN 1 ELSE 0 END), 0) "
            f"FROM {SOURCE_VIEW}"
        )
        skipped = Skipped()
        if n_bad:
            problems = _locate(engine, reasons, bad, int(n_bad))
            if not skip_bad:
                raise SurvivalInputError(problems, skippable=True)
            skipped = Skipped(int(n_bad), problems)
        if int(total) - int(n_bad) == 0:
            raise SurvivalInputError([f"(file) {path}: no rows to analyse"])
        q = engine.quote
        select = [
            f"CAST({q(time)} AS DOUBLE) AS t",
            f"CAST(TRY_CAST({q(event)} AS DOUBLE) AS INT) AS e",
            f"CAST({q(by)} AS STRING) AS g, {q(by)} AS gv"
            if by is not None
            else f"{sql_string(ALL)} AS g, 0 AS gv",
            _stratum_sql(engine, strata),
        ]
        select += [
            f"TRY_CAST({q(column)} AS DOUBLE) AS x{i}" for i, column in enumerate(covariates)
        ]
        where = f" WHERE NOT ({bad})" if n_bad else ""
        names = list(covariates)
        for factor in factors:
            for level in _indicator_levels(engine, factor, where):
                value = f"CAST({q(factor.column)} AS STRING)"
                select.append(
                    f"CAST(CASE WHEN {value} = {sql_string(level)} THEN 1 ELSE 0 END AS DOUBLE) "
                    f"AS x{len(names)}"
                )
                names.append(f"{factor.column}={level}")
        engine.materialise(TABLE, f"SELECT {', '.join(select)} FROM {SOURCE_VIEW}{where}")
        groups = [
            Group(str(label), int(n), int(events))
            for label, n, events in engine.rows(
                f"SELECT g, count(*), SUM(e) FROM {TABLE} GROUP BY g, gv ORDER BY gv"
            )
        ]
        return cls(engine, time, event, by, names, groups, skipped, list(strata))


def _stratum_sql(engine: SqlEngine, strata: Sequence[str]) -> str:
    """The row's stratum as one text: the strata columns' values joined by a control character
    that registry text does not hold."""
    if not strata:
        return "'' AS s"
    values = ", ".join(f"CAST({engine.quote(column)} AS STRING)" for column in strata)
    return f"concat_ws(chr(31), {values}) AS s"


def _indicator_levels(engine: SqlEngine, factor: Factor, where: str) -> list[str]:
    """The factor's values other than the reference, in the column's order."""
    column = engine.quote(factor.column)
    found = [
        str(level)
        for level, _ in engine.rows(
            f"SELECT v, n FROM (SELECT DISTINCT CAST({column} AS STRING) AS v, {column} AS n "
            f"FROM {SOURCE_VIEW}{where}) levels ORDER BY n LIMIT {MAX_LEVELS + 1}"
        )
    ]
    name = f'column "{factor.column}"'
    if len(found) > MAX_LEVELS:
        raise SurvivalInputError(
            [
                f"{name}: more than {MAX_LEVELS} different values; a categorical covariate "
                "(--factor) takes at most that many (a number belongs in --covariates)"
            ]
        )
    if len(found) < 2:
        raise SurvivalInputError([f"{name}: the same value in every row; not a covariate"])
    reference = found[0] if factor.reference is None else factor.reference
    if reference not in found:
        shown = ", ".join(found[:20]) + (", …" if len(found) > 20 else "")
        raise SurvivalInputError(
            [f'{name}: reference "{reference}" is not one of its values ({shown})']
        )
    return [level for level in found if level != reference]


def _check_columns(engine: SqlEngine, roles: list[Role]) -> None:
    present = engine.column_names(SOURCE_VIEW)
    problems: list[str] = []
    seen: set[str] = set()
    for role in roles:
        if role.column in seen:
            problems.append(f'column "{role.column}": named twice (as {role.kind} too)')
        seen.add(role.column)
        if role.column not in present:
            shown = ", ".join(present[:30]) + (", …" if len(present) > 30 else "")
            problems.append(f'column "{role.column}" ({role.kind}): not in the input ({shown})')
    if problems:
        raise SurvivalInputError(problems)


def _reason_sql(engine: SqlEngine, role: Role) -> str:
    """A SQL expression: why this row's value is bad, or NULL when it is good."""
    column = engine.quote(role.column)
    if role.kind == "group":
        return f"CASE WHEN {column} IS NULL THEN 'is empty (every row needs a group)' END"
    if role.kind in ("factor", "stratum"):
        return f"CASE WHEN {column} IS NULL THEN 'is empty (a value is required)' END"
    number = f"TRY_CAST({column} AS DOUBLE)"
    checks = [
        (f"{column} IS NULL", "is empty (a value is required)"),
        (f"{number} IS NULL", "is not a number"),
        (f"NOT {engine.is_finite(number)}", "is not a finite number"),
    ]
    if role.kind == "time":
        checks.append((f"{number} < 0", "is negative (a follow-up time is 0 or more)"))
    if role.kind == "event":
        checks.append(
            (f"{number} NOT IN (0, 1)", "is not 0 or 1 (1: the event happened, 0: censored)")
        )
    whens = " ".join(f"WHEN {test} THEN {sql_string(reason)}" for test, reason in checks)
    return f"CASE {whens} END"


def _locate(engine: SqlEngine, reasons: dict[str, str], bad: str, n_bad: int) -> list[str]:
    """One line per problem in the first bad rows, numbered in file order."""
    columns = list(reasons)
    select = ", ".join(
        f"{sql} AS r{i}, CAST({engine.quote(column)} AS STRING) AS v{i}"
        for i, (column, sql) in enumerate(reasons.items())
    )
    rows = engine.rows(
        f"SELECT _row, {select} FROM ({engine.numbered_source}) numbered "
        f"WHERE {bad} ORDER BY _row LIMIT {MAX_LISTED}"
    )
    problems: list[str] = []
    for row in rows:
        for i, column in enumerate(columns):
            reason, value = row[1 + 2 * i], row[2 + 2 * i]
            if reason is not None:
                shown = "" if value is None else f" {_quote_value(value)}"
                problems.append(f'row {row[0]}, column "{column}":{shown} {reason}')
    if n_bad > len(rows):
        problems.append(f"… and {n_bad - len(rows)} more bad rows ({n_bad} in all)")
    return problems


def _quote_value(value: object) -> str:
    text = str(value)
    return '"' + (text if len(text) <= 40 else text[:40] + "…") + '"'
