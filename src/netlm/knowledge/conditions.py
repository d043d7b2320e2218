"""The condition language of the knowledge base: parse, evaluate, explain.

A condition is plain data (from YAML):

    {all: [...]}, {any: [...]}, {not: {...}}, {ref: name}
    {fact: pathology.ki67_percent, lt: 10}          # leaf: one fact, one operator

Leaf operators: eq, ne, in, not_in, lt, le, gt, ge, is (booleans), contains (list facts),
known (true/false: whether the fact is recorded). A leaf may carry `source` (the evidence id
behind its threshold) and `says` ({en, zh}: how to phrase the requirement in words).

Evaluation uses Kleene's three-valued logic: a leaf over an unrecorded fact is UNKNOWN, and an
UNKNOWN result records which facts would decide it. A fact may also be *narrowed but
undecided* (`OneOf`: e.g. the grade is G3 or NEC until differentiation is recorded; `UpTo`: a
Ki-67 reported as "<3 %"): a leaf is then TRUE or FALSE only when every remaining possibility
agrees, and UNKNOWN otherwise. That
is what lets the engine report only the missing findings that would change the answer. The
same tree is explained clause by clause in words ("why not") and, being data, can be compiled
to SQL for registry-wide evaluation.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Union

COMPARISONS = ("lt", "le", "gt", "ge")
SET_OPS = ("in", "not_in")
OPERATORS = ("eq", "ne", *SET_OPS, *COMPARISONS, "is", "contains", "known")
NEGATION = {
    "eq": "ne", "ne": "eq", "in": "not_in", "not_in": "in",
    "lt": "ge", "ge": "lt", "gt": "le", "le": "gt",
}  # fmt: skip


class Truth(Enum):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Leaf:
    fact: str
    op: str
    value: Any
    source: str | None = None
    says: Mapping[str, str] | None = None


@dataclass(frozen=True)
class All:
    items: tuple["Condition", ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple["Condition", ...]


@dataclass(frozen=True)
class Not:
    item: "Condition"


@dataclass(frozen=True)
class Ref:
    name: str


Condition = Union[Leaf, All, AnyOf, Not, Ref]  # noqa: UP007 (recursive alias needs Union)


class ConditionSyntaxError(ValueError):
    pass


class OneOf(tuple[Any, ...]):
    """A fact known to be one of these values, but not which (e.g. NET G3 or NEC)."""


@dataclass(frozen=True)
class UpTo:
    """A number known only by an upper bound (Ki-67 "<3 %": in [0, 3); "≤2 %": in [0, 2]).

    A comparison is decided only when every value the bound allows agrees; otherwise UNKNOWN,
    so the exact value is asked for. Values are never negative (percentages).
    """

    bound: float
    inclusive: bool

    def decides(self, op: str, t: float) -> bool | None:
        """The truth of `value op t` for every allowed value, or None when they differ."""
        below_t = self.bound < t or (self.bound == t and not self.inclusive)  # all < t
        at_most_t = self.bound <= t  # all <= t
        table = {
            "lt": (below_t, t <= 0),
            "le": (at_most_t, t < 0),
            "gt": (t < 0, at_most_t),
            "ge": (t <= 0, below_t),
        }
        if op in table:
            every, none = table[op]
        elif op in ("eq", "ne"):
            outside = t < 0 or t > self.bound or (t == self.bound and not self.inclusive)
            every, none = (False, outside) if op == "eq" else (outside, False)
        else:
            return None
        return True if every else (False if none else None)

    def __str__(self) -> str:
        return f"{'≤' if self.inclusive else '<'}{self.bound:g}"


def parse(data: Any, where: str = "condition") -> Condition:
    """Build a condition tree from its YAML form, rejecting anything malformed."""
    if data is True:
        return All(())
    if not isinstance(data, dict):
        raise ConditionSyntaxError(f"{where}: a condition must be a mapping, got {data!r}")
    keys = set(data)
    for combinator in ("all", "any"):
        if keys == {combinator}:
            items = data[combinator]
            if not isinstance(items, list) or not items:
                raise ConditionSyntaxError(f"{where}.{combinator}: must be a non-empty list")
            parsed = tuple(parse(x, f"{where}.{combinator}[{i}]") for i, x in enumerate(items))
            return All(parsed) if combinator == "all" else AnyOf(parsed)
    if keys == {"not"}:
        return Not(parse(data["not"], f"{where}.not"))
    if keys == {"ref"}:
        return Ref(str(data["ref"]))
    if "fact" in keys:
        ops = [k for k in keys if k in OPERATORS]
        extra = keys - {"fact", "source", "says", *ops}
        if len(ops) != 1 or extra:
            raise ConditionSyntaxError(
                f"{where}: a leaf needs `fact` and exactly one operator of {OPERATORS}"
                + (f"; unexpected keys {sorted(extra)}" if extra else "")
            )
        op = ops[0]
        value = data[op]
        _check_operand(op, value, where)
        says = data.get("says")
        return Leaf(str(data["fact"]), op, tuple(value) if op in SET_OPS else value,
                    data.get("source"), says)  # fmt: skip
    raise ConditionSyntaxError(f"{where}: unrecognised condition {data!r}")


def _check_operand(op: str, value: Any, where: str) -> None:
    ok = {
        "in": isinstance(value, list) and bool(value),
        "not_in": isinstance(value, list) and bool(value),
        "is": isinstance(value, bool),
        "known": isinstance(value, bool),
    }.get(op, True)
    if op in COMPARISONS:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok:
        raise ConditionSyntaxError(f"{where}: invalid operand {value!r} for `{op}`")


@dataclass(frozen=True)
class Outcome:
    truth: Truth
    missing: frozenset[str] = frozenset()


TRUE = Outcome(Truth.TRUE)
FALSE = Outcome(Truth.FALSE)

Facts = Mapping[str, Any]
Definitions = Mapping[str, Condition]


def holds(leaf: Leaf, value: Any) -> bool:
    """Apply a leaf's operator to a recorded (non-None) value."""
    op, operand = leaf.op, leaf.value
    if op == "eq":
        return bool(value == operand)
    if op == "ne":
        return bool(value != operand)
    if op == "in":
        return value in operand
    if op == "not_in":
        return value not in operand
    if op == "lt":
        return bool(value < operand)
    if op == "le":
        return bool(value <= operand)
    if op == "gt":
        return bool(value > operand)
    if op == "ge":
        return bool(value >= operand)
    if op == "is":
        return bool(value is operand)
    if op == "contains":
        return operand in value
    raise ConditionSyntaxError(f"unknown operator {op}")  # pragma: no cover - parse() rejects it


