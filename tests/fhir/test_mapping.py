"""FHIR R4 Bundle -> netlm.case/1: each mapping rule, units, recency, and round trips."""

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from netlm import parse_case
from netlm.engine import assess
from netlm.fhir import FhirMappingError, bundle_to_case
from netlm.fhir import codes as c
from netlm.fhir.units import HB_MMOL_PER_L_TO_G_DL, UnitError, convert
from netlm.knowledge.load import KnowledgeBase
from tests.conftest import EXAMPLES
from tests.fhir.charts import (
    BUNDLES,
    ON,
    SUBJECT,
    bundle,
    concept,
    condition,
    load,
    mapped,
    med,
    obs,
    proc,
    qty,
    reasons,
)

# --- Round trips -----------------------------------------------------------------------------

EQUIVALENTS = sorted(BUNDLES.glob("0*.json"))


@pytest.mark.parametrize("path", EQUIVALENTS, ids=lambda p: p.stem)
def test_round_trip_gives_the_same_assessment(path: Path, kb: KnowledgeBase) -> None:
    """Each bundle carries the clinical content of the example with the same number.

    No documented difference is needed: every field of examples/01-08 has a FHIR carrier. The
    only numeric drift is example 04's haemoglobin given in mmol/L (8.07 mmol/L = 13.0035 g/dL
    against 13 g/dL), which no rule threshold separates.
    """
    example = next(p for p in EXAMPLES if p.name.startswith(path.name[:3]))
    expected_case = parse_case(json.loads(example.read_text(encoding="utf-8")))
    result = bundle_to_case(load(path.stem), on=ON)
    assert result.unmapped == []
    for lang in ("en", "zh"):
        want = assess(expected_case, lang=lang, kb=kb)  # type: ignore[arg-type]
        got = assess(result.case, lang=lang, kb=kb)  # type: ignore[arg-type]
        assert got.classification == want.classification
        assert got.recommendations == want.recommendations
        assert got.excluded == want.excluded
        assert got.flags == want.flags


@pytest.mark.parametrize("path", EQUIVALENTS, ids=lambda p: p.stem)
def test_round_trip_fields_match_the_example(path: Path) -> None:
    example = next(p for p in EXAMPLES if p.name.startswith(path.name[:3]))
    want = parse_case(json.loads(example.read_text(encoding="utf-8"))).to_json_dict()
    got = bundle_to_case(load(path.stem), on=ON).case.to_json_dict()
    want.pop("id"), got.pop("id")
    if "labs" in want:
        assert got["labs"] == pytest.approx(want["labs"], abs=0.01)
        want.pop("labs"), got.pop("labs")
    assert got == want


# --- Patient -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "age"),
    [("1960-06-01", 64), ("1960-06-02", 63), ("1960-01", 64), ("1959-12-31", 64)],
)
def test_age_in_whole_years_at_the_date(birth: str, age: int) -> None:
    result = mapped(birth=birth)
    assert result.case.patient.age_years == age
    assert result.sources["patient.age_years"] == "Patient/p"


@pytest.mark.parametrize("birth", ["1960", "1960-06", "2025-01-01"])
def test_age_that_cannot_be_told_is_unmapped(birth: str) -> None:
    result = mapped(birth=birth)
    assert result.case.patient.age_years is None
    assert reasons(result, "patient.age_years")


def test_gender_becomes_sex() -> None:
    assert mapped().case.patient.sex == "female"


def test_case_id_defaults_to_the_patient_and_can_be_given() -> None:
    assert mapped().case.id == "fhir-p"
    assert bundle_to_case(bundle(), on=ON, case_id="mdt-7").case.id == "mdt-7"


