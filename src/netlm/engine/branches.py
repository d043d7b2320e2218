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
from types import NoneType
from typing import Any, get_args

from netlm.knowledge.conditions import COMPARISONS, Condition, Leaf, holds, leaves
from netlm.knowledge.load import KnowledgeBase
from netlm.model.assessment import Assessment
from netlm.model.case import Case

MAX_RUNS = 40
# What each of these means when set: a list field is explored as none / regional nodes / beyond.
_LIST_VALUES: dict[str, tuple[Any, ...]] = {
    "extrahepatic.sites": ((), ("regional_lymph_nodes",), ("bone",)),
}
_NOT_A_VALUE = frozenset({"unknown"})  # enum members that do not settle anything
# Enum fields that Python code reads besides the rules (netlm.classify: grade, stated pattern,
# ongoing-therapy history): their members are never grouped by the rules alone.
_READ_IN_CODE = frozenset(
    {"pathology.differentiation", "pathology.morphology", "liver.pattern", "course.status"}
)


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

    def words(
        self, unit: str | None, integer: bool = False, bounds: tuple[float, float] = (-inf, inf)
    ) -> str:
        """The range in symbols; a bound that is the field's own limit is left out."""
        tail = "" if not unit else (unit if unit == "%" else f" {unit}")
        if integer:
            first, last = _integer_sample(self), _integer_last(self)
            span = str(first) if first == last else f"{first}–{last}"
            return span + tail
        if self.lo == self.hi:
            return f"{_num(self.lo)}{tail}"
        floor, ceiling = bounds
        lower = f"{'≥' if self.lo_in else '>'} {_num(self.lo)}" if self.lo > floor else ""
        upper = f"{'≤' if self.hi_in else '<'} {_num(self.hi)}" if self.hi < ceiling else ""
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


_CUTS: dict[int, tuple[KnowledgeBase, dict[str, dict[float, frozenset[str]]]]] = {}
_UPPER = frozenset({"lt", "ge"})  # a threshold compared only so belongs to the range above it
_LOWER = frozenset({"le", "gt"})  # ... only so, to the range below it


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


def cut_points(kb: KnowledgeBase) -> dict[str, dict[float, frozenset[str]]]:
    """Every threshold the knowledge base compares each numeric fact with, and how (cached)."""
    cached = _CUTS.get(id(kb))
    if cached is not None and cached[0] is kb:
        return cached[1]
    cuts: dict[str, dict[float, set[str]]] = {}
    for fact, tests in _tests(kb).items():
        for leaf in tests:
            numeric = isinstance(leaf.value, int | float) and not isinstance(leaf.value, bool)
            if numeric and leaf.op in (*COMPARISONS, "eq", "ne"):
                cuts.setdefault(fact, {}).setdefault(float(leaf.value), set()).add(leaf.op)
    result = {
        fact: {t: frozenset(ops) for t, ops in sorted(by_value.items())}
        for fact, by_value in cuts.items()
    }
    _CUTS[id(kb)] = (kb, result)
    return result


_TESTS: dict[int, tuple[KnowledgeBase, dict[str, list[Leaf]]]] = {}


def _tests(kb: KnowledgeBase) -> dict[str, list[Leaf]]:
    """Every leaf of every rule, by the fact it tests (cached per knowledge base)."""
    cached = _TESTS.get(id(kb))
    if cached is not None and cached[0] is kb:
        return cached[1]
    out: dict[str, list[Leaf]] = {}
    for cond in _conditions(kb):
        for leaf in leaves(cond):
            out.setdefault(leaf.fact, []).append(leaf)
    _TESTS[id(kb)] = (kb, out)
    return out


