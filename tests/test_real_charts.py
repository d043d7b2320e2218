"""Real charts: impossible values refused, provisional answers with their branches, treatment
history read as a timeline, and best supportive care never standing in for a missing finding."""

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from netlm import assess, parse_case
from netlm.engine.branches import Interval, intervals
from netlm.model.parse import parse_case_json
from tests.conftest import BASE_CASE, load_json, merge
from tests.test_parse import problems

HERE = Path(__file__).parent / "vignettes"
V18 = "v18-pattern-unstated-fit-patient-not-palliative.json"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"labs": {"platelets_10e9_per_l": 1e12}}, "labs.platelets_10e9_per_l: must be between 0 and 5000"),
        ({"labs": {"albumin_g_dl": 42}}, "labs.albumin_g_dl: must be between 0 and 10, got 42"),
        ({"liver": {"largest_lesion_cm": 90}}, "liver.largest_lesion_cm: must be"),
        ({"course": {"months_stable": 5000}}, "course.months_stable: must be between 0 and 1200"),
    ],
)  # fmt: skip
def test_impossible_measurements_are_refused_naming_the_field(
    changes: dict[str, Any], expected: str
) -> None:
    found = problems(merge(BASE_CASE, changes))
    assert any(p.startswith(expected) for p in found), found


def test_thresholds_split_a_range_into_pieces_the_rules_tell_apart() -> None:
    # Ki-67 < 3 is G1, 3-20 G2 (`lt 3`, `ge 3`): 3 belongs to the range above it; `le 20` puts
    # 20 in the range below; equality at 10 makes 10 a piece of its own.
    cuts = {3.0: frozenset({"lt", "ge"}), 10.0: frozenset({"eq"}), 20.0: frozenset({"le"})}
    pieces = intervals(cuts, 0.0, 100.0)
    assert pieces == [
        Interval(0.0, 3.0, True, False),
        Interval(3.0, 10.0, True, False),
        Interval(10.0, 10.0, True, True),
        Interval(10.0, 20.0, False, True),
        Interval(20.0, 100.0, False, True),
    ]
    assert all(p.lo <= p.sample() <= p.hi for p in pieces)
    assert [p.words("%") for p in pieces] == [
        "≥ 0, < 3%",
        "≥ 3, < 10%",
        "10%",
        "> 10, ≤ 20%",
        "> 20, ≤ 100%",
    ]


def _case(name: str, **changes: Any) -> Any:
    return merge(load_json(HERE / name)["case"], changes)


def test_a_missing_pattern_gives_a_provisional_answer_with_its_branches() -> None:
    result = assess(parse_case(_case(V18)))
    assert result.completeness == "provisional"
    assert result.classification.intent == "undetermined"
    branch = next(b for b in result.branches if b.field == "liver.pattern")
    values = [o.value for o in branch.outcomes]
    # eleven lesions in both lobes cannot be simple (type I): that value is no branch
    assert values == ["type II (complex)", "type III (diffuse)"]
    assert all(o.first_tier == ["ssa"] for o in branch.outcomes)
    assert "best_supportive_care" not in {r.option for r in result.recommendations}


def test_recording_the_finding_completes_the_answer() -> None:
    result = assess(parse_case(_case(V18, liver={"pattern": "III"})))
    assert result.completeness == "complete"
    assert result.branches == []
    assert result.recommendations[0].option == "ssa"


def test_unfit_patient_still_gets_best_supportive_care_first() -> None:
    result = assess(parse_case(_case(V18, patient={"ecog": 3}, liver={"pattern": "III"})))
    assert result.recommendations[0].option == "best_supportive_care"


def test_branches_appear_in_json_and_both_languages() -> None:
    case = parse_case(_case(V18))
    english, chinese = assess(case, lang="en"), assess(case, lang="zh")
    assert english.to_json_dict()["completeness"] == "provisional"
    assert [b.field for b in english.branches] == [b.field for b in chinese.branches]
    assert chinese.branches[0].outcomes[0].value == "II型（复杂型）"


def test_progression_during_an_ongoing_therapy_is_progression_on_it() -> None:
    path = "v19-progressing-while-ssa-ongoing.json"
    progressing = assess(parse_case(_case(path)))
    assert "prrt" in {r.option for r in progressing.recommendations}
    stable = assess(parse_case(_case(path, course={"status": "stable", "months_stable": 8})))
    assert "prrt" not in {r.option for r in stable.recommendations}


def test_case_text_with_a_contradiction_names_no_json_path() -> None:
    case = load_json(HERE / "v25-stated-type-i-with-many-lesions.json")["case"]
    result = assess(parse_case_json(json.dumps(case)))
    conflict = [f for f in result.flags if f.code == "data_conflict"]
    assert conflict
    assert "liver.pattern" not in conflict[0].message