# --- Primary tumour ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topography", "site"),
    [("C25.0", "pancreas"), ("C16.9", "stomach"), ("C17.0", "duodenum"),
     ("C17.2", "small_intestine"), ("C17.9", "small_intestine"), ("C18.1", "appendix"),
     ("C18.7", "colon"), ("C19.9", "rectum"), ("C20.9", "rectum"), ("C80.9", "unknown")],
)  # fmt: skip
def test_primary_site_from_icdo3_topography_and_icd10(topography: str, site: str) -> None:
    for prim in (
        condition("prim", bodySite=[concept(c.ICDO3, topography)]),
        condition("prim", code=concept(c.ICD10CM, topography)),
    ):
        data = bundle()
        data["entry"][1]["resource"] = prim
        result = bundle_to_case(data, on=ON)
        assert result.case.primary.site == site
        assert result.sources["primary.site"] == "Condition/prim"


@pytest.mark.parametrize(("snomed", "site"), sorted(c.BODY_SITES.items()))
def test_primary_site_from_snomed_body_site(snomed: str, site: str) -> None:
    data = bundle()
    data["entry"][1]["resource"] = condition("prim", bodySite=[concept(c.SNOMED, snomed)])
    assert bundle_to_case(data, on=ON).case.primary.site == site


def test_no_primary_site_is_an_error_not_a_guess() -> None:
    data = bundle()
    del data["entry"][1]
    with pytest.raises(FhirMappingError) as err:
        bundle_to_case(data, on=ON)
    assert err.value.problems[0].path == "primary.site"


def test_disagreeing_primaries_are_an_error() -> None:
    other = condition("prim2", bodySite=[concept(c.SNOMED, "34402009")])
    with pytest.raises(FhirMappingError, match="disagree"):
        mapped(other)


@pytest.mark.parametrize(
    ("code", "morphology", "differentiation"),
    [("8240/3", "net", "well"), ("8249/3", "net", "well"), ("8013/3", "large_cell_nec", "poor"),
     ("8041/3", "small_cell_nec", "poor"), ("8154/3", "minen", None)],
)  # fmt: skip
def test_histology_extension(code: str, morphology: str, differentiation: str | None) -> None:
    data = bundle()
    data["entry"][1]["resource"]["extension"] = [
        {"url": c.MCODE_HISTOLOGY_EXT, "valueCodeableConcept": concept(c.ICDO3, code)}
    ]
    result = bundle_to_case(data, on=ON)
    assert result.case.pathology.morphology == morphology
    assert result.case.pathology.differentiation == differentiation


def test_nec_nos_is_poorly_differentiated_without_a_cell_type() -> None:
    result = mapped(obs("h", c.LOINC, c.HISTOLOGY, valueCodeableConcept=concept(c.ICDO3, "8246/3")))
    assert result.case.pathology.differentiation == "poor"
    assert result.case.pathology.morphology is None
    assert "small- or large-cell" in reasons(result, "pathology.morphology")[0]


def test_histology_observation_and_unknown_morphology() -> None:
    result = mapped(obs("h", c.LOINC, c.HISTOLOGY, valueCodeableConcept=concept(c.ICDO3, "8140/3")))
    assert result.case.pathology.morphology is None
    assert "8140/3" in reasons(result, "pathology.morphology")[0]


def test_primary_resected_by_a_procedure() -> None:
    resection = proc("r", concept(c.NETLM_OPTION, "primary_tumor_resection"))
    result = mapped(resection)
    assert result.case.primary.status == "resected"
    assert result.sources["primary.status"] == "Procedure/r"
    assert result.case.prior_therapies == []


# --- Metastases --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [concept(c.SNOMED, "94381002"), concept(c.ICD10CM, "C78.7"), concept(c.ICD10CM, "C7B.02")],
)
def test_liver_metastasis_condition(code: dict[str, Any]) -> None:
    data = bundle()
    data["entry"][2]["resource"]["code"] = code
    assert bundle_to_case(data, on=ON).sources["liver"] == "Condition/liv"


def test_missing_liver_condition_is_reported() -> None:
    data = bundle()
    del data["entry"][2]
    assert reasons(bundle_to_case(data, on=ON), "liver")


