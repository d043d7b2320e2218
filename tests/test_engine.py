"""Rule boundaries and engine behaviour on targeted cases."""

from pathlib import Path
from typing import Any, ClassVar

import pytest

from netlm import Assessment, assess
from netlm.model.codes import OPTION_CODES
from netlm.model.parse import parse_case
from tests.conftest import load_json, make_case

SSTR_ALL = {
    "sstr_imaging": {"modality": "ga68_pet", "krenning_score": 3, "all_lesions_positive": True}
}
GOOD_LABS = {
    "labs": {
        "creatinine_clearance_ml_min": 90, "platelets_10e9_per_l": 200, "hemoglobin_g_dl": 13,
        "bilirubin_x_uln": 0.5, "albumin_g_dl": 4.0, "neutrophils_10e9_per_l": 4,
    }
}  # fmt: skip
PROGRESSIVE_ON_SSA = {
    "course": {"status": "progressive"},
    "prior_therapies": [{"option": "ssa", "outcome": "progression"}],
}
DIFFUSE = {"liver": {"pattern": "III", "lesion_count": 20, "tumor_burden_percent": 30}}


def proposed(a: Assessment) -> dict[str, str]:
    return {r.option: r.strength for r in a.recommendations}


def reasons(a: Assessment, option: str) -> list[str]:
    return next(e.reasons for e in a.excluded if e.option == option)


def run(*layers: dict[str, Any], **changes: Any) -> Assessment:
    return assess(make_case(*layers, **changes))


def test_every_option_appears_exactly_once_and_ranks_are_consecutive() -> None:
    a = run(DIFFUSE, SSTR_ALL, PROGRESSIVE_ON_SSA, GOOD_LABS)
    codes = [r.option for r in a.recommendations] + [e.option for e in a.excluded]
    assert sorted(codes) == sorted(OPTION_CODES)
    assert [r.rank for r in a.recommendations] == list(range(1, len(a.recommendations) + 1))
    assert all(e.reasons for e in a.excluded)


def test_assessment_is_deterministic() -> None:
    case = make_case(DIFFUSE, SSTR_ALL, PROGRESSIVE_ON_SSA)
    assert assess(case) == assess(case)


class TestSomatostatinAnalogue:
    @pytest.mark.parametrize(("ki67", "strength"), [(9.9, "recommended"), (10, "consider")])
    def test_ki67_10_percent_boundary(self, ki67: float, strength: str) -> None:
        a = run(DIFFUSE, SSTR_ALL, pathology={"ki67_percent": ki67}, course={"status": "stable"})
        assert proposed(a)["ssa"] == strength

    def test_sstr_negative_excludes(self) -> None:
        a = run(
            DIFFUSE, sstr_imaging={"krenning_score": 1}, primary={"functional_syndrome": "none"}
        )
        assert "ssa" not in proposed(a)
        assert any("SSTR" in r for r in reasons(a, "ssa"))

    def test_functional_tumour_keeps_ssa_after_progression(self) -> None:
        """NCCN: the SSA is continued for hormonal control when other therapy is added."""
        a = run(DIFFUSE, SSTR_ALL, PROGRESSIVE_ON_SSA, primary={"functional_syndrome": "carcinoid"})
        assert proposed(a)["ssa"] == "recommended"
        plain = run(DIFFUSE, SSTR_ALL, PROGRESSIVE_ON_SSA, primary={"functional_syndrome": "none"})
        assert "ssa" not in proposed(plain)

    def test_unrecorded_syndrome_after_progression_is_asked_for(self) -> None:
        a = run(DIFFUSE, SSTR_ALL, PROGRESSIVE_ON_SSA)
        assert "ssa" not in proposed(a)
        assert "primary.functional_syndrome" in [m.field for m in a.missing_data]

    def test_unknown_sstr_status_is_asked_for(self) -> None:
        a = run(DIFFUSE)
        assert "ssa" not in proposed(a)
        assert "sstr_imaging.krenning_score" in [m.field for m in a.missing_data]