def _decided(leaf: Leaf, value: Any) -> bool | None:
    """The leaf's truth over a recorded value; None when an undecided value leaves it open."""
    if isinstance(value, OneOf):
        results = {holds(leaf, v) for v in value}
        return results.pop() if len(results) == 1 else None
    if isinstance(value, UpTo):
        numeric = isinstance(leaf.value, int | float) and not isinstance(leaf.value, bool)
        return value.decides(leaf.op, float(leaf.value)) if numeric else None
    return holds(leaf, value)


def evaluate(
    cond: Condition, facts: Facts, definitions: Definitions, memo: dict[str, Outcome] | None = None
) -> Outcome:
    """Three-valued truth of `cond`; `memo` caches named definitions for one set of facts."""
    if isinstance(cond, Leaf):
        value = facts.get(cond.fact)
        if cond.op == "known":
            return TRUE if (value is not None) == cond.value else FALSE
        result = None if value is None else _decided(cond, value)
        if result is None:
            return Outcome(Truth.UNKNOWN, frozenset((cond.fact,)))
        return TRUE if result else FALSE
    if isinstance(cond, Ref):
        if memo is None:
            return evaluate(definitions[cond.name], facts, definitions)
        cached = memo.get(cond.name)
        if cached is None:
            cached = memo[cond.name] = evaluate(definitions[cond.name], facts, definitions, memo)
        return cached
    if isinstance(cond, Not):
        inner = evaluate(cond.item, facts, definitions, memo)
        if inner.truth is Truth.UNKNOWN:
            return inner
        return FALSE if inner.truth is Truth.TRUE else TRUE
    decisive = Truth.FALSE if isinstance(cond, All) else Truth.TRUE
    missing: set[str] = set()
    for item in cond.items:
        outcome = evaluate(item, facts, definitions, memo)
        if outcome.truth is decisive:
            return outcome if not outcome.missing else Outcome(decisive)
        missing |= outcome.missing
    if missing:
        return Outcome(Truth.UNKNOWN, frozenset(missing))
    return TRUE if isinstance(cond, All) else FALSE