def intervals(cuts: dict[float, frozenset[str]], lo: float, hi: float) -> list[Interval]:
    """The pieces of [lo, hi] that the thresholds `cuts` (value -> operators) separate, in
    order. A threshold stands alone only when some rule tests equality or compares it from
    both sides; otherwise it joins the range its comparisons put it in."""
    out: list[Interval] = []
    start, start_in = lo, True

    def close(end: float, end_in: bool) -> None:
        if start < end or (start == end and start_in and end_in):
            out.append(Interval(start, end, start_in, end_in))

    for t, ops in cuts.items():
        if not lo <= t <= hi:
            continue
        if ops <= _UPPER:
            close(t, False)
            start, start_in = t, True
        elif ops <= _LOWER:
            close(t, True)
            start, start_in = t, False
        else:
            close(t, False)
            out.append(Interval(t, t, True, True))
            start, start_in = t, False
    close(hi, True)
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
        members = [v for v in spec.values if v not in _NOT_A_VALUE]
        return members if field in _READ_IN_CODE else enum_classes(kb, field, members)
    if spec.type in ("number", "integer"):
        cuts = cut_points(kb).get(field, {})
        if not cuts:
            return []
        pieces = intervals(cuts, *bounds)
        if spec.type == "integer":
            pieces = [p for p in pieces if _has_integer(p)]
        return pieces
    return []


@dataclass(frozen=True)
class Members:
    """Enum members that every rule treats alike: one branch, the first one assessed."""

    values: tuple[str, ...]


def enum_classes(kb: KnowledgeBase, field: str, members: list[str]) -> list[Any]:
    """The members of an enum field grouped by how the rules test them (`Members` for a group
    of more than one)."""
    tests = _tests(kb).get(field, [])
    groups: dict[tuple[bool, ...], list[str]] = {}
    for member in members:
        signature = tuple(holds(leaf, member) for leaf in tests if leaf.op != "known")
        groups.setdefault(signature, []).append(member)
    return [g[0] if len(g) == 1 else Members(tuple(g)) for g in groups.values()]


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


def set_field(case: Case, field: str, value: Any, integer: bool) -> Case:
    """The case with `field` (a dotted path, or a top-level field) set to `value`. Values come
    from the field's own domain, so the copy is not validated again."""
    if isinstance(value, Interval):
        value = _integer_sample(value) if integer else value.sample()
    elif isinstance(value, Members):
        value = value.values[0]
    elif isinstance(value, tuple):
        value = list(value)
    section, _, name = field.partition(".")
    if not name:
        return case.model_copy(update={section: value})
    part = getattr(case, section)
    if part is None:  # a section not recorded at all (extrahepatic)
        model = next(
            t for t in get_args(Case.model_fields[section].annotation) if t is not NoneType
        )
        part = model()
    return case.model_copy(update={section: part.model_copy(update={name: value})})


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
            changed = set_field(case, field, value, integer)
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


def provisional_rows(a: Assessment, kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    """(label, field, what the first choice would be for each value) per deciding finding."""

    def w(key: str, **values: object) -> str:
        return kb.messages[key](a.language).format(**values)

    rows = []
    for branch in a.branches:
        cases = [
            w(
                "ui.branch_if",
                value=o.value,
                options=" / ".join(
                    w("ui.option_strength", name=name, strength=w(f"strength.{strength}"))
                    for name, strength in zip(o.names, o.strengths, strict=True)
                )
                or w("ui.branch_nothing"),
            )
            for o in branch.outcomes
        ]
        rows.append((branch.label, branch.field, w("word.clause_sep").join(cases)))
    return rows


def provisional_lines(a: Assessment, kb: KnowledgeBase) -> list[str]:
    """The provisional block as text lines: the heading, then one line per deciding finding
    (with its JSON path, for the CLI and CDS cards; pages and the PDF show the label only)."""
    if a.completeness != "provisional":
        return []
    lines = [kb.messages["ui.provisional"](a.language)]
    if not a.recommendations and not a.branches:
        lines.append(kb.messages["ui.provisional_empty"](a.language))
    lines += [f"{label} ({field}): {text}" for label, field, text in provisional_rows(a, kb)]
    return lines