class TestPRRT:
    def test_after_ssa_progression_in_midgut(self) -> None:
        a = run(DIFFUSE, SSTR_ALL, PROGRESSIVE_ON_SSA, GOOD_LABS)
        assert a.recommendations[0].option == "prrt"
        assert a.recommendations[0].strength == "recommended"

    @pytest.mark.parametrize(
        ("ki67", "first_line"), [(9.9, False), (10, True), (55, True), (55.1, False)]
    )
    def test_netter2_first_line_window(self, ki67: float, first_line: bool) -> None:
        a = run(DIFFUSE, SSTR_ALL, GOOD_LABS, pathology={"ki67_percent": ki67},
                course={"status": "new_diagnosis"})  # fmt: skip
        assert ("prrt" in proposed(a)) is first_line

    @pytest.mark.parametrize("score", [0, 1])
    def test_never_without_sstr_uptake(self, score: int) -> None:
        a = run(DIFFUSE, PROGRESSIVE_ON_SSA, GOOD_LABS, sstr_imaging={"krenning_score": score})
        assert "prrt" not in proposed(a)

    @pytest.mark.parametrize(
        ("labs", "strength"),
        [
            ({"platelets_10e9_per_l": 74.9}, "consider"),
            ({"platelets_10e9_per_l": 75}, "recommended"),
            ({"hemoglobin_g_dl": 7.9}, "consider"),
            ({"hemoglobin_g_dl": 8}, "recommended"),
            ({"creatinine_clearance_ml_min": 49.9}, "consider"),
            ({"creatinine_clearance_ml_min": 50}, "recommended"),
        ],
    )
    def test_netter1_organ_function_limits_cap_at_consider(
        self, labs: dict[str, float], strength: str
    ) -> None:
        """Outside NETTER-1's population the trial cannot raise PRRT to `recommended`."""
        a = run(DIFFUSE, SSTR_ALL, PROGRESSIVE_ON_SSA, GOOD_LABS, labs=labs)
        assert proposed(a)["prrt"] == strength

    @pytest.mark.parametrize(("crcl", "excluded"), [(29.9, True), (30, False)])
    def test_severe_renal_impairment_excludes(self, crcl: float, excluded: bool) -> None:
        a = run(DIFFUSE, SSTR_ALL, PROGRESSIVE_ON_SSA, GOOD_LABS,
                labs={"creatinine_clearance_ml_min": crcl})  # fmt: skip
        assert ("prrt" not in proposed(a)) is excluded
        if excluded:
            assert "30 mL/min" in reasons(a, "prrt")[0]

    def test_missing_labs_become_cautions_and_missing_data(self) -> None:
        a = run(DIFFUSE, SSTR_ALL, PROGRESSIVE_ON_SSA)
        prrt = next(r for r in a.recommendations if r.option == "prrt")
        assert any("platelets" in c for c in prrt.cautions)
        fields = {m.field for m in a.missing_data}
        assert {"labs.platelets_10e9_per_l", "labs.hemoglobin_g_dl"} <= fields
        assert "labs.creatinine_clearance_ml_min" in fields

    def test_renal_caution_below_50(self) -> None:
        a = run(DIFFUSE, SSTR_ALL, PROGRESSIVE_ON_SSA, GOOD_LABS,
                labs={"creatinine_clearance_ml_min": 45})  # fmt: skip
        prrt = next(r for r in a.recommendations if r.option == "prrt")
        assert any("50 mL/min" in c for c in prrt.cautions)


class TestTargetedAgents:
    def test_sunitinib_only_for_pancreatic_primary(self) -> None:
        a = run(DIFFUSE, PROGRESSIVE_ON_SSA)
        assert "sunitinib" not in proposed(a)
        assert "pancreatic NET only" in reasons(a, "sunitinib")[0]
        pnet = run(DIFFUSE, PROGRESSIVE_ON_SSA, primary={"site": "pancreas"})
        assert proposed(pnet)["sunitinib"] == "recommended"

    def test_cabozantinib_needs_a_prior_non_ssa_therapy(self) -> None:
        assert "cabozantinib" not in proposed(run(DIFFUSE, PROGRESSIVE_ON_SSA))
        after = run(DIFFUSE, PROGRESSIVE_ON_SSA, prior_therapies=[
            {"option": "ssa", "outcome": "progression"}, {"option": "everolimus", "outcome": "progression"}
        ])  # fmt: skip
        assert "cabozantinib" in proposed(after)
        assert "everolimus" not in proposed(after)

    def test_region_without_approval_excludes(self) -> None:
        us = run(DIFFUSE, PROGRESSIVE_ON_SSA, region="US")
        assert "surufatinib" not in proposed(us)
        assert reasons(us, "surufatinib")[0].startswith("Not approved in US")
        cn = run(DIFFUSE, PROGRESSIVE_ON_SSA, region="CN")
        assert "surufatinib" in proposed(cn)
        assert next(r for r in cn.recommendations if r.option == "surufatinib").availability == {
            "CN": "approved"
        }

    def test_no_region_reports_all_three_and_warns(self) -> None:
        a = run(DIFFUSE, PROGRESSIVE_ON_SSA)
        suru = next(r for r in a.recommendations if r.option == "surufatinib")
        assert set(suru.availability) == {"US", "EU", "CN"}
        assert any("Not approved in US, EU" in c for c in suru.cautions)

    def test_unverified_non_approval_caps_instead_of_excluding(self) -> None:
        a = run(DIFFUSE, PROGRESSIVE_ON_SSA, region="CN", prior_therapies=[
            {"option": "ssa", "outcome": "progression"}, {"option": "captem", "outcome": "progression"}
        ])  # fmt: skip
        cabo = next(r for r in a.recommendations if r.option == "cabozantinib")
        assert cabo.strength == "consider"
        assert any("not fully verified" in c for c in cabo.cautions)