# A phrase for one leaf that fails: (leaf as it must hold, actual value or None when unknown).
Phrase = Callable[[Leaf, Any], str]


def _bar(groups: list[list[str]]) -> str:
    return " | ".join("; ".join(group) for group in groups)


def explain(
    cond: Condition,
    facts: Facts,
    definitions: Definitions,
    phrase: Phrase,
    want: bool = True,
    either: Callable[[list[list[str]]], str] = _bar,
) -> list[str]:
    """Why `cond` is not `want`: the failing or unknown clauses, each in words.

    Negation is pushed down to the leaves (De Morgan), so every phrase states a positive
    requirement ("Ki-67 index 25 % (required: < 10 %)") rather than a double negative. A failed
    alternative is one line, worded by `either` from each branch's failing clauses; an
    alternative with a branch that holds is met and names nothing.
    """
    if isinstance(cond, Ref):
        return explain(definitions[cond.name], facts, definitions, phrase, want, either)
    if isinstance(cond, Not):
        return explain(cond.item, facts, definitions, phrase, not want, either)
    if isinstance(cond, Leaf):
        value = facts.get(cond.fact)
        if cond.op == "known":
            settled = ((value is not None) == cond.value) == want
        else:  # an unrecorded or undecided value never settles a clause
            settled = value is not None and _decided(cond, value) == want
        if settled:
            return []
        return [phrase(cond if want else negate(cond), value)]
    conjunctive = isinstance(cond, All) == want  # all(...) wanted true, or any(...) wanted false
    parts = [explain(item, facts, definitions, phrase, want, either) for item in cond.items]
    if conjunctive:
        return [p for group in parts for p in group]
    if not parts or any(not group for group in parts):  # one branch holds: the alternative is met
        return []
    return [either(parts) if len(parts) > 1 else "; ".join(parts[0])]


def unmet_count(cond: Condition, facts: Facts, definitions: Definitions, want: bool = True) -> int:
    """How many lines `explain` would give, without wording them (to pick the nearest rule)."""
    if isinstance(cond, Ref):
        return unmet_count(definitions[cond.name], facts, definitions, want)
    if isinstance(cond, Not):
        return unmet_count(cond.item, facts, definitions, not want)
    if isinstance(cond, Leaf):
        value = facts.get(cond.fact)
        if cond.op == "known":
            return 0 if ((value is not None) == cond.value) == want else 1
        return 0 if value is not None and _decided(cond, value) == want else 1
    counts = [unmet_count(item, facts, definitions, want) for item in cond.items]
    if isinstance(cond, All) == want:
        return sum(counts)
    return 1 if any(counts) else 0


def negate(leaf: Leaf) -> Leaf:
    if leaf.op in NEGATION:
        return Leaf(leaf.fact, NEGATION[leaf.op], leaf.value, leaf.source, None)
    if leaf.op in ("is", "known"):
        return Leaf(leaf.fact, leaf.op, not leaf.value, leaf.source, None)
    # "contains" has no single-leaf negation; mark it so the phrase reads "does not include".
    return Leaf(leaf.fact, "not_contains", leaf.value, leaf.source, None)


def leaves(cond: Condition, definitions: Definitions | None = None) -> list[Leaf]:
    """All leaves of a tree, following refs (each once; unknown ones skipped) when given."""
    out: list[Leaf] = []
    seen: set[str] = set()

    def visit(node: Condition) -> None:
        if isinstance(node, Leaf):
            out.append(node)
        elif isinstance(node, Ref):
            if definitions is not None and node.name not in seen and node.name in definitions:
                seen.add(node.name)
                visit(definitions[node.name])
        elif isinstance(node, Not):
            visit(node.item)
        else:
            for item in node.items:
                visit(item)

    visit(cond)
    return out


def refs(cond: Condition) -> list[str]:
    if isinstance(cond, Ref):
        return [cond.name]
    if isinstance(cond, Not):
        return refs(cond.item)
    if isinstance(cond, Leaf):
        return []
    return [name for item in cond.items for name in refs(item)]