@pytest.mark.parametrize(
    ("code", "site"),
    [(concept(c.SNOMED, "94222008"), "bone"), (concept(c.SNOMED, "94391008"), "lung"),
     (concept(c.ICD10CM, "C7B.01"), "distant_lymph_nodes"), (concept(c.ICD10CM, "C78.6"), "peritoneum"),
     (concept(c.ICD10CM, "C79.51"), "bone"), (concept(c.ICD10CM, "C79.3"), "other"),
     (concept(c.NETLM_VALUE, "regional_lymph_nodes"), "regional_lymph_nodes")],
)  # fmt: skip
def test_extrahepatic_sites(code: dict[str, Any], site: str) -> None:
    result = mapped(condition("m", code=code))
    assert result.case.extrahepatic is not None
    assert result.case.extrahepatic.sites == [site]
    assert result.sources["extrahepatic.sites[0]"] == "Condition/m"


def test_lymph_node_code_without_regional_or_distant_is_unmapped() -> None:
    result = mapped(condition("m", code=concept(c.ICD10CM, "C77.2")))
    assert result.case.extrahepatic is None
    assert "regional or distant" in reasons(result, "extrahepatic.sites")[0]


def test_resolved_metastasis_is_not_current_disease() -> None:
    status = concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "resolved")
    result = mapped(condition("m", code=concept(c.SNOMED, "94222008"), clinicalStatus=status))
    assert result.case.extrahepatic is None
    assert reasons(result, "extrahepatic.sites")


def test_refuted_condition_is_ignored() -> None:
    refuted = concept("http://terminology.hl7.org/CodeSystem/condition-ver-status", "refuted")
    result = mapped(condition("m", code=concept(c.SNOMED, "94222008"), verificationStatus=refuted))
    assert result.case.extrahepatic is None


def test_no_extrahepatic_disease_needs_an_explicit_statement() -> None:
    assert mapped().case.extrahepatic is None
    none = obs("e", c.NETLM_OBSERVATION, "extrahepatic-disease", valueBoolean=False)
    result = mapped(none)
    assert result.case.extrahepatic is not None
    assert result.case.extrahepatic.sites == []


def test_extrahepatic_statements_that_cannot_be_used() -> None:
    present = obs("e", c.NETLM_OBSERVATION, "extrahepatic-disease", valueBoolean=True)
    resectable = obs("r", c.NETLM_OBSERVATION, "extrahepatic-resectable", valueBoolean=True)
    result = mapped(present, resectable)
    assert result.case.extrahepatic is None
    assert reasons(result, "extrahepatic.sites")
    assert reasons(result, "extrahepatic.resectable")


# --- Observations and units --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "value", "field", "expected"),
    [(c.KI67, {"valueQuantity": qty(14, "%")}, ("pathology", "ki67_percent"), 14),
     (c.ECOG, {"valueInteger": 2}, ("patient", "ecog"), 2),
     (c.HEMOGLOBIN, {"valueQuantity": qty(121, "g/L")}, ("labs", "hemoglobin_g_dl"), 12.1),
     (c.HEMOGLOBIN, {"valueQuantity": qty(7.5, "mmol/L")}, ("labs", "hemoglobin_g_dl"), 7.5 / 0.6206),
     (c.ALBUMIN, {"valueQuantity": qty(38, "g/L")}, ("labs", "albumin_g_dl"), 3.8),
     (c.PLATELETS, {"valueQuantity": qty(210, "10*3/uL")}, ("labs", "platelets_10e9_per_l"), 210),
     (c.NEUTROPHILS, {"valueQuantity": qty(4100, "/uL")}, ("labs", "neutrophils_10e9_per_l"), 4.1),
     (c.CREATININE_CLEARANCE, {"valueQuantity": qty(1.5, "mL/s")}, ("labs", "creatinine_clearance_ml_min"), 90)],
)  # fmt: skip
def test_loinc_observations(code: str, value: dict[str, Any], field: tuple[str, str],
                            expected: float) -> None:  # fmt: skip
    result = mapped(obs("o", c.LOINC, code, **value))
    assert getattr(getattr(result.case, field[0]), field[1]) == pytest.approx(expected)
    assert result.sources[".".join(field)] == "Observation/o"


