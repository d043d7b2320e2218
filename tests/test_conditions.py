"""The condition language: three-valued evaluation, explanation in words, parse errors."""

from typing import Any

import pytest

from netlm.knowledge.conditions import (
    ConditionSyntaxError,
    Leaf,
    Truth,
    evaluate,
    explain,
    parse,
    unmet_count,
)

DEFS = {"low": parse({"fact": "grade", "in": ["G1", "G2"]})}


def truth(cond: Any, facts: dict[str, Any]) -> Truth:
    return evaluate(parse(cond), facts, DEFS).truth


def plain(leaf: Leaf, actual: Any) -> str:
    return f"{leaf.fact} {leaf.op} {leaf.value!r} (is {actual!r})"


@pytest.mark.parametrize(
    ("op", "operand", "value", "expected"),
    [
        ("eq", "G1", "G1", True), ("ne", "G1", "G1", False), ("in", ["G1", "G2"], "G2", True),
        ("not_in", ["G1"], "G2", True), ("lt", 10, 9.99, True), ("lt", 10, 10, False),
        ("le", 10, 10, True), ("gt", 55, 55, False), ("ge", 55, 55, True),
        ("is", True, True, True), ("is", False, True, False), ("contains", "bone", ["bone"], True),
        ("contains", "bone", [], False),
    ],
)  # fmt: skip
def test_operators(op: str, operand: Any, value: Any, expected: bool) -> None:
    assert truth({"fact": "x", op: operand}, {"x": value}) is (
        Truth.TRUE if expected else Truth.FALSE
    )


def test_missing_fact_is_unknown_and_named() -> None:
    outcome = evaluate(parse({"fact": "x", "lt": 10}), {}, DEFS)
    assert outcome.truth is Truth.UNKNOWN
    assert outcome.missing == frozenset({"x"})


def test_known_operator_is_never_unknown() -> None:
    assert truth({"fact": "x", "known": False}, {}) is Truth.TRUE
    assert truth({"fact": "x", "known": True}, {"x": 0}) is Truth.TRUE


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({"all": [{"fact": "a", "is": True}, {"fact": "m", "is": True}]}, Truth.UNKNOWN),
        ({"all": [{"fact": "b", "is": True}, {"fact": "m", "is": True}]}, Truth.FALSE),
        ({"any": [{"fact": "a", "is": True}, {"fact": "m", "is": True}]}, Truth.TRUE),
        ({"any": [{"fact": "b", "is": True}, {"fact": "m", "is": True}]}, Truth.UNKNOWN),
        ({"not": {"fact": "m", "is": True}}, Truth.UNKNOWN),
        ({"not": {"fact": "a", "is": True}}, Truth.FALSE),
        ({"ref": "low"}, Truth.TRUE),
    ],
)
def test_kleene_logic(cond: Any, expected: Truth) -> None:
    assert truth(cond, {"a": True, "b": False, "grade": "G2"}) is expected


def test_decisive_false_hides_missing_facts() -> None:
    """An unknown clause does not matter when another clause already fails."""
    cond = parse({"all": [{"fact": "b", "is": True}, {"fact": "m", "is": True}]})
    assert evaluate(cond, {"b": False}, DEFS).missing == frozenset()


def test_explain_lists_each_unmet_clause() -> None:
    cond = parse(
        {"all": [{"fact": "k", "lt": 10}, {"fact": "s", "eq": "x"}, {"fact": "m", "ge": 6}]}
    )
    lines = explain(cond, {"k": 25, "s": "x"}, DEFS, plain)
    assert lines == ["k lt 10 (is 25)", "m ge 6 (is None)"]


def test_explain_pushes_negation_to_leaves() -> None:
    cond = parse({"not": {"any": [{"fact": "k", "gt": 20}, {"fact": "g", "in": ["G3"]}]}})
    lines = explain(cond, {"k": 25, "g": "G1"}, DEFS, plain)
    assert lines == ["k le 20 (is 25)"]


def test_explain_a_failed_alternative_as_one_line() -> None:
    cond = parse({"any": [{"fact": "a", "is": True}, {"fact": "b", "eq": "x"}]})
    assert explain(cond, {"a": False, "b": "y"}, DEFS, plain) == [
        "a is True (is False) | b eq 'x' (is 'y')"
    ]


def test_explain_true_condition_is_empty() -> None:
    assert explain(parse({"fact": "a", "is": True}), {"a": True}, DEFS, plain) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"fact": "x"},
        {"fact": "x", "lt": 1, "gt": 2},
        {"fact": "x", "lt": "ten"},
        {"fact": "x", "in": []},
        {"fact": "x", "is": "yes"},
        {"fact": "x", "eq": 1, "colour": "red"},
        {"all": []},
        {"every": []},
        ["not", "a", "mapping"],
    ],
)
def test_malformed_conditions_are_rejected(bad: Any) -> None:
    with pytest.raises(ConditionSyntaxError):
        parse(bad)


@pytest.mark.parametrize(
    "cond",
    [
        {"all": [{"fact": "k", "lt": 10}, {"fact": "s", "eq": "x"}, {"fact": "m", "ge": 6}]},
        {"not": {"any": [{"fact": "k", "gt": 20}, {"fact": "g", "in": ["G3"]}]}},
        {"any": [{"fact": "a", "is": True}, {"fact": "b", "eq": "x"}]},
        {"all": [{"ref": "low"}, {"not": {"fact": "m", "known": True}}]},
    ],
)
def test_unmet_count_matches_explain(cond: Any) -> None:
    facts = {"k": 25, "s": "x", "a": False, "b": "y", "g": "G1", "grade": "G3"}
    tree = parse(cond)
    assert unmet_count(tree, facts, DEFS) == len(explain(tree, facts, DEFS, plain))
