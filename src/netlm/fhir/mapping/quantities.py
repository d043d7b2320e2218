"""A Quantity with a comparator (`<30 mL/min`) is a bound, not a value.

Recording the bound as the value can cross a threshold: `<30` read as 30 escapes a "< 30" limit.
The bound is kept only when it answers every comparison netlm makes on that finding exactly as
every value beyond it would (e.g. eGFR `>90` against limits at 30, 40 and 50); otherwise the
finding stays unknown and is reported, so the missing-data list asks for the exact value.
"""

from collections.abc import Iterable
from typing import Any

from netlm.knowledge.conditions import Leaf

BELOW = ("<", "<=")
ABOVE = (">", ">=")


def _numbers(operand: Any) -> list[float]:
    items = operand if isinstance(operand, list | tuple) else [operand]
    return [float(x) for x in items if isinstance(x, int | float) and not isinstance(x, bool)]


def _same_beyond(leaf: Leaf, bound: float, below: bool) -> bool:
    """`leaf` has one truth value over the bound and every value beyond it."""
    op = leaf.op
    if op in ("eq", "ne", "in", "not_in"):
        beyond = [v for v in _numbers(leaf.value) if (v <= bound if below else v >= bound)]
        return not beyond
    if not _numbers(leaf.value):
        return False
    t = _numbers(leaf.value)[0]
    if op == "lt":
        return bound < t if below else bound >= t
    if op == "le":
        return bound <= t if below else bound > t
    if op == "gt":
        return bound <= t if below else bound > t
    if op == "ge":
        return bound < t if below else bound >= t
    return False


def bound_decides(comparator: str, bound: float, comparisons: Iterable[Leaf]) -> bool:
    """True when recording `bound` cannot change any answer netlm gives for this finding."""
    if comparator not in BELOW + ABOVE:
        return False  # "ad" (sufficient to achieve) or anything else: not a bound
    below = comparator in BELOW
    return all(_same_beyond(leaf, bound, below) for leaf in comparisons)


def cuts(comparisons: Iterable[Leaf]) -> str:
    """The thresholds in words, for the unmapped reason: "< 30, < 40, >= 50"."""
    signs = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "=", "ne": "!="}
    return ", ".join(f"{signs.get(leaf.op, leaf.op)} {leaf.value}" for leaf in comparisons)