def test_bilirubin_times_upper_limit_of_normal() -> None:
    high = {"high": qty(21, "umol/L")}
    result = mapped(obs("b", c.LOINC, c.BILIRUBIN, valueQuantity=qty(14, "umol/L"),
                        referenceRange=[high]))  # fmt: skip
    assert result.case.labs.bilirubin_x_uln == pytest.approx(14 / 21)


@pytest.mark.parametrize("ranges", [[], [{"high": qty(1.2, "mg/dL")}], [{"low": qty(3, "umol/L")}]])
def test_bilirubin_without_a_same_unit_upper_limit_is_unmapped(ranges: list[Any]) -> None:
    result = mapped(obs("b", c.LOINC, c.BILIRUBIN, valueQuantity=qty(14, "umol/L"),
                        referenceRange=ranges))  # fmt: skip
    assert result.case.labs.bilirubin_x_uln is None
    assert reasons(result, "labs.bilirubin_x_uln")


def test_egfr_only_when_no_creatinine_clearance() -> None:
    egfr = obs(
        "g", c.LOINC, c.EGFR_CKD_EPI, "2024-05-20", valueQuantity=qty(60, "mL/min/{1.73_m2}")
    )
    result = mapped(egfr)
    assert result.case.labs.creatinine_clearance_ml_min == 60
    assert "eGFR" in result.sources["labs.creatinine_clearance_ml_min"]
    crcl = obs("k", c.LOINC, c.CREATININE_CLEARANCE, "2024-01-01", valueQuantity=qty(85, "mL/min"))
    result = mapped(egfr, crcl)
    assert result.case.labs.creatinine_clearance_ml_min == 85


def test_unknown_unit_is_unmapped_never_guessed() -> None:
    result = bundle_to_case(load("unknown-units"), on=ON)
    labs = result.case.labs
    assert labs.hemoglobin_g_dl is None
    assert labs.platelets_10e9_per_l is None
    assert labs.bilirubin_x_uln is None
    # 0.05 in UCUM "1" (a fraction) is 5 %: UCUM converts it; nothing is guessed
    assert result.case.pathology.ki67_percent == pytest.approx(5)
    assert (
        'unit "furlong" cannot be converted to g/dL' in reasons(result, "labs.hemoglobin_g_dl")[0]
    )
    assert "no unit" in reasons(result, "labs.platelets_10e9_per_l")[0]
    assert labs.albumin_g_dl == pytest.approx(3.8)
    assert labs.neutrophils_10e9_per_l == pytest.approx(3.1)


def test_netlm_observations_fill_their_fields() -> None:
    o = c.NETLM_OBSERVATION
    result = mapped(
        obs("a", o, "liver-pattern", valueCodeableConcept=concept(c.NETLM_VALUE, "II")),
        obs("b", o, "liver-largest-lesion", valueQuantity=qty(35, "mm")),
        obs("d", o, "months-stable", valueQuantity=qty(1, "a")),
        obs("e", o, "mitotic-count", valueQuantity=qty(3, "{mitoses}/(2.mm2)")),
        obs("f", o, "liver-resectable", valueBoolean=False),
        obs("g", o, "treatment-region", valueCodeableConcept=concept(c.NETLM_VALUE, "EU")),
        obs(
            "h", o, "functional-syndrome", valueCodeableConcept=concept(c.NETLM_VALUE, "insulinoma")
        ),
    )
    case = result.case
    assert case.liver.pattern == "II"
    assert case.liver.largest_lesion_cm == pytest.approx(3.5)
    assert case.course.months_stable == 12
    assert case.pathology.mitoses_per_2mm2 == 3
    assert case.liver.resectable is False
    assert case.region == "EU"
    assert case.primary.functional_syndrome == "insulinoma"
    assert result.unmapped == []