class TestChemotherapy:
    def test_nec_gets_platinum_etoposide_first_and_no_surgery(self) -> None:
        a = run(
            pathology={"differentiation": "poor", "ki67_percent": 70}, liver={"lesion_count": 1}
        )
        assert a.recommendations[0].option == "platinum_etoposide"
        assert a.classification.intent == "palliative"
        for option in ("curative_resection", "liver_transplant_evaluation", "ssa", "prrt"):
            assert option not in proposed(a)

    @pytest.mark.parametrize(("ki67", "allowed"), [(54.9, False), (55, True)])
    def test_net_g3_platinum_threshold(self, ki67: float, allowed: bool) -> None:
        a = run(DIFFUSE, pathology={"ki67_percent": ki67})
        assert ("platinum_etoposide" in proposed(a)) is allowed

    def test_bulky_pancreatic_net_recommends_captem_below_on_label_options(self) -> None:
        a = run(DIFFUSE, PROGRESSIVE_ON_SSA, GOOD_LABS, primary={"site": "pancreas"},
                symptoms={"bulky_symptomatic": True})  # fmt: skip
        captem = next(r for r in a.recommendations if r.option == "captem")
        assert captem.strength == "recommended"
        assert "label" in captem.order_basis
        on_label = [
            r for r in a.recommendations if r.strength == "recommended" and r.option != "captem"
        ]
        assert on_label
        assert all(r.tier < captem.tier for r in on_label)


class TestLiverDirected:
    LIVER_ONLY_PROGRESSIVE: ClassVar[dict[str, Any]] = {
        "course": {"status": "progressive"},
        "history": {"bilioenteric_anastomosis": False},
    }

    def test_embolisation_offered_for_liver_only_progression(self) -> None:
        a = run(DIFFUSE, self.LIVER_ONLY_PROGRESSIVE)
        assert {"tae", "tace", "tare"} <= set(proposed(a))

    def test_bilioenteric_anastomosis_is_a_relative_contraindication(self) -> None:
        """CIRSE lists an incompetent papilla after biliary surgery as relative: a caution."""
        a = run(DIFFUSE, self.LIVER_ONLY_PROGRESSIVE, history={"bilioenteric_anastomosis": True})
        for option in ("tae", "tace", "tare"):
            rec = next(r for r in a.recommendations if r.option == option)
            assert rec.strength == "consider"
            assert any("Relative contraindication" in c and "abscess" in c for c in rec.cautions)

    def test_unchecked_absolute_limit_is_asked_for(self) -> None:
        a = run(DIFFUSE, course={"status": "progressive"})
        tae = next(r for r in a.recommendations if r.option == "tae")
        assert any(c.startswith("Not yet checked") for c in tae.cautions)
        fields = [m.field for m in a.missing_data]
        assert "labs.creatinine_clearance_ml_min" in fields
        # a relative limit cannot change a `consider` option: not asked for
        assert "history.bilioenteric_anastomosis" not in fields

    @pytest.mark.parametrize(
        ("labs", "excluded"),
        [
            ({"bilirubin_x_uln": 3.1}, True),
            ({"bilirubin_x_uln": 3}, False),
            ({"creatinine_clearance_ml_min": 29}, True),
            ({"creatinine_clearance_ml_min": 30}, False),
        ],
    )
    def test_cirse_absolute_limits_exclude_embolisation(
        self, labs: dict[str, float], excluded: bool
    ) -> None:
        a = run(DIFFUSE, self.LIVER_ONLY_PROGRESSIVE, GOOD_LABS, labs=labs)
        for option in ("tae", "tace"):
            assert (option not in proposed(a)) is excluded

    def test_tace_always_warns_against_drug_eluting_beads(self) -> None:
        a = run(DIFFUSE, self.LIVER_ONLY_PROGRESSIVE)
        tace = next(r for r in a.recommendations if r.option == "tace")
        assert any("RETNET" in c for c in tace.cautions)


