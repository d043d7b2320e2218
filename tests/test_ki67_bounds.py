"""A Ki-67 reported as an upper bound ("<3 %", "≤2 %") is held as a bound: it decides the grade
and every Ki-67 rule only where every value it allows agrees, and is otherwise unknown."""

from typing import Any

import pytest
from pydantic import ValidationError

from netlm.classify.grade import who_grade
from netlm.engine.assess import assess
from netlm.knowledge.conditions import Leaf, Truth, UpTo, evaluate
from netlm.knowledge.load import KnowledgeBase
from netlm.model.case import Case, Pathology

BELOW, AT_MOST = "ki67_below_percent", "ki67_at_most_percent"


def grade(kb: KnowledgeBase, **fields: object) -> tuple[str, str | None]:
    result = who_grade(Pathology.model_validate(fields), kb.classification.grading)
    return result.grade, result.ki67_grade


@pytest.mark.parametrize(
    ("field", "bound", "expected"),
    [(BELOW, 0.5, "G1"), (BELOW, 1, "G1"), (BELOW, 2.99, "G1"), (BELOW, 3, "G1"),
     (BELOW, 3.01, "unknown"), (BELOW, 10, "unknown"), (BELOW, 25, "unknown"),
     (BELOW, 100, "unknown"), (AT_MOST, 0, "G1"), (AT_MOST, 2, "G1"), (AT_MOST, 2.99, "G1"),
     (AT_MOST, 3, "unknown"), (AT_MOST, 20, "unknown")],
)  # fmt: skip
def test_a_bound_grades_only_when_every_value_under_it_is_g1(
    kb: KnowledgeBase, field: str, bound: float, expected: str
) -> None:
    assert grade(kb, **{field: bound}) == (expected, None if expected == "unknown" else "G1")


def test_an_undeciding_bound_leaves_the_grade_to_the_mitoses_as_if_unrecorded(
    kb: KnowledgeBase,
) -> None:
    assert grade(kb, ki67_below_percent=25, mitoses_per_2mm2=1) == ("G1", None)
    assert grade(kb, ki67_below_percent=25, mitoses_per_2mm2=25, differentiation="well") == (
        "G3",
        None,
    )
    discordant = who_grade(
        Pathology(ki67_below_percent=3, mitoses_per_2mm2=5), kb.classification.grading
    )
    assert (discordant.grade, discordant.discordant) == ("G2", True)


@pytest.mark.parametrize(
    "fields",
    [{"ki67_percent": 2, BELOW: 3}, {BELOW: 3, AT_MOST: 2}, {BELOW: 0}, {AT_MOST: 101}],
)
def test_a_value_and_a_bound_or_a_bound_out_of_range_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Pathology.model_validate(fields)


@pytest.mark.parametrize(
    ("value", "op", "threshold", "expected"),
    [(UpTo(3, False), "lt", 3, True), (UpTo(3, True), "lt", 3, None),
     (UpTo(3, False), "le", 10, True), (UpTo(12, False), "le", 10, None),
     (UpTo(10, True), "le", 10, True), (UpTo(10, False), "ge", 10, False),
     (UpTo(10, True), "ge", 10, None), (UpTo(20, False), "gt", 55, False),
     (UpTo(20, True), "gt", 20, False), (UpTo(25, False), "gt", 20, None),
     (UpTo(5, False), "eq", 5, False), (UpTo(5, True), "eq", 5, None),
     (UpTo(5, False), "ne", 7, True), (UpTo(5, False), "ge", 0, True)],
)  # fmt: skip
def test_a_rule_on_ki67_is_decided_only_where_the_bound_decides(
    value: UpTo, op: str, threshold: float, expected: bool | None
) -> None:
    leaf = Leaf("pathology.ki67_percent", op, threshold)
    outcome = evaluate(leaf, {"pathology.ki67_percent": value}, {})
    truth = {True: Truth.TRUE, False: Truth.FALSE, None: Truth.UNKNOWN}[expected]
    assert outcome.truth is truth
    assert outcome.missing == (frozenset() if expected is not None else {leaf.fact})


def _case(**pathology: object) -> Case:
    return Case.model_validate(
        {
            "schema": "netlm.case/1",
            "id": "k",
            "primary": {"site": "small_intestine"},
            "liver": {"pattern": "III", "distribution": "bilobar"},
            "pathology": {"differentiation": "well", **pathology},
            "sstr_imaging": {"krenning_score": 3},
        }
    )


def test_under_3_assesses_as_a_g1_value_under_3_does(kb: KnowledgeBase) -> None:
    bound, value = assess(_case(ki67_below_percent=3)), assess(_case(ki67_percent=2))
    assert bound.classification.grade == value.classification.grade == "G1"
    assert [r.option for r in bound.recommendations] == [r.option for r in value.recommendations]
    assert "pathology.ki67_percent" not in {m.field for m in bound.missing_data}


def test_under_25_asks_for_the_value_and_explores_only_below_the_bound() -> None:
    a = assess(_case(ki67_below_percent=25))
    assert a.classification.grade == "unknown"
    assert a.completeness == "provisional"
    assert "pathology.ki67_percent" in {m.field for m in a.missing_data}
    (branch,) = [b for b in a.branches if b.field == "pathology.ki67_percent"]
    words = [o.value for o in branch.outcomes]
    assert not any("25" in w or "55" in w for w in words), words


def test_the_bound_is_said_as_reported_in_why_not() -> None:
    a = assess(_case(ki67_below_percent=25))
    reasons = [r for e in a.excluded for r in e.reasons if "Ki-67" in r]
    assert reasons
    assert all("here <25%" in r for r in reasons), reasons