def test_netlm_value_not_allowed_for_the_field_is_unmapped() -> None:
    bad = obs(
        "a", c.NETLM_OBSERVATION, "liver-pattern", valueCodeableConcept=concept(c.NETLM_VALUE, "IV")
    )
    result = mapped(bad)
    assert result.case.liver.pattern is None
    assert reasons(result, "liver.pattern")


def test_value_breaking_the_contract_is_left_out_and_reported() -> None:
    result = mapped(obs("k", c.NETLM_OBSERVATION, "krenning-score", valueInteger=7))
    assert result.case.sstr_imaging.krenning_score is None
    assert "between 0 and 4" in reasons(result, "sstr_imaging.krenning_score")[0]
    assert "sstr_imaging.krenning_score" not in result.sources


@pytest.mark.parametrize(
    "change", [{"status": "cancelled"}, {"status": "entered-in-error"},
               {"dataAbsentReason": {"text": "not done"}}],
)  # fmt: skip
def test_observation_without_a_usable_value(change: dict[str, Any]) -> None:
    o = obs("o", c.LOINC, c.KI67, valueQuantity=qty(5, "%"))
    o.update(change)
    if "dataAbsentReason" in change:
        del o["valueQuantity"]
    result = mapped(o)
    assert result.case.pathology.ki67_percent is None
    assert reasons(result, "pathology.ki67_percent")


def test_most_recent_wins_whatever_the_order() -> None:
    data = load("repeated-observations")
    for entries in (data["entry"], list(reversed(data["entry"]))):
        result = bundle_to_case({**data, "entry": entries}, on=dt.date(2024, 7, 1))
        assert result.case.pathology.ki67_percent == 18
        assert result.case.patient.ecog == 2
        assert result.case.labs.platelets_10e9_per_l == 95
        assert result.sources["pathology.ki67_percent"] == "Observation/rep-obs3"


def test_units_convert_with_documented_factors() -> None:
    assert convert(120, "g/L", "g/dL") == pytest.approx(12)
    assert convert(8, "mmol/L", "g/dL", hemoglobin=True) == pytest.approx(8 * HB_MMOL_PER_L_TO_G_DL)
    assert convert(250, "10*3/uL", "10*9/L") == 250
    assert convert(2500, "/uL", "10*9/L") == pytest.approx(2.5)
    assert convert(6, "wk", "mo") == pytest.approx(42 / 30.4375)
    with pytest.raises(UnitError, match="mmol/L"):
        convert(8, "mmol/L", "g/dL")  # albumin: no molar factor is documented
    with pytest.raises(UnitError, match="no unit"):
        convert(8, None, "g/dL")


# --- Procedures and medicines ------------------------------------------------------------------


def test_whipple_bundle() -> None:
    result = bundle_to_case(load("whipple"), on=ON)
    case = result.case
    assert case.history.bilioenteric_anastomosis is True
    assert case.primary.status == "resected"
    assert result.sources["history.bilioenteric_anastomosis"] == "Procedure/wh-proc3"
    assert [(t.option, t.outcome) for t in case.prior_therapies] == [
        ("ssa", "progression"), ("tace", "completed")]  # fmt: skip
    assert "text" in result.sources["prior_therapies[1]"]
    assert case.labs.albumin_g_dl == pytest.approx(3.9)


def test_whipple_as_text_and_not_completed() -> None:
    result = mapped(proc("w", {"text": "Whipple procedure"}))
    assert result.case.history.bilioenteric_anastomosis is True
    assert "text" in result.sources["history.bilioenteric_anastomosis"]
    assert result.case.primary.status is None  # no reasonReference to the primary
    planned = mapped(proc("w", concept(c.SNOMED, "116241004"), status="preparation"))
    assert planned.case.history.bilioenteric_anastomosis is None
    assert reasons(planned, "history.bilioenteric_anastomosis")