class TestTransplant:
    MILAN: ClassVar[dict[str, Any]] = {
        "patient": {"age_years": 45},
        "liver": {"pattern": "III", "lesion_count": 20, "tumor_burden_percent": 35},
        "course": {"status": "stable", "months_stable": 9},
    }

    def test_milan_candidate_is_referred(self) -> None:
        assert "liver_transplant_evaluation" in proposed(run(self.MILAN))

    @pytest.mark.parametrize(
        "changes",
        [
            {"course": {"months_stable": 5.9}},
            {"liver": {"tumor_burden_percent": 50.1}},
            {"primary": {"site": "rectum"}},
            {"primary": {"status": "in_place"}},
            {"pathology": {"ki67_percent": 10}},
            {"extrahepatic": {"sites": ["regional_lymph_nodes"]}},
            {"course": {"status": "progressive"}},
        ],
    )
    def test_each_milan_criterion(self, changes: dict[str, Any]) -> None:
        a = run(self.MILAN, changes)
        assert "liver_transplant_evaluation" not in proposed(a)
        assert reasons(a, "liver_transplant_evaluation")

    def test_boundaries_included(self) -> None:
        a = run(self.MILAN, {"course": {"months_stable": 6}, "liver": {"tumor_burden_percent": 50}})
        assert "liver_transplant_evaluation" in proposed(a)


class TestFlagsAndMissingData:
    def test_mdt_flag_is_always_raised(self) -> None:
        assert "mdt_required" in [f.code for f in run().flags]

    def test_conflicting_grades_are_flagged(self) -> None:
        a = run(pathology={"ki67_percent": 2.5, "mitoses_per_2mm2": 6})
        assert any(f.code == "controversial" and "Ki-67" in f.message for f in a.flags)

    def test_unverified_evidence_is_flagged_when_cited(self) -> None:
        a = run(DIFFUSE, SSTR_ALL, PROGRESSIVE_ON_SSA, GOOD_LABS)
        flag = next(f for f in a.flags if f.code == "unverified_evidence")
        assert "COMPETE" in flag.message
        assert "unverified_evidence" not in [f.code for f in run(DIFFUSE, SSTR_ALL).flags]

    def test_unknown_grade_asks_for_ki67(self) -> None:
        a = run(pathology={"ki67_percent": None})
        assert a.classification.grade == "unknown"
        assert "pathology.ki67_percent" in [m.field for m in a.missing_data]

    def test_each_missing_field_is_listed_once(self) -> None:
        fields = [m.field for m in run(course={"status": "progressive"}).missing_data]
        assert len(fields) == len(set(fields))


@pytest.mark.parametrize(
    ("syndrome", "warned"),
    [("carcinoid", True), ("vipoma", True), ("insulinoma", True), ("none", False), (None, False)],
)
def test_prrt_warns_of_hormonal_crisis_in_hormone_producing_tumours(
    syndrome: str | None, warned: bool
) -> None:
    """de Keizer 2008: crises after the first cycle, all in hormone-producing tumours."""
    vignette = load_json(
        Path(__file__).parent / "vignettes" / "v15-carcinoid-syndrome-continue-ssa.json"
    )
    case = vignette["case"]
    case["primary"]["functional_syndrome"] = syndrome
    if syndrome is None:
        del case["primary"]["functional_syndrome"]
    prrt = next(r for r in assess(parse_case(case)).recommendations if r.option == "prrt")
    assert any(c.startswith("Hormone-producing tumour") for c in prrt.cautions) is warned
    unrecorded = [c for c in prrt.cautions if c.startswith("Whether the tumour produces hormones")]
    assert len(unrecorded) == (1 if syndrome is None else 0)
