"""Reading registry cells in SQL: each column's typed value and, per row, every problem in words.

A problem line names the row (1-based, header excluded), the column and the value, as the
command line reports bad input everywhere ("row 12, column pathology.ki67_percent, value
"120": must be at most 100"). The checks are those of `netlm.case/1` (read from its schema), so a
row that passes here is a case the engine accepts.
"""

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from netlm.model.codes import OPTION_CODES, TherapyOutcome
from netlm.registry.dialect import Dialect
from netlm.registry.format import Column, registry_columns

OUTCOMES: tuple[str, ...] = TherapyOutcome.__args__  # type: ignore[attr-defined]
# The keys of a prior_therapies item: the timeline details are accepted (a store export carries
# them) but not read: the registry, like the engine, takes the history in the order given.
THERAPY_KEYS = ("option", "outcome", "started", "stopped", "best_response", "line")
ROW = "_row"  # the 1-based row number of the source
PROBLEMS = "_problems"  # newline-separated problem lines, NULL when the row is valid
SHOWN_DUPLICATES = 5  # other rows named for a duplicate id
# Source column types that carry the value natively (anything else is read as text).
NATIVE = {
    "number": "numeric",
    "integer": "numeric",
    "flag": "numeric",
    "boolean": "boolean",
    "date": "date",
}


def column_id(name: str) -> str:
    """The SQL name of a registry column inside the query (dots are not identifiers)."""
    return "c_" + name.replace(".", "__")


@dataclass(frozen=True)
class Checked:
    value: str  # SQL: the typed value (NULL when empty or invalid)
    problem: str  # SQL: the problem in words, or NULL


def _one_of(values: tuple[str, ...]) -> str:
    return ", ".join(values)


def _in(expr: str, values: tuple[str, ...]) -> str:
    return f"{expr} IN ({', '.join(repr_sql(v) for v in values)})"