@pytest.mark.parametrize(
    ("medication", "status", "reason", "expected"),
    [(concept(c.ATC, "H01CB02"), "active", None, ("ssa", "ongoing")),
     (concept(c.ATC, "L01EG02"), "completed", None, ("everolimus", "completed")),
     (concept(c.RXNORM, "357977"), "stopped", "intolerance", ("sunitinib", "intolerance")),
     (concept(c.ATC, "V10XX04"), "completed", "progression", ("prrt", "progression")),
     (concept(c.ATC, "L01AD04"), "active", None, ("streptozocin_chemotherapy", "ongoing")),
     (concept(c.NETLM_OPTION, "surufatinib"), "active", None, ("surufatinib", "ongoing")),
     ({"text": "Cabometyx 60 mg daily"}, "active", None, ("cabozantinib", "ongoing"))],
)  # fmt: skip
def test_medicines(medication: dict[str, Any], status: str, reason: str | None,
                   expected: tuple[str, str]) -> None:  # fmt: skip
    result = mapped(med("m", medication, status, reason))
    assert [(t.option, t.outcome) for t in result.case.prior_therapies] == [expected]
    assert result.sources["prior_therapies[0]"].startswith("MedicationStatement/m")
    assert ("text" in result.sources["prior_therapies[0]"]) == ("coding" not in medication)


@pytest.mark.parametrize("status", ["stopped", "not-taken", "intended", "on-hold"])
def test_medicine_whose_outcome_cannot_be_told_is_left_out(status: str) -> None:
    result = mapped(med("m", concept(c.ATC, "H01CB02"), status))
    assert result.case.prior_therapies == []
    assert reasons(result, "prior_therapies")


def test_unverified_code_is_not_matched_on_its_text() -> None:
    result = mapped(med("m", concept(c.RXNORM, "7617", "octreotide"), "active"))
    assert result.case.prior_therapies == []
    assert "octreotide" in reasons(result, "prior_therapies")[0]


def test_regimens_are_combined_and_lone_members_reported() -> None:
    result = mapped(
        med("a", concept(c.RXNORM, "40048"), "completed", "progression", "2023-01-01"),
        med("b", concept(c.ATC, "L01CB01"), "completed", None, "2023-01-02"),
        med("c", concept(c.ATC, "L01BC06"), "active", None, "2024-01-01"),
    )
    assert [(t.option, t.outcome) for t in result.case.prior_therapies] == [
        ("platinum_etoposide", "progression")]  # fmt: skip
    assert result.sources["prior_therapies[0]"] == "MedicationStatement/a, MedicationStatement/b"
    assert "capecitabine" in reasons(result, "prior_therapies")[0]


def test_therapies_in_date_order_and_medication_references() -> None:
    medication = {"resourceType": "Medication", "id": "lan", "code": concept(c.ATC, "H01CB03")}
    later = med("m2", concept(c.ATC, "L01EG02"), "active", start="2024-01-01")
    earlier = {"resourceType": "MedicationRequest", "id": "m1", "status": "completed",
               "intent": "order", "medicationReference": {"reference": "Medication/lan"},
               "subject": SUBJECT, "authoredOn": "2022-01-01",
               "statusReason": concept(c.NETLM_OUTCOME, "progression")}  # fmt: skip
    result = mapped(later, medication, earlier)
    assert [(t.option, t.outcome) for t in result.case.prior_therapies] == [
        ("ssa", "progression"), ("everolimus", "ongoing")]  # fmt: skip


def test_procedures_by_netlm_code_and_text() -> None:
    result = mapped(
        proc("a", concept(c.NETLM_OPTION, "tare")),
        proc("b", {"text": "CT-guided microwave ablation, segment 6"}, status="in-progress"),
        proc("c", concept(c.NETLM_OPTION, "tae"), status="stopped",
             outcome=concept(c.NETLM_OUTCOME, "intolerance")),
        proc("d", concept(c.SNOMED, "1234567", "Chemoembolization of liver")),
    )  # fmt: skip
    assert [(t.option, t.outcome) for t in result.case.prior_therapies] == [
        ("tare", "completed"), ("thermal_ablation", "ongoing"), ("tae", "intolerance")]  # fmt: skip
    assert "tace" in reasons(result, "prior_therapies")[0]


# --- Patients, validity and profiles -----------------------------------------------------------


