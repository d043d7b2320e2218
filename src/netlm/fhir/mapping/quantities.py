"""A Quantity with a comparator (`<30 mL/min`) is a bound, not a value.

Recording the bound as the value can cross a threshold: `<30` read as 30 escapes a "< 30" limit.
The bound is kept only when it answers every comparison netlm makes on that finding exactly as
every value beyond it would (e.g. eGFR `>90` against limits at 30, 40 and 50); otherwise the
finding stays unknown and is reported, so the missing-data list asks for the exact value.
"""

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from netlm.knowledge.conditions import Leaf

BELOW = ("<", "<=")
ABOVE = (">", ">=")
# "4 %", "<3 %", "8.5%", ">= 90 mL/min/{1.73_m2}": a number with a unit, as valueString sends it.
_NUMBER_AND_UNIT = re.compile(
    r"^\s*(?P<cmp><=|>=|<|>|≤|≥)?\s*(?P<value>\d+(?:[.,]\d+)?)\s*(?P<unit>\S(?:.*\S)?)\s*$"
)
_SIGNS = {"≤": "<=", "≥": ">="}


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


def _strictly_same(leaf: Leaf, bound: float, below: bool) -> bool:
    """`leaf` has one truth value over every value strictly beyond the bound (not the bound)."""
    if leaf.op in ("eq", "ne", "in", "not_in"):
        return not [v for v in _numbers(leaf.value) if (v < bound if below else v > bound)]
    if not _numbers(leaf.value):
        return False
    t = _numbers(leaf.value)[0]
    return bound <= t if below else bound >= t


def representative(
    comparator: str, bound: float, comparisons: Iterable[Leaf], *, whole: bool = False
) -> float | None:
    """The value to record for a bound, or None when the bound does not decide the finding.

    The bound itself when it decides every comparison (`>90` against limits at 30-50). For a
    strict bound (`<3`) that the bound itself would not decide (3 is G2, every value under 3 is
    G1), a value just beyond it (2.9; 1 below for whole numbers) when every comparison treats all
    values beyond the bound alike: the recorded number then gives exactly the answers the report
    gives. The model holds numbers, not intervals; the source note says what was reported.
    """
    leaves = list(comparisons)
    if bound_decides(comparator, bound, leaves):
        return bound
    if comparator not in ("<", ">"):
        return None
    below = comparator == "<"
    if not all(_strictly_same(leaf, bound, below) for leaf in leaves):
        return None
    exponent = Decimal(str(bound)).normalize().as_tuple().exponent
    step = 1.0 if whole else 10.0 ** (min(int(exponent), 0) - 1)
    value = round(bound - step if below else bound + step, 9)
    return value if value >= 0 else None


def quantity_in_text(text: str) -> dict[str, Any] | None:
    """A valueString such as "4 %" or "<3 %" as a Quantity (value, unit, comparator), or None."""
    found = _NUMBER_AND_UNIT.match(text)
    if found is None:
        return None
    quantity: dict[str, Any] = {
        "value": float(found["value"].replace(",", ".")),
        "unit": found["unit"],
    }
    if found["cmp"]:
        quantity["comparator"] = _SIGNS.get(found["cmp"], found["cmp"])
    return quantity


def cuts(comparisons: Iterable[Leaf]) -> str:
    """The thresholds in words, for the unmapped reason: "< 30, < 40, >= 50"."""
    signs = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "=", "ne": "!="}
    return ", ".join(f"{signs.get(leaf.op, leaf.op)} {leaf.value}" for leaf in comparisons)
