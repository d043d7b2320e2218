"""The knowledge base's condition language compiled to SQL.

Kleene's three-valued logic is SQL's: a leaf over an unrecorded fact (NULL) is NULL (unknown),
`FALSE AND NULL` is FALSE, `TRUE OR NULL` is TRUE and `NOT NULL` is NULL, exactly as
`netlm.knowledge.conditions.evaluate` decides. A fact narrowed to several values (the grade
is G3 or NEC until differentiation is recorded) is settled at compile time: the leaf is TRUE or
FALSE when every possibility agrees, NULL otherwise. `unmet` compiles `unmet_count` (how many
clauses a condition misses), which picks the indication that came closest to holding.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from netlm.knowledge.conditions import (
    All,
    Condition,
    Definitions,
    Leaf,
    Not,
    Ref,
    holds,
)
from netlm.registry.dialect import Dialect

NULL_BOOL = "CAST(NULL AS BOOLEAN)"


def literal(value: Any) -> str:
    """A SQL literal for a value from the knowledge base (codes, numbers, booleans)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if "'" in text or "\\" in text:
        raise ValueError(f"knowledge-base value {text!r} cannot be a SQL literal")
    return f"'{text}'"


@dataclass(frozen=True)
class Scope:
    """The facts one stage of the query can read, each as a SQL expression.

    A fact missing from `columns` is not known yet at this stage (as in the engine, where it is
    absent from the facts), so a leaf over it is unknown.
    """

    dialect: Dialect
    definitions: Definitions
    columns: Mapping[str, str]
    undecided: Mapping[str, tuple[str, tuple[Any, ...]]] = field(default_factory=dict)
    defined: Mapping[str, str] = field(default_factory=dict)  # definition -> its column
    # fact -> ((column of an upper bound reported instead, whether the bound belongs), ...)
    bounded: Mapping[str, tuple[tuple[str, bool], ...]] = field(default_factory=dict)

    def with_facts(self, more: Mapping[str, str]) -> "Scope":
        return replace(self, columns={**self.columns, **more})

    def with_definitions(self, more: Mapping[str, str]) -> "Scope":
        return replace(self, defined={**self.defined, **more})


def _by_bound(op: str, t: float, bound: str, inclusive: bool) -> str:
    """SQL for `UpTo.decides`: TRUE when every value up to the bound column holds `value op t`,
    FALSE when none does, NULL when they differ (the bound is read per row)."""
    below_t = f"({bound} < {t!r})" if inclusive else f"({bound} <= {t!r})"
    at_most_t = f"({bound} <= {t!r})"
    table = {
        "lt": (below_t, literal(t <= 0)),
        "le": (at_most_t, literal(t < 0)),
        "gt": (literal(t < 0), at_most_t),
        "ge": (literal(t <= 0), below_t),
    }
    if op in table:
        every, none = table[op]
    else:  # eq, ne: a value outside the allowed range
        outside = "TRUE" if t < 0 else below_t
        every, none = ("FALSE", outside) if op == "eq" else (outside, "FALSE")
    return f"CASE WHEN {every} THEN TRUE WHEN {none} THEN FALSE ELSE {NULL_BOOL} END"


def _leaf(leaf: Leaf, scope: Scope) -> str:
    column = scope.columns.get(leaf.fact)
    bounds = scope.bounded.get(leaf.fact, ())
    if leaf.op == "known":
        if column is None:
            return "FALSE" if leaf.value else "TRUE"
        recorded = " OR ".join(f"{c} IS NOT NULL" for c in (column, *(b for b, _ in bounds)))
        return f"({recorded})" if leaf.value else f"(NOT ({recorded}))"
    if column is None:
        return NULL_BOOL
    op, value = leaf.op, leaf.value
    if op in ("in", "not_in"):
        items = ", ".join(literal(v) for v in value)
        sql = f"({column} {'NOT ' if op == 'not_in' else ''}IN ({items}))"
    elif op == "contains":
        sql = f"({scope.dialect.contains(column, literal(value))})"
    else:
        symbol = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "is": "="}
        sql = f"({column} {symbol[op]} {literal(value)})"
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if bounds and numeric and op in ("eq", "ne", "lt", "le", "gt", "ge"):
        whens = " ".join(
            f"WHEN {b} IS NOT NULL THEN {_by_bound(op, float(value), b, incl)}"
            for b, incl in bounds
        )
        sql = f"(CASE WHEN {column} IS NOT NULL THEN {sql} {whens} ELSE {NULL_BOOL} END)"
    elif bounds:
        sql = f"(CASE WHEN {column} IS NOT NULL THEN {sql} ELSE {NULL_BOOL} END)"
    narrowed = scope.undecided.get(leaf.fact)
    if narrowed is None:
        return sql
    flag, possibilities = narrowed
    results = {holds(leaf, v) for v in possibilities}
    settled = literal(results.pop()) if len(results) == 1 else NULL_BOOL
    return f"(CASE WHEN {flag} THEN {settled} ELSE {sql} END)"


def truth(cond: Condition, scope: Scope) -> str:
    """SQL boolean: TRUE, FALSE or NULL (unknown)."""
    if isinstance(cond, Leaf):
        return _leaf(cond, scope)
    if isinstance(cond, Ref):
        column = scope.defined.get(cond.name)
        return column if column is not None else truth(scope.definitions[cond.name], scope)
    if isinstance(cond, Not):
        return f"(NOT {truth(cond.item, scope)})"
    if not cond.items:
        return "TRUE"
    joiner = " AND " if isinstance(cond, All) else " OR "
    return "(" + joiner.join(truth(item, scope) for item in cond.items) + ")"


def is_true(cond: Condition, scope: Scope) -> str:
    return f"coalesce({truth(cond, scope)}, FALSE)"


def is_false(cond: Condition, scope: Scope) -> str:
    return f"coalesce(NOT {truth(cond, scope)}, FALSE)"


def unmet(cond: Condition, scope: Scope, want: bool = True) -> str:
    """SQL integer: the number of lines `explain` gives (`unmet_count`)."""
    if isinstance(cond, Ref):
        return unmet(scope.definitions[cond.name], scope, want)
    if isinstance(cond, Not):
        return unmet(cond.item, scope, not want)
    if isinstance(cond, Leaf):
        settled = is_true(cond, scope) if want else is_false(cond, scope)
        return f"(CASE WHEN {settled} THEN 0 ELSE 1 END)"
    counts = [unmet(item, scope, want) for item in cond.items]
    if not counts:
        return "0"
    if isinstance(cond, All) == want:
        return "(" + " + ".join(counts) + ")"
    if len(counts) == 1:
        return f"(CASE WHEN {counts[0]} > 0 THEN 1 ELSE 0 END)"
    return f"(CASE WHEN greatest({', '.join(counts)}) > 0 THEN 1 ELSE 0 END)"


def first_true(flags: list[tuple[str, str]], default: str = "NULL") -> str:
    """CASE over (condition, value) pairs in order: the value of the first that holds."""
    if not flags:
        return default
    whens = " ".join(f"WHEN {cond} THEN {value}" for cond, value in flags)
    return f"(CASE {whens} ELSE {default} END)"