def test_resources_of_another_patient_are_ignored() -> None:
    data = load("two-patients")
    with pytest.raises(FhirMappingError, match="2 Patients"):
        bundle_to_case(data, on=ON)
    a = bundle_to_case(data, patient_id="pa", on=ON).case
    assert (a.primary.site, a.patient.ecog, a.pathology.ki67_percent) == ("pancreas", 1, 9)
    b = bundle_to_case(data, patient_id="pb", on=ON).case
    assert (b.primary.site, b.patient.ecog, b.pathology.ki67_percent) == ("rectum", 3, 60)
    with pytest.raises(FhirMappingError, match="no Patient with id 'pc'"):
        bundle_to_case(data, patient_id="pc", on=ON)


def test_resource_without_subject_is_reported() -> None:
    o = obs("o", c.LOINC, c.KI67, valueQuantity=qty(5, "%"))
    del o["subject"]
    result = mapped(o)
    assert result.case.pathology.ki67_percent is None
    assert "Observation/o" in reasons(result, "(resource)")[0]


def test_absolute_and_urn_subject_references() -> None:
    data = bundle(obs("o", c.LOINC, c.KI67, valueQuantity=qty(5, "%")))
    data["entry"][0]["fullUrl"] = "urn:uuid:4f0f2b4e-0000-4000-8000-000000000001"
    data["entry"][-1]["resource"]["subject"] = {"reference": data["entry"][0]["fullUrl"]}
    assert bundle_to_case(data, on=ON).case.pathology.ki67_percent == 5
    data["entry"][-1]["resource"]["subject"] = {"reference": "https://ehr.example/fhir/Patient/p"}
    assert bundle_to_case(data, on=ON).case.pathology.ki67_percent == 5


@pytest.mark.parametrize(
    ("change", "where"),
    [(lambda d: d["entry"].append({"resource": {"resourceType": "Observation", "id": "x",
                                                "status": "final", "code": {"text": "x"},
                                                "valueQuantity": {"value": "abc"}}}),
      "Observation/x.valueQuantity.value"),
     (lambda d: d["entry"].append({"resource": {"resourceType": "Spaceship", "id": "s"}}), "Spaceship/s")],
)  # fmt: skip
def test_an_invalid_clinical_resource_is_left_out_and_reported(change: Any, where: str) -> None:
    data = copy.deepcopy(bundle(obs("o", c.LOINC, c.KI67, valueQuantity=qty(5, "%"))))
    change(data)
    result = bundle_to_case(data, on=ON)
    assert result.case.pathology.ki67_percent == 5  # the rest of the chart is still used
    assert any(u.field == "(resource)" and u.reason.startswith(where) for u in result.unmapped)


@pytest.mark.parametrize(
    ("change", "where"),
    [(lambda d: d.update(total="many"), "Bundle.total"),
     (lambda d: d["entry"][0]["resource"].update(birthDate="15/06/1960"), "Patient/p.birthDate"),
     (lambda d: d.update(resourceType="Patient"), "(bundle)"),
     (lambda d: d["entry"].pop(0), "(patient)")],
)  # fmt: skip
def test_invalid_input_is_refused_with_where_and_why(change: Any, where: str) -> None:
    data = copy.deepcopy(bundle())
    change(data)
    with pytest.raises(FhirMappingError) as err:
        bundle_to_case(data, on=ON)
    assert any(p.path.startswith(where) for p in err.value.problems), err.value.problems


def test_mcode_profiled_bundle() -> None:
    result = bundle_to_case(load("mcode-pnet-bone"), on=ON)
    case = result.case
    assert case.primary.site == "pancreas"
    assert (case.pathology.morphology, case.pathology.differentiation) == ("net", "well")
    assert case.extrahepatic is not None
    assert case.extrahepatic.sites == ["bone"]
    assert (case.patient.ecog, case.pathology.ki67_percent) == (1, 14)
    assert result.sources["liver"] == "Condition/mc1-met2"
    assert result.unmapped == []
