"""Provisional answers: what the first tier would be for each value of a missing finding.

The three-valued rules already say which unrecorded findings *could* matter; this module asks
whether they *do*. For each missing case field it assesses the case again with every value the
knowledge base can tell apart (enum members, true/false, and for numbers one value on each
side of, and on, every threshold any rule uses), keeping only the first tier. A field is
decisive when its values lead to different first tiers, or to a first tier other than today's;
the answer is then `provisional` and the branches are reported ("if type II: ...; if type III:
..."). Fields are explored one at a time, at most `MAX_RUNS` re-assessments in all, so the
enumeration stays bounded.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from math import inf
from typing import Any

from netlm.knowledge.conditions import COMPARISONS, Condition, leaves
from netlm.knowledge.load import KnowledgeBase
from netlm.model.assessment import Assessment
from netlm.model.case import Case

MAX_RUNS = 40
# What each of these means when set: a list field is explored as none / regional nodes / beyond.
_LIST_VALUES: dict[str, tuple[Any, ...]] = {
    "extrahepatic.sites": ((), ("regional_lymph_nodes",), ("bone",)),
}
_NOT_A_VALUE = frozenset({"unknown"})  # enum members that do not settle anything


@dataclass(frozen=True)
class Interval:
    """A range of a number the rules cannot tell apart: its bounds and whether they belong."""

    lo: float
    hi: float
    lo_in: bool
    hi_in: bool

    def sample(self) -> float:
        if self.lo == self.hi:
            return self.lo
        if self.lo == -inf:
            return self.hi / 2 if self.hi > 0 else self.hi - 1
        if self.hi == inf:
            return self.lo + max(1.0, abs(self.lo) / 2)
        return (self.lo + self.hi) / 2

    def join(self, other: "Interval") -> "Interval":
        return Interval(self.lo, other.hi, self.lo_in, other.hi_in)

    def words(self, unit: str | None, integer: bool = False) -> str:
        tail = "" if not unit else (unit if unit == "%" else f" {unit}")
        if integer:
            first, last = _integer_sample(self), _integer_last(self)
            span = str(first) if first == last else f"{first}–{last}"
            return span + tail
        if self.lo == self.hi:
            return f"{_num(self.lo)}{tail}"
        lower = f"{'≥' if self.lo_in else '>'} {_num(self.lo)}" if self.lo != -inf else ""
        upper = f"{'≤' if self.hi_in else '<'} {_num(self.hi)}" if self.hi != inf else ""
        return ", ".join(p for p in (lower, upper) if p) + tail


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class Outcome:
    value: Any  # the value set in the case (an Interval for numbers)
    first_tier: tuple[tuple[str, str], ...]  # (option code, strength), in rank order


@dataclass(frozen=True)
class FieldBranches:
    field: str
    outcomes: tuple[Outcome, ...]


_CUTS: dict[int, tuple[KnowledgeBase, dict[str, tuple[float, ...]]]] = {}


def _conditions(kb: KnowledgeBase) -> Iterator[Condition]:
    for entry in kb.options.values():
        for group in (entry.indications, entry.contraindications, entry.eligibility):
            yield from (c.when for c in group)
        yield from (c.when for c in entry.cautions)
        yield from entry.scopes.values()
    yield from kb.definitions.values()
    for group in (kb.pattern_rules, kb.unresectable_rules, kb.potentially_resectable_rules):
        yield from (c.when for c in group)
    yield kb.resectable_when
    yield from (c.when for c in kb.flags)


def cut_points(kb: KnowledgeBase) -> dict[str, tuple[float, ...]]:
    """Every threshold the knowledge base compares each numeric fact with (cached per kb)."""
    cached = _CUTS.get(id(kb))
    if cached is not None and cached[0] is kb:
        return cached[1]
    cuts: dict[str, set[float]] = {}
    for cond in _conditions(kb):
        for leaf in leaves(cond):
            numeric = isinstance(leaf.value, int | float) and not isinstance(leaf.value, bool)
            if numeric and leaf.op in (*COMPARISONS, "eq", "ne"):
                cuts.setdefault(leaf.fact, set()).add(float(leaf.value))
    result = {fact: tuple(sorted(values)) for fact, values in cuts.items()}
    _CUTS[id(kb)] = (kb, result)
    return result


def intervals(cuts: tuple[float, ...], lo: float, hi: float) -> list[Interval]:
    """The pieces of [lo, hi] that the thresholds `cuts` separate, in order."""
    inside = [c for c in cuts if lo <= c <= hi]
    out: list[Interval] = []
    previous, previous_in = lo, True
    for c in inside:
        if c > previous:
            out.append(Interval(previous, c, previous_in, False))
        out.append(Interval(c, c, True, True))
        previous, previous_in = c, False
    if hi > previous:
        out.append(Interval(previous, hi, previous_in, True))
    return out


def field_values(field: str, kb: KnowledgeBase, bounds: tuple[float, float]) -> list[Any]:
    """The values of a case field that the rules can tell apart (empty: not explorable)."""
    if field in _LIST_VALUES:
        return list(_LIST_VALUES[field])
    spec = kb.facts.get(field)
    if spec is None:
        return []
    if spec.type == "boolean":
        return [True, False]
    if spec.type == "enum" and spec.values:
        return [v for v in spec.values if v not in _NOT_A_VALUE]
    if spec.type in ("number", "integer"):
        cuts = cut_points(kb).get(field, ())
        if not cuts:
            return []
        pieces = intervals(cuts, *bounds)
        if spec.type == "integer":
            pieces = [p for p in pieces if _has_integer(p)]
        return pieces
    return []


def _has_integer(piece: Interval) -> bool:
    lo = piece.lo if piece.lo_in and float(piece.lo).is_integer() else int(piece.lo) + 1
    return lo < piece.hi or (lo == piece.hi and piece.hi_in)


def _integer_last(piece: Interval) -> int:
    if piece.hi_in or not float(piece.hi).is_integer():
        return int(piece.hi)
    return int(piece.hi) - 1


def _integer_sample(piece: Interval) -> int:
    if piece.lo == piece.hi:
        return int(piece.lo)
    lo = piece.lo if piece.lo_in and float(piece.lo).is_integer() else int(piece.lo) + 1
    return int(lo)


def set_field(data: dict[str, Any], field: str, value: Any, integer: bool) -> dict[str, Any]:
    """A copy of the case JSON with `field` (a dotted path) set to `value`."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    section, _, name = field.partition(".")
    target = out.setdefault(section, {})
    if isinstance(value, Interval):
        value = _integer_sample(value) if integer else value.sample()
    target[name] = list(value) if isinstance(value, tuple) else value
    return out


