"""What real feeds send: ICD-10-CM C7A/C7B in both spellings, SNOMED CT histology, pathology as
a DiagnosticReport, eGFR CKD-EPI 2021, ECOG as a LOINC answer, units in printed spellings."""

import base64
from typing import Any

import pytest

from netlm.fhir import bundle_to_case
from netlm.fhir import codes as c
from netlm.fhir.mapping.result import NOT_USED
from tests.fhir.charts import ON, SUBJECT, bundle, concept, condition, mapped, obs, qty, reasons

CM = c.ICD10CM


def chart(*resources: dict[str, Any]) -> dict[str, Any]:
    """Patient p with only the resources given (no primary or liver Condition of its own)."""
    data = bundle(*resources)
    data["entry"] = [data["entry"][0], *data["entry"][3:]]
    return data


@pytest.mark.parametrize(
    ("code", "site"),
    [("C7A.012", "small_intestine"), ("C7A012", "small_intestine"), ("C7A.010", "duodenum"),
     ("c7a.020", "appendix"), ("C7A.021", "colon"), ("C7A.026", "rectum"),
     ("C7A.092", "stomach")],
)  # fmt: skip
def test_icd10cm_carcinoid_codes_are_primary_sites_without_a_body_site(
    code: str, site: str
) -> None:
    result = bundle_to_case(chart(condition("net", code=concept(CM, code))), on=ON)
    assert result.case.primary.site == site
    assert result.sources["primary.site"] == "Condition/net"


def test_a_carcinoid_of_the_lung_is_named_not_read_as_a_site() -> None:
    data = chart(condition("net", code=concept(CM, "C7A.090")))
    with pytest.raises(Exception, match="no Condition for the primary tumour") as refused:
        bundle_to_case(data, on=ON)
    assert "bronchus and lung" in str(refused.value)


@pytest.mark.parametrize("code", ["C7B.02", "C7B02", "c7b02"])
def test_liver_metastases_in_either_spelling(code: str) -> None:
    result = bundle_to_case(
        chart(
            condition("net", code=concept(CM, "C7A.012")), condition("m", code=concept(CM, code))
        ),
        on=ON,
    )
    assert result.sources["liver"] == "Condition/m"
    assert not reasons(result, "liver")


def test_undotted_secondary_codes_name_their_sites() -> None:
    result = mapped(
        condition("b", code=concept(CM, "C7B03")), condition("n", code=concept(CM, "C7B01"))
    )
    assert set(result.case.extrahepatic.sites) == {"bone", "distant_lymph_nodes"}


@pytest.mark.parametrize(
    ("code", "morphology", "differentiation"),
    [("1286768001", "net", "well"), ("128628002", "large_cell_nec", "poor"),
     ("74364000", "small_cell_nec", "poor"), ("785766008", "minen", None)],
)  # fmt: skip
def test_snomed_histology_in_the_mcode_extension(
    code: str, morphology: str, differentiation: str | None
) -> None:
    ext = {"url": c.MCODE_HISTOLOGY_EXT, "valueCodeableConcept": concept(c.SNOMED, code)}
    result = mapped(condition("prim2", bodySite=[concept(c.SNOMED, "15776009")], extension=[ext]))
    assert result.case.pathology.morphology == morphology
    assert result.case.pathology.differentiation == differentiation


def test_snomed_histology_observation_31206_6() -> None:
    histology = obs("h", c.LOINC, c.HISTOLOGY, valueCodeableConcept=concept(c.SNOMED, "1286768001"))
    result = mapped(histology)
    assert (result.case.pathology.morphology, result.case.pathology.differentiation) == (
        "net",
        "well",
    )


def test_an_unknown_snomed_morphology_is_reported() -> None:
    histology = obs("h", c.LOINC, c.HISTOLOGY, valueCodeableConcept=concept(c.SNOMED, "35917007"))
    result = mapped(histology)
    assert result.case.pathology.morphology is None
    assert (
        "SNOMED CT 35917007 is not a neuroendocrine morphology"
        in reasons(result, "pathology.morphology")[0]
    )


def report(rid: str = "path", **fields: Any) -> dict[str, Any]:
    return {"resourceType": "DiagnosticReport", "id": rid, "status": "final",
            "code": concept(c.LOINC, "60567-5"), "subject": SUBJECT,
            "effectiveDateTime": "2024-04-02", **fields}  # fmt: skip


def test_a_pathology_report_result_observations_and_conclusion_code() -> None:
    ki67 = obs("k", c.LOINC, c.KI67, valueQuantity=qty(8, "%"))
    del ki67["subject"]  # some feeds give the subject on the report only
    path = report(result=[{"reference": "Observation/k"}, {"reference": "Observation/gone"}],
                  conclusionCode=[concept(c.ICDO3, "8249/3")])  # fmt: skip
    result = mapped(path, ki67)
    assert result.case.pathology.ki67_percent == 8
    assert result.sources["pathology.morphology"] == "DiagnosticReport/path"
    assert result.case.pathology.differentiation == "well"
    assert any("Observation/gone is not in the Bundle" in r for r in reasons(result, NOT_USED))


