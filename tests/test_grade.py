"""WHO 2019 grading: every threshold boundary, the higher-of-two rule, NEC by morphology."""

import pytest

from netlm.classify.grade import who_grade
from netlm.knowledge.load import KnowledgeBase
from netlm.model.case import Pathology


def grade(kb: KnowledgeBase, **fields: object) -> tuple[str, str]:
    result = who_grade(Pathology.model_validate(fields), kb.classification.grading)
    return result.grade, result.basis


@pytest.mark.parametrize(
    ("ki67", "expected"),
    [(0, "G1"), (2.5, "G1"), (2.99, "G1"), (3, "G2"), (10, "G2"), (20, "G2"), (20.01, "G3"),
     (20.5, "G3"), (55, "G3"), (100, "G3")],
)  # fmt: skip
def test_ki67_boundaries(kb: KnowledgeBase, ki67: float, expected: str) -> None:
    assert grade(kb, ki67_percent=ki67) == (expected, "ki67")


@pytest.mark.parametrize(
    ("mitoses", "expected"),
    [(0, "G1"), (1.9, "G1"), (2, "G2"), (20, "G2"), (20.1, "G3"), (21, "G3")],
)
def test_mitotic_boundaries(kb: KnowledgeBase, mitoses: float, expected: str) -> None:
    assert grade(kb, mitoses_per_2mm2=mitoses) == (expected, "mitoses")


@pytest.mark.parametrize(
    ("ki67", "mitoses", "expected"),
    [
        (2.5, 6, ("G2", "mitoses")),  # the vignette: Ki-67 G1, mitoses G2
        (25, 1, ("G3", "ki67")),
        (15, 25, ("G3", "mitoses")),
        (1, 1, ("G1", "both")),
        (10, 10, ("G2", "both")),
    ],
)
def test_higher_of_the_two_decides(
    kb: KnowledgeBase, ki67: float, mitoses: float, expected: tuple[str, str]
) -> None:
    assert grade(kb, ki67_percent=ki67, mitoses_per_2mm2=mitoses) == expected


@pytest.mark.parametrize(
    "fields",
    [
        {"differentiation": "poor", "ki67_percent": 80},
        {
            "differentiation": "poor",
            "ki67_percent": 5,
        },  # poorly differentiated is NEC whatever Ki-67
        {"morphology": "large_cell_nec"},
        {"morphology": "small_cell_nec", "differentiation": "well", "ki67_percent": 2},
    ],
)
def test_nec_is_not_graded_by_thresholds(kb: KnowledgeBase, fields: dict[str, object]) -> None:
    assert grade(kb, **fields) == ("NEC", "differentiation")


def test_no_index_means_unknown(kb: KnowledgeBase) -> None:
    assert grade(kb, differentiation="well") == ("unknown", "none")


def test_discordance_is_reported(kb: KnowledgeBase) -> None:
    both = who_grade(Pathology(ki67_percent=2.5, mitoses_per_2mm2=6), kb.classification.grading)
    same = who_grade(Pathology(ki67_percent=5, mitoses_per_2mm2=6), kb.classification.grading)
    one = who_grade(Pathology(ki67_percent=5), kb.classification.grading)
    assert (both.discordant, same.discordant, one.discordant) == (True, False, None)
