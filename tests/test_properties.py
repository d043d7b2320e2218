"""Invariants over random valid cases (hypothesis)."""

import re
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings

from netlm import Assessment, Case, assess, parse_case
from netlm.knowledge.load import load_knowledge_base
from netlm.model.codes import OPTION_CODES
from tests.strategies import cases

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ASSESSMENT_SCHEMA = Assessment.model_json_schema(by_alias=True)
CJK = re.compile(r"[\u4e00-\u9fff]")


def proposed(a: Assessment) -> dict[str, str]:
    return {r.option: r.strength for r in a.recommendations}


@SETTINGS
@given(cases)
def test_structure_of_every_assessment(data: dict[str, Any]) -> None:
    case = parse_case(data)
    a = assess(case)
    jsonschema.validate(a.to_json_dict(), ASSESSMENT_SCHEMA)
    codes = [r.option for r in a.recommendations] + [e.option for e in a.excluded]
    assert sorted(codes) == sorted(OPTION_CODES)
    assert [r.rank for r in a.recommendations] == list(range(1, len(a.recommendations) + 1))
    kb = load_knowledge_base()
    assert all(ev.id in kb.evidence for r in a.recommendations for ev in r.evidence)
    assert all(r.evidence and r.rationale for r in a.recommendations)
    assert all(e.reasons for e in a.excluded)
    assert "mdt_required" in [f.code for f in a.flags]
    strengths = [r.strength for r in a.recommendations]
    assert strengths == sorted(strengths, key=["recommended", "consider"].index)
    tiers = [r.tier for r in a.recommendations]
    assert tiers == sorted(tiers)
    assert sorted(set(tiers)) == list(range(1, len(set(tiers)) + 1))
    for r, s in zip(a.recommendations, a.recommendations[1:], strict=False):
        if r.tier == s.tier:
            assert r.strength == s.strength
            assert "Equal" in r.order_basis
    assert all(r.order_basis for r in a.recommendations)
    assert assess(case) == a  # deterministic


@SETTINGS
@given(cases)
def test_clinical_invariants(data: dict[str, Any]) -> None:
    case = parse_case(data)
    a = assess(case)
    offered = proposed(a)
    c = a.classification
    if case.primary.site != "pancreas":
        assert "sunitinib" not in offered
    if c.grade == "NEC":
        for option in ("curative_resection", "liver_transplant_evaluation", "ssa", "prrt"):
            assert option not in offered
    if (
        case.extrahepatic
        and case.extrahepatic.resectable is False
        and any(s != "regional_lymph_nodes" for s in case.extrahepatic.sites)
    ):
        assert "curative_resection" not in offered
    score = case.sstr_imaging.krenning_score
    if score is None or score < 2:
        assert "prrt" not in offered
    if c.grade in ("G1", "G2"):
        assert "platinum_etoposide" not in offered
    if offered.get("curative_resection") == "recommended":
        assert c.resectability == "resectable"
        assert c.intent == "curative"
    if case.history.bilioenteric_anastomosis:  # CIRSE: relative, so a caution, never a raise
        for option in {"tae", "tace", "tare"} & set(offered):
            assert offered[option] == "consider"
    if case.region is not None:
        for r in a.recommendations:
            assert set(r.availability) == {case.region}
            if r.availability[case.region] == "not_approved":  # only an unverified status
                assert r.strength == "consider"
                assert any("not fully verified" in c for c in r.cautions)


ANTICANCER = ("everolimus", "sunitinib", "surufatinib", "cabozantinib", "prrt", "captem",
              "streptozocin_chemotherapy", "platinum_etoposide", "tae", "tace", "tare")  # fmt: skip


@SETTINGS
@given(cases)
def test_patient_gates(data: dict[str, Any]) -> None:
    """Fitness and organ function decide as much as the tumour: the safety gates always hold."""
    case = parse_case(data)
    a = assess(case)
    offered = proposed(a)
    labs, ecog = case.labs, case.patient.ecog
    if case.course.status == "no_evidence_of_disease":  # nothing to treat: follow-up only
        assert set(offered) <= {"surveillance"}
    elif ecog is not None and ecog >= 3:
        assert "best_supportive_care" in offered
        assert not [o for o in ANTICANCER if offered.get(o) == "recommended"]
        assert "tare" not in offered
    crcl = labs.creatinine_clearance_ml_min
    if crcl is not None and crcl < 30:
        assert not {"prrt", "tae", "tace", "streptozocin_chemotherapy"} & set(offered)
    bilirubin = labs.bilirubin_x_uln
    if bilirubin is not None and bilirubin > 3:
        assert not {"tae", "tace", "tare"} & set(offered)
        assert offered.get("prrt") != "recommended"
    for r in a.recommendations:
        if r.strength == "recommended":  # a raise never stands outside its evidence's population
            assert not any(c.startswith("Outside the population") for c in r.cautions)


@SETTINGS
@given(cases)
def test_undecided_grade_recommends_neither_path(data: dict[str, Any]) -> None:
    a = assess(parse_case(data))
    if a.classification.net_or_nec_undecided:
        assert a.classification.grade == "G3"
        offered = proposed(a)
        assert not [o for o in ANTICANCER if o in offered]
        assert "pathology.differentiation" in [m.field for m in a.missing_data]
        assert "pathology_review" in [f.code for f in a.flags]


# The one finding recorded at the top of the case rather than in a section: where the patient is
# treated (approval-dependent options ask for it).
TOP_LEVEL_FINDINGS = {"region"}


@SETTINGS
@given(cases)
def test_missing_data_points_into_the_case(data: dict[str, Any]) -> None:
    a = assess(parse_case(data))
    fields = [m.field for m in a.missing_data]
    assert len(fields) == len(set(fields))
    for name in fields:
        head = name.split(".")[0]
        assert head in Case.model_fields, name
        assert "." in name or head in TOP_LEVEL_FINDINGS, name


@settings(max_examples=60, deadline=None)
@given(cases)
def test_chinese_output_is_chinese(data: dict[str, Any]) -> None:
    a = assess(parse_case(data), lang="zh")
    texts = [
        *([a.classification.who_category] if a.classification.grade in ("NEC", "unknown") else []),
        *(r.order_basis for r in a.recommendations),
        a.classification.liver_pattern_basis,
        *a.classification.resectability_reasons,
        *(t for r in a.recommendations for t in (r.name, *r.rationale, *r.cautions)),
        *(t for e in a.excluded for t in (e.name, *e.reasons)),
        *(f.message for f in a.flags),
        *(m.why for m in a.missing_data),
    ]
    untranslated = [t for t in texts if not CJK.search(t)]
    assert not untranslated


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_languages_differ_only_in_words(lang: str) -> None:
    case = parse_case({"schema": "netlm.case/1", "id": "x", "primary": {"site": "pancreas"},
                       "liver": {"lesion_count": 1}})  # fmt: skip
    a, b = assess(case, lang="en"), assess(case, lang=lang)
    assert [r.option for r in a.recommendations] == [r.option for r in b.recommendations]
    assert a.classification.grade == b.classification.grade