def test_a_report_conclusion_is_a_proposal_never_a_fact() -> None:
    text = "Well-differentiated neuroendocrine tumor, WHO grade 2; Ki-67 8%; mitoses 2/2 mm2."
    form = {
        "contentType": "text/plain",
        "data": base64.b64encode(b"Three liver metastases.").decode(),
    }
    result = mapped(report(conclusion=text, presentedForm=[form]))
    assert result.case.pathology.ki67_percent is None
    assert result.case.pathology.differentiation is None
    found = {(p.field, p.value) for p in result.proposals}
    assert found == {("pathology.ki67_percent", 8), ("pathology.mitoses_per_2mm2", 2),
                     ("pathology.differentiation", "well"), ("pathology.morphology", "net"),
                     ("(stated WHO grade)", "G2"), ("liver.lesion_count", 3)}  # fmt: skip
    ki67 = next(p for p in result.proposals if p.field == "pathology.ki67_percent")
    assert ki67.quote == text
    assert ki67.source == "DiagnosticReport/path"
    assert ki67.to_json()["in_case"] is None


def test_a_proposal_says_what_the_coded_chart_holds() -> None:
    coded = obs("k", c.LOINC, c.KI67, valueQuantity=qty(5, "%"))
    result = mapped(coded, report(conclusion="Ki-67 8 %."))
    (p,) = result.proposals
    assert (p.value, p.in_case) == (8, 5)
    assert result.case.pathology.ki67_percent == 5


def test_a_cancelled_report_and_a_pdf_form_are_reported() -> None:
    cancelled = mapped(report(status="cancelled", conclusion="Ki-67 8%"))
    assert not cancelled.proposals
    pdf = mapped(report(presentedForm=[{"contentType": "application/pdf", "data": "JVBERi0="}]))
    assert any("presentedForm[0] (application/pdf) is not plain text" in r
               for r in reasons(pdf, NOT_USED))  # fmt: skip


def test_egfr_ckd_epi_2021() -> None:
    egfr = obs("e", c.LOINC, "98979-8", valueQuantity=qty(58, "mL/min/{1.73_m2}"))
    result = mapped(egfr)
    assert result.case.labs.creatinine_clearance_ml_min == 58
    assert "eGFR" in result.sources["labs.creatinine_clearance_ml_min"]


@pytest.mark.parametrize(("answer", "grade"), [("LA9622-7", 0), ("LA9624-3", 2), ("LA9626-8", 4)])
def test_ecog_as_a_loinc_answer(answer: str, grade: int) -> None:
    result = mapped(obs("ecog", c.LOINC, c.ECOG, valueCodeableConcept=concept(c.LOINC, answer)))
    assert result.case.patient.ecog == grade


def test_ecog_5_is_not_read() -> None:
    result = mapped(obs("ecog", c.LOINC, c.ECOG, valueCodeableConcept=concept(c.LOINC, "LA9627-6")))
    assert result.case.patient.ecog is None
    assert "ECOG 5" in reasons(result, "patient.ecog")[0]


def test_bilirubin_in_umol_l_against_an_upper_limit_in_micro_sign_spelling() -> None:
    value = {"value": 34, "unit": "umol/L", "system": c.UCUM, "code": "umol/L"}
    high = {"value": 17, "unit": "µmol/L"}  # printed unit only, as many feeds send it
    bilirubin = obs("b", c.LOINC, c.BILIRUBIN_MOLAR, valueQuantity=value,
                    referenceRange=[{"high": high}])  # fmt: skip
    assert mapped(bilirubin).case.labs.bilirubin_x_uln == pytest.approx(2)


def test_bilirubin_mass_against_molar_limit_is_refused() -> None:
    bilirubin = obs("b", c.LOINC, c.BILIRUBIN, valueQuantity=qty(2, "mg/dL"),
                    referenceRange=[{"high": qty(17, "umol/L")}])  # fmt: skip
    result = mapped(bilirubin)
    assert result.case.labs.bilirubin_x_uln is None
    assert "same quantity" in reasons(result, "labs.bilirubin_x_uln")[0]


def cpt(rid: str, code: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Procedure", "id": rid, "status": "completed",
            "code": concept(c.CPT, code), "subject": SUBJECT, "performedDateTime": "2022-01-01",
            **fields}  # fmt: skip


def test_a_whipple_coded_in_cpt_joins_the_bile_duct_and_resects_a_linked_primary() -> None:
    unlinked = mapped(cpt("op", "48150"))
    assert unlinked.case.history.bilioenteric_anastomosis is True
    assert unlinked.case.primary.status is None  # the pancreas is removed only in part
    assert "removes only part of that organ" in reasons(unlinked, "primary.status")[0]
    linked = mapped(cpt("op", "48153", reasonReference=[{"reference": "Condition/prim"}]))
    assert linked.case.primary.status == "resected"
    assert linked.case.history.bilioenteric_anastomosis is True


def test_a_cpt_right_colectomy_for_an_ileal_primary() -> None:
    ileal = condition("net", code=concept(CM, "C7A.012"))
    op = cpt("op", "44160", reasonReference=[{"reference": "Condition/net"}])
    result = bundle_to_case(chart(ileal, op), on=ON)
    assert result.case.primary.status == "resected"
    assert "Partial colectomy with terminal ileum" in result.sources["primary.status"]
    assert result.case.history.bilioenteric_anastomosis is None


def test_a_cpt_code_netlm_has_not_verified_is_listed() -> None:
    result = mapped(cpt("op", "47120"))
    assert any("47120" in r for r in reasons(result, NOT_USED))