def explore(
    case: Case,
    fields: list[str],
    base: tuple[tuple[str, str], ...],
    first_tier: Callable[[Case], tuple[tuple[str, str], ...] | None],
    kb: KnowledgeBase,
    bounds: Callable[[str], tuple[float, float]],
) -> list[FieldBranches]:
    """The decisive fields among `fields`, each with the first tier for each of its values.

    A value that contradicts the recorded findings (`first_tier` gives None) is no branch. A
    field whose values leave nothing proposed (other findings still missing) is reported only
    when no field settles the answer on its own.
    """
    data = case.to_json_dict()
    runs = 0
    decisive: list[FieldBranches] = []
    for field in fields:
        values = field_values(field, kb, bounds(field))
        if not values or runs + len(values) > MAX_RUNS:
            continue
        spec = kb.facts.get(field)
        integer = spec is not None and spec.type == "integer"
        outcomes: list[Outcome] = []
        for value in values:
            runs += 1
            changed = Case.model_validate(set_field(data, field, value, integer))
            tier = first_tier(changed)
            if tier is None:
                continue
            if outcomes and outcomes[-1].first_tier == tier and isinstance(value, Interval):
                previous = outcomes[-1]
                assert isinstance(previous.value, Interval)
                outcomes[-1] = Outcome(previous.value.join(value), tier)
            else:
                outcomes.append(Outcome(value, tier))
        if len({o.first_tier for o in outcomes} | {base}) > 1:
            decisive.append(FieldBranches(field, tuple(outcomes)))
    settling = [b for b in decisive if all(o.first_tier for o in b.outcomes)]
    return settling or decisive


def provisional_lines(a: Assessment, kb: KnowledgeBase) -> list[str]:
    """What the first choice would be for each value of each deciding missing finding."""

    def w(key: str, **values: object) -> str:
        return kb.messages[key](a.language).format(**values)

    if a.completeness != "provisional":
        return []
    lines = [w("ui.provisional")]
    if not a.recommendations and not a.branches:
        lines.append(w("ui.provisional_empty"))
    for branch in a.branches:
        cases = [
            w(
                "ui.branch_if",
                value=o.value,
                options=" / ".join(o.names) if o.names else w("ui.branch_nothing"),
            )
            for o in branch.outcomes
        ]
        lines.append(f"{branch.label} ({branch.field}): {w('word.clause_sep').join(cases)}")
    return lines
