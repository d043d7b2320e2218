"""A comparator (`<30 mL/min`) is a bound: kept only when it decides every threshold netlm
applies to that finding, otherwise the finding stays unknown and is reported."""

from typing import Any

import pytest

from netlm.engine.assess import assess
from netlm.fhir import codes as c
from netlm.fhir.mapping.quantities import bound_decides
from netlm.knowledge.conditions import Leaf
from tests.fhir.charts import mapped, obs, qty, reasons


def bounded(value: float, unit: str, comparator: str) -> dict[str, Any]:
    return {**qty(value, unit), "comparator": comparator}


def test_a_clearance_below_30_is_read_under_30_never_as_30() -> None:
    """CIRSE excludes TACE below 30 mL/min: `<30` read as 30 would escape that limit; every
    value under 30 answers netlm's limits (< 30, < 40, >= 50) alike, so one is recorded."""
    clearance = obs("cl", c.LOINC, c.CREATININE_CLEARANCE, valueQuantity=bounded(30, "mL/min", "<"))
    result = mapped(clearance)
    assert result.case.labs.creatinine_clearance_ml_min == pytest.approx(29.9)
    assert (
        "reported <30 mL/min: recorded as 29.9"
        in result.sources["labs.creatinine_clearance_ml_min"]
    )


def test_a_bound_between_two_thresholds_stays_unknown() -> None:
    clearance = obs("cl", c.LOINC, c.CREATININE_CLEARANCE, valueQuantity=bounded(35, "mL/min", "<"))
    result = mapped(clearance)
    assert result.case.labs.creatinine_clearance_ml_min is None
    (why,) = reasons(result, "labs.creatinine_clearance_ml_min")
    assert "comparator <35 mL/min: value not exact" in why
    assert "< 30" in why


@pytest.mark.parametrize(
    "value", [{"valueQuantity": bounded(3, "%", "<")}, {"valueString": "<3 %"}]
)
def test_ki67_under_3_is_recorded_as_the_bound(value: dict[str, Any]) -> None:
    """A Ki-67 "<3 %" is kept as the bound it is, never as a number nobody measured (2.9)."""
    result = mapped(obs("k", c.LOINC, c.KI67, **value))
    assert result.case.pathology.ki67_percent is None
    assert result.case.pathology.ki67_below_percent == 3
    assert "recorded as a bound" in result.sources["pathology.ki67_below_percent"]
    assert assess(result.case).classification.grade == "G1"


def test_ki67_at_most_2_is_an_inclusive_bound() -> None:
    result = mapped(obs("k", c.LOINC, c.KI67, valueQuantity=bounded(2, "%", "<=")))
    assert result.case.pathology.ki67_at_most_percent == 2
    assert result.case.pathology.ki67_below_percent is None


def test_ki67_under_12_is_kept_and_decides_no_grade() -> None:
    result = mapped(obs("k", c.LOINC, c.KI67, valueQuantity=bounded(12, "%", "<")))
    assert result.case.pathology.ki67_below_percent == 12
    assessment = assess(result.case)  # G1 or G2, and under or over 10: asked for
    assert assessment.classification.grade == "unknown"
    assert "pathology.ki67_percent" in {m.field for m in assessment.missing_data}


def test_a_ki67_lower_bound_stays_unknown() -> None:
    result = mapped(obs("k", c.LOINC, c.KI67, valueQuantity=bounded(20, "%", ">")))
    assert result.case.pathology.ki67_percent is None
    assert reasons(result, "pathology.ki67_percent")


def test_ki67_as_a_string_with_number_and_unit() -> None:
    result = mapped(obs("k", c.LOINC, c.KI67, valueString="4 %"))
    assert result.case.pathology.ki67_percent == 4
    assert "valueString '4 %'" in result.sources["pathology.ki67_percent"]
    unread = mapped(obs("k", c.LOINC, c.KI67, valueString="low"))
    assert unread.case.pathology.ki67_percent is None
    assert reasons(unread, "pathology.ki67_percent")


def test_a_bound_beyond_every_threshold_is_kept_and_said() -> None:
    egfr = obs("e", c.LOINC, c.EGFR_CKD_EPI, valueQuantity=bounded(90, "mL/min/{1.73_m2}", ">"))
    result = mapped(egfr)
    assert result.case.labs.creatinine_clearance_ml_min == 90
    assert "reported >90 mL/min/{1.73_m2}" in result.sources["labs.creatinine_clearance_ml_min"]


def test_a_low_bilirubin_bound_is_converted_before_it_is_judged() -> None:
    bilirubin = obs("b", c.LOINC, c.BILIRUBIN_MOLAR, valueQuantity=bounded(5, "umol/L", "<"),
                    referenceRange=[{"high": qty(20, "umol/L")}])  # fmt: skip
    assert mapped(bilirubin).case.labs.bilirubin_x_uln == pytest.approx(0.25)


def test_sufficient_to_achieve_is_not_a_bound() -> None:
    platelets = obs("pl", c.LOINC, c.PLATELETS, valueQuantity=bounded(200, "10*9/L", "ad"))
    result = mapped(platelets)
    assert result.case.labs.platelets_10e9_per_l is None
    assert reasons(result, "labs.platelets_10e9_per_l")


@pytest.mark.parametrize(
    ("comparator", "bound", "leaf", "decided"),
    [("<", 30, Leaf("x", "lt", 30), False), ("<", 29, Leaf("x", "lt", 30), True),
     ("<=", 30, Leaf("x", "lt", 30), False), ("<=", 30, Leaf("x", "le", 30), True),
     (">", 30, Leaf("x", "lt", 30), True), (">", 29, Leaf("x", "ge", 30), False),
     (">=", 30, Leaf("x", "ge", 30), True), ("<", 3, Leaf("x", "eq", 2), False),
     ("<=", 1, Leaf("x", "eq", 2), True), (">", 5, Leaf("x", "gt", 10), False),
     (">", 10, Leaf("x", "gt", 10), False), (">", 11, Leaf("x", "gt", 10), True),
     ("~", 10, Leaf("x", "gt", 10), False)],
)  # fmt: skip
def test_a_bound_decides_a_threshold_only_if_everything_beyond_it_agrees(
    comparator: str, bound: float, leaf: Leaf, decided: bool
) -> None:
    assert bound_decides(comparator, bound, [leaf]) is decided
