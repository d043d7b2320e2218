"""Liver pattern and resectability: each derivation rule and each resectability reason."""

from typing import Any

import pytest

from netlm import assess
from netlm.classify import derive
from netlm.knowledge.load import KnowledgeBase
from tests.conftest import make_case


def derived(kb: KnowledgeBase, **changes: Any) -> Any:
    return derive(make_case(**changes), kb)


class TestLiverPattern:
    def test_stated_pattern_wins_over_derivation(self, kb: KnowledgeBase) -> None:
        d = derived(kb, liver={"lesion_count": 1, "pattern": "II"})
        assert (d.pattern.pattern, d.pattern.stated) == ("II", True)

    def test_single_lesion_is_type_one(self, kb: KnowledgeBase) -> None:
        d = derived(kb, liver={"lesion_count": 1})
        assert d.pattern.pattern == "I"
        assert d.pattern.rule is not None
        assert d.pattern.rule.id == "single_lesion"

    @pytest.mark.parametrize("count", [2, 5, 40])
    def test_multiple_lesions_stay_unclassified(self, kb: KnowledgeBase, count: int) -> None:
        d = derived(kb, liver={"lesion_count": count})
        assert d.pattern.pattern == "unclassified"
        assert d.pattern.missing[0] == "liver.pattern"

    def test_unknown_count_asks_for_pattern_and_count(self, kb: KnowledgeBase) -> None:
        d = derived(kb, liver={"lesion_count": None})
        assert d.pattern.pattern == "unclassified"
        assert set(d.pattern.missing) == {"liver.pattern", "liver.lesion_count"}

    def test_unclassified_pattern_is_missing_data(self, kb: KnowledgeBase) -> None:
        fields = [m.field for m in assess(make_case(liver={"lesion_count": 4})).missing_data]
        assert "liver.pattern" in fields


RESECTABLE = {
    "primary": {"site": "pancreas", "status": "in_place", "resectable": True},
    "liver": {"lesion_count": 1, "future_liver_remnant_percent": 70},
    "extrahepatic": {"sites": []},
}


def resect(kb: KnowledgeBase, **changes: Any) -> tuple[str, list[str]]:
    result = derive(make_case(RESECTABLE, changes), kb).resectability
    return result.value, [r.rule.id for r in result.rules]


class TestResectability:
    def test_baseline_is_resectable(self, kb: KnowledgeBase) -> None:
        assert resect(kb) == ("resectable", [])

    @pytest.mark.parametrize(
        ("changes", "rule"),
        [
            ({"pathology": {"differentiation": "poor"}}, "nec"),
            ({"liver": {"resectable": False}}, "surgeon_unresectable"),
            ({"liver": {"pattern": "III", "lesion_count": 30}}, "diffuse"),
            (
                {"extrahepatic": {"sites": ["bone"], "resectable": False}},
                "extrahepatic_unresectable",
            ),
            ({"primary": {"resectable": False}}, "primary_unresectable"),
            ({"patient": {"ecog": 3}}, "unfit"),
            ({"patient": {"ecog": 4}}, "unfit"),
        ],
    )
    def test_unresectable_reasons(
        self, kb: KnowledgeBase, changes: dict[str, Any], rule: str
    ) -> None:
        value, rules = resect(kb, **changes)
        assert value == "unresectable"
        assert rule in rules

    @pytest.mark.parametrize(
        ("changes", "rule"),
        [
            ({"liver": {"pattern": "II", "lesion_count": 4}}, "complex"),
            ({"liver": {"future_liver_remnant_percent": 19.9}}, "small_remnant"),
            ({"pathology": {"ki67_percent": 25}}, "net_g3"),
            ({"patient": {"ecog": 2}}, "ecog2"),
        ],
    )
    def test_potentially_resectable_reasons(
        self, kb: KnowledgeBase, changes: dict[str, Any], rule: str
    ) -> None:
        assert resect(kb, **changes) == ("potentially_resectable", [rule])

    def test_remnant_of_exactly_20_percent_is_enough(self, kb: KnowledgeBase) -> None:
        assert resect(kb, liver={"future_liver_remnant_percent": 20})[0] == "resectable"

    def test_surgeon_judgement_wins_over_pattern_and_remnant(self, kb: KnowledgeBase) -> None:
        changes = {
            "liver": {"pattern": "II", "resectable": True, "future_liver_remnant_percent": 15}
        }
        assert resect(kb, **changes) == ("resectable", [])

    def test_surgeon_judgement_does_not_override_extrahepatic_disease(
        self, kb: KnowledgeBase
    ) -> None:
        value, rules = resect(
            kb, liver={"resectable": True}, extrahepatic={"sites": ["lung"], "resectable": False}
        )
        assert (value, rules) == ("unresectable", ["extrahepatic_unresectable"])

    def test_resectable_extrahepatic_disease_keeps_resectability(self, kb: KnowledgeBase) -> None:
        assert resect(kb, extrahepatic={"sites": ["lung"], "resectable": True})[0] == "resectable"

    def test_regional_nodes_do_not_block(self, kb: KnowledgeBase) -> None:
        assert resect(kb, extrahepatic={"sites": ["regional_lymph_nodes"]})[0] == "resectable"

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"primary": {"resectable": None}}, "primary.resectable"),
            ({"extrahepatic": None}, "extrahepatic.sites"),
            ({"extrahepatic": {"sites": ["bone"]}}, "extrahepatic.resectable"),
            ({"pathology": {"ki67_percent": None}}, "pathology.ki67_percent"),
        ],
    )
    def test_undetermined_names_the_missing_finding(
        self, kb: KnowledgeBase, changes: dict[str, Any], field: str
    ) -> None:
        assessment = assess(make_case(RESECTABLE, changes))
        assert assessment.classification.resectability == "undetermined"
        assert field in [m.field for m in assessment.missing_data]
        assert assessment.classification.resectability_reasons  # says why in words

    def test_unknown_exclusion_criteria_are_reported_not_blocking(self, kb: KnowledgeBase) -> None:
        assessment = assess(make_case(RESECTABLE, {"patient": {"ecog": None}}))
        assert assessment.classification.resectability == "resectable"
        assert "patient.ecog" in [m.field for m in assessment.missing_data]

    def test_every_reason_is_in_words(self, kb: KnowledgeBase) -> None:
        case = make_case(liver={"pattern": "III", "resectable": False})
        reasons = assess(case).classification.resectability_reasons
        assert len(reasons) == 2
        assert all(len(r) > 20 for r in reasons)