@pytest.mark.parametrize(
    ("therapies", "expected"),
    [
        (
            [{"option": "ssa", "outcome": "progression", "started": "2024-01-01",
              "stopped": "2023-05-01"}],
            "prior_therapies[0]: stopped 2023-05-01 is before started 2024-01-01",
        ),
        (
            [{"option": "ssa", "outcome": "progression", "started": "2024-02-30"}],
            "prior_therapies[0].started: 2024-02-30 is not a date of the calendar",
        ),
        (
            [{"option": "ssa", "outcome": "progression", "started": "2024-01-01"},
             {"option": "prrt", "outcome": "completed", "started": "2023-01-01"}],
            "prior_therapies: therapy 2 started 2023-01-01, before therapy 1 (2024-01-01)",
        ),
        (
            [{"option": "ssa", "outcome": "progression", "line": 0}],
            "prior_therapies[0].line: must be between 1 and 20, got 0",
        ),
    ],
)  # fmt: skip
def test_the_treatment_timeline_is_checked(therapies: list[Any], expected: str) -> None:
    found = problems(merge(BASE_CASE, {"prior_therapies": therapies}))
    assert any(p.startswith(expected) for p in found), found


def test_a_dated_history_is_read_oldest_first() -> None:
    case = _case(
        "v23-prrt-already-given.json",
        prior_therapies=[
            {"option": "ssa", "outcome": "progression", "started": "2021-03-01",
             "stopped": "2023-01-10", "best_response": "stable_disease", "line": 1},
            {"option": "prrt", "outcome": "completed", "started": "2023-02-01",
             "stopped": "2023-08-01", "best_response": "partial_response", "line": 2},
        ],
    )  # fmt: skip
    result = assess(parse_case(case))
    assert "prrt" not in {r.option for r in result.recommendations if r.strength == "recommended"}
    assert parse_case(case).prior_therapies[1].best_response == "partial_response"


def _complete_case(**c: Any) -> dict[str, Any]:
    """A fit patient with every finding recorded (unresectable diffuse disease)."""
    progressive = c["course"] == "progressive"
    return {
        "schema": "netlm.case/1", "id": "full", "region": "US",
        "patient": {"age_years": 60, "ecog": 1, "sex": "female"},
        "primary": {"site": c["site"], "status": "resected", "functional_syndrome": c["syndrome"]},
        "pathology": {"differentiation": "well", "ki67_percent": c["ki67"],
                      "mitoses_per_2mm2": 1, "morphology": "net"},
        "liver": {"lesion_count": 12, "largest_lesion_cm": 3, "distribution": "bilobar",
                  "tumor_burden_percent": c["burden"], "pattern": "III", "resectable": False,
                  "future_liver_remnant_percent": 60, "synchronous": False},
        "extrahepatic": {"sites": [], "limited": True},
        "sstr_imaging": {"modality": "ga68_pet", "krenning_score": c["krenning"],
                         "all_lesions_positive": c["krenning"] >= 2},
        "course": {"status": c["course"], "months_stable": 6 if c["course"] == "stable" else 0},
        "symptoms": {"bulky_symptomatic": c["bulky"], "hormonal_refractory": False},
        "prior_therapies": [{"option": "ssa", "outcome": "progression"}] if progressive else [],
        "history": {"bilioenteric_anastomosis": False, "carcinoid_heart_disease": False},
        "labs": {"creatinine_clearance_ml_min": 90, "hemoglobin_g_dl": 13,
                 "platelets_10e9_per_l": 250, "bilirubin_x_uln": 0.6,
                 "neutrophils_10e9_per_l": 4, "albumin_g_dl": 4.2},
    }  # fmt: skip


@pytest.mark.parametrize("site", ["pancreas", "small_intestine", "rectum", "unknown"])
@pytest.mark.parametrize("course", ["new_diagnosis", "stable", "progressive"])
def test_a_fit_patient_with_complete_findings_gets_a_disease_directed_first_option(
    site: str, course: str
) -> None:
    """Every combination of SSTR uptake, volume, symptoms, Ki-67 and hormonal syndrome (issue
    22's pathways), an unknown primary included: best supportive care is never first for a fit
    patient with disease."""
    syndromes = ["none"] if site == "pancreas" else ["none", "carcinoid"]
    for krenning, burden, bulky, ki67, syndrome in itertools.product(
        [1, 4], [5, 40], [False, True], [2, 8, 15], syndromes
    ):
        case = _complete_case(site=site, course=course, krenning=krenning, burden=burden,
                              bulky=bulky, ki67=ki67, syndrome=syndrome)  # fmt: skip
        result = assess(parse_case(case))
        first = [r.option for r in result.recommendations if r.tier == 1]
        assert first, case
        assert "best_supportive_care" not in first, (case, first)