def repr_sql(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _problems(checks: list[tuple[str, str]]) -> str:
    whens = " ".join(f"WHEN {cond} THEN {repr_sql(text)}" for cond, text in checks)
    return f"CASE {whens} END"


def _numeric(column: Column, value: str, text: str | None) -> list[tuple[str, str]]:
    checks: list[tuple[str, str]] = []
    if text is not None:
        checks.append((f"{text} IS NOT NULL AND {value} IS NULL", "not a number"))
    checks.append((f"NOT ({value} BETWEEN -1.7e308 AND 1.7e308)", "not a finite number"))
    if column.kind in ("integer", "flag"):
        checks.append((f"{value} <> floor({value})", "must be a whole number"))
    if column.kind == "flag":
        checks.append((f"{value} NOT IN (0, 1)", "must be 0 or 1"))
    if column.minimum is not None:
        checks.append((f"{value} < {column.minimum}", f"must be at least {column.minimum:g}"))
    if column.exclusive_minimum is not None:
        bound = column.exclusive_minimum
        checks.append((f"{value} <= {bound}", f"must be greater than {bound:g}"))
    if column.maximum is not None:
        checks.append((f"{value} > {column.maximum}", f"must be at most {column.maximum:g}"))
    return checks


def check_column(column: Column, raw: str, native: bool, d: Dialect) -> Checked:
    """Typed value and problem of one column; `native` when the source type carries it."""
    text = None if native else f"nullif(trim({d.cast_str(raw)}), '')"
    cell = raw if native else str(text)
    kind = column.kind
    missing: list[tuple[str, str]] = (
        [(f"{cell} IS NULL", "missing (this column is required)")] if column.required else []
    )
    checks: list[tuple[str, str]]
    if kind in ("number", "integer", "flag"):
        number = f"CAST({raw} AS DOUBLE)" if native else d.try_cast(cell, "DOUBLE")
        checks = _numeric(column, number, text)
        value = number if kind == "number" else d.try_cast(number, "BIGINT")
    elif kind == "boolean":
        if native:
            value, checks = raw, []
        else:
            value = f"(lower({cell}) = 'true')"
            checks = [(f"lower({cell}) NOT IN ('true', 'false')", "must be true or false")]
    elif kind == "date":
        if native:
            value, checks = raw, []
        else:
            value = d.try_cast(cell, "DATE")
            well_formed = d.full_match(cell, r"\d{4}-\d{2}-\d{2}")
            checks = [(f"NOT ({well_formed}) OR {value} IS NULL", "must be a date (YYYY-MM-DD)")]
    elif kind in ("enum_list", "therapies"):
        value = d.json_list(cell, "string" if kind == "enum_list" else "therapy")
        if kind == "enum_list":
            bad = d.exists(value, "x", f"x IS NULL OR NOT {_in('x', column.values)}")
            wording = f"each item must be one of {_one_of(column.values)}"
        else:
            bad = d.exists(
                value,
                "t",
                f"t IS NULL OR t.option IS NULL OR t.outcome IS NULL OR NOT "
                f"{_in('t.option', OPTION_CODES)} OR NOT {_in('t.outcome', OUTCOMES)}",
            )
            wording = (
                f'each item must be {{"option": <option code>, "outcome": {" | ".join(OUTCOMES)}}}'
            )
        checks = [(f"{value} IS NULL", "not a JSON list"), (bad, wording)]
        if kind == "therapies":
            keys = THERAPY_KEYS
            checks.append(
                (
                    d.json_foreign_keys(cell, keys),
                    f"each item may only have the keys {', '.join(keys)}",
                )
            )
    else:
        value = cell
        if kind == "enum":
            checks = [
                (f"NOT {_in(cell, column.values)}", f"must be one of {_one_of(column.values)}")
            ]
        elif kind == "options":
            parts = d.split_plus(cell)
            checks = [
                (
                    d.exists(parts, "p", f"NOT {_in('p', column.values)}"),
                    "must be option codes separated by + (see `netlm kb show`)",
                )
            ]
        elif kind == "id" and column.pattern:
            pattern = column.pattern.strip("^$")
            checks = [(f"NOT {d.full_match(cell, pattern)}", f"must match {column.pattern}")]
        else:
            checks = []
    present = [(f"{cell} IS NOT NULL AND ({cond})", words) for cond, words in checks]
    return Checked(value, _problems(missing + present) if missing or present else "NULL")


def _shown(raw: str, native: bool, d: Dialect) -> str:
    text = d.cast_str(raw)
    cell = text if native else f"nullif(trim({text}), '')"
    return (
        f"CASE WHEN {cell} IS NULL THEN '(empty)' "
        f"ELSE concat('\"', substr(replace({text}, chr(10), ' '), 1, 60), '\"') END"
    )


def _did_you_mean(name: str, known: set[str]) -> str:
    """The closest registry column, for a typo (`pathology.ki67` → `pathology.ki67_percent`)."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def header_problems(names: list[str]) -> list[str]:
    """Columns the registry format does not know, columns named twice, and required columns
    that are absent."""
    known = {c.name for c in registry_columns()}
    lines = [
        f"column {name}: not a registry column{_did_you_mean(name, known)} "
        "(see `netlm schema registry`)"
        for name in names
        if name not in known
    ]
    lines += [
        f"column {name}: appears {names.count(name)} times in the header"
        for name in sorted(set(names))
        if names.count(name) > 1
    ]
    lines += [
        f"column {c.name}: missing from the header (required)"
        for c in registry_columns()
        if c.required and c.name not in names
    ]
    return lines


def checked_select(source: str, types: Mapping[str, str], d: Dialect) -> str:
    """SELECT of every registry column, typed, plus the row number and the problems.

    `types` maps each source column to its category (numeric, boolean, date, text); registry
    columns absent from the source are empty.
    """
    values, problems = [f"{ROW}"], []
    for column in registry_columns():
        if column.name in types:
            raw = d.quote(column.name)
            native = NATIVE.get(column.kind) == types[column.name]
        else:  # an absent column is an empty one
            raw, native = f"CAST(NULL AS {d.string})", False
        checked = check_column(column, raw, native, d)
        values.append(f"{checked.value} AS {column_id(column.name)}")
        if checked.problem != "NULL":
            where = f"concat('row ', {d.cast_str(ROW)}, ', column {column.name}, value ', "
            line = f"{where}{_shown(raw, native, d)}, ': ', {checked.problem})"
            # concat() skips NULL in DuckDB and yields NULL in Spark: decide explicitly.
            problems.append(f"CASE WHEN {checked.problem} IS NOT NULL THEN {line} END")
    joined = f"nullif(concat_ws(chr(10), {', '.join(problems)}), '')" if problems else "NULL"
    return f"SELECT {', '.join(values)}, {joined} AS {PROBLEMS} FROM {source}"


def duplicate_ids(cells: str, d: Dialect) -> str:
    """Every id on more than one row of `cells`, with its rows in order."""
    row_id = column_id("id")
    return (
        f"SELECT {row_id} AS dup_id, {d.collect_sorted(ROW)} AS dup_rows FROM {cells} "
        f"WHERE {row_id} IS NOT NULL GROUP BY {row_id} HAVING count(*) > 1"
    )


def with_duplicates(cells: str, duplicates: str, d: Dialect) -> str:
    """`cells` with one more problem on each row whose id another row has too, naming the
    other rows (the first few), so that neither row is taken for the patient silently."""
    row_id = column_id("id")
    others = d.filter("dup_rows", "r", f"r <> {ROW}")
    shown = d.join(d.transform(d.head(others, SHOWN_DUPLICATES), "r", d.cast_str("r")), ", ")
    more = f"CASE WHEN {d.size(others)} > {SHOWN_DUPLICATES} THEN ', …' ELSE '' END"
    line = (
        f"concat('row ', {d.cast_str(ROW)}, ', column id, value \"', substr({row_id}, 1, 60), "
        f"'\": duplicate id (also in row ', {shown}, {more}, ')')"
    )
    columns = ", ".join(f"{cells}.{column_id(c.name)}" for c in registry_columns())
    problems = (
        f"CASE WHEN dup_rows IS NULL THEN {PROBLEMS} "
        f"ELSE concat_ws(chr(10), {PROBLEMS}, {line}) END"
    )
    return (
        f"SELECT {cells}.{ROW}, {columns}, {problems} AS {PROBLEMS} "
        f"FROM {cells} LEFT JOIN {duplicates} ON {cells}.{row_id} = {duplicates}.dup_id"
    )
