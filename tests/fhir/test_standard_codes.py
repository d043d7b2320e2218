"""Standard codes read wherever a standard exists: mCODE disease status, SNOMED resections,
molar LOINC codes, RxNorm products, ICD-10 national editions, and what stays unread."""

from typing import Any

import pytest

from netlm.fhir import bundle_to_case
from netlm.fhir import codes as c
from netlm.fhir.mapping.result import NOT_USED
from tests.fhir.charts import ON, bundle, concept, condition, mapped, med, obs, proc, qty, reasons


def primary_at(site: str) -> dict[str, Any]:
    """The chart's primary moved to a SNOMED body site (entry 1 of charts.bundle)."""
    return condition("prim", bodySite=[concept(c.SNOMED, site)])


def with_primary(site: str, *resources: dict[str, Any]) -> Any:
    data = bundle(*resources)
    data["entry"][1]["resource"] = primary_at(site)
    return bundle_to_case(data, on=ON)


def disease_status(code: str, **extra: Any) -> dict[str, Any]:
    return obs("ds", c.LOINC, c.CANCER_DISEASE_STATUS,
               valueCodeableConcept=concept(c.SNOMED, code), **extra)  # fmt: skip


# --- mCODE CancerDiseaseStatus -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "course"), [("271299001", "progressive"), ("359746009", "stable")]
)
def test_cancer_disease_status_worsened_and_stable_fill_the_course(code: str, course: str) -> None:
    result = mapped(disease_status(code))
    assert result.case.course.status == course
    assert result.sources["course.status"] == "Observation/ds (mCODE CancerDiseaseStatus)"


@pytest.mark.parametrize("code", ["268910001", "709137006", "260415000", "281900007", "1234"])
def test_other_disease_statuses_leave_the_course_unknown(code: str) -> None:
    result = mapped(disease_status(code))
    assert result.case.course.status is None
    (why,) = reasons(result, "course.status")
    assert code in why or "ConditionStatusTrendVS" in why


def test_disease_status_of_another_cancer_is_not_the_nets() -> None:
    breast = condition("breast", code=concept(c.SNOMED, "254837009", "Breast cancer"))
    result = mapped(breast, disease_status("271299001", focus=[{"reference": "Condition/breast"}]))
    assert result.case.course.status is None
    assert "Condition/breast" in reasons(result, "course.status")[0]


# --- SNOMED resections of the primary ----------------------------------------------------------


def test_an_operation_removing_the_whole_organ_resects_the_primary() -> None:
    gastrectomy = proc("op", concept(c.SNOMED, "26452005", "Total gastrectomy"))
    result = with_primary("69695003", gastrectomy)  # stomach
    assert result.case.primary.status == "resected"
    assert result.sources["primary.status"] == (
        "Procedure/op (Total gastrectomy, removes the whole stomach)"
    )


def test_a_right_hemicolectomy_removes_the_appendix_whole() -> None:
    hemicolectomy = proc("op", concept(c.SNOMED, "235326000"))
    assert with_primary("66754008", hemicolectomy).case.primary.status == "resected"


def test_a_partial_resection_counts_only_when_linked_to_the_primary() -> None:
    unlinked = proc("op", concept(c.SNOMED, "235326000"))
    result = with_primary("34516001", unlinked)  # ileum: the operation removes only its end
    assert result.case.primary.status is None
    assert "removes only part" in reasons(result, "primary.status")[0]
    linked = proc(
        "op", concept(c.SNOMED, "235326000"), reasonReference=[{"reference": "Condition/prim"}]
    )
    assert with_primary("34516001", linked).case.primary.status == "resected"


def test_a_resection_of_another_organ_or_for_another_condition_does_not_count() -> None:
    left = proc("op", concept(c.SNOMED, "82619000"))
    result = mapped(left)  # a left hemicolectomy; the primary is in the pancreas
    assert result.case.primary.status is None
    assert "does not remove the pancreas" in reasons(result, "primary.status")[0]
    liver = proc(
        "op2", concept(c.SNOMED, "9524002"), reasonReference=[{"reference": "Condition/liv"}]
    )
    result = mapped(liver)
    assert result.case.primary.status is None
    assert "another Condition" in reasons(result, "primary.status")[0]


def test_a_pancreaticoduodenectomy_code_from_the_mcode_value_set_makes_an_anastomosis() -> None:
    total = proc("op", concept(c.SNOMED, "69036001", "Total pancreaticoduodenectomy"))
    result = mapped(total)
    assert result.case.history.bilioenteric_anastomosis is True
    assert result.case.primary.status == "resected"  # the whole pancreas goes


def test_an_unverified_procedure_code_is_listed_with_its_code() -> None:
    result = mapped(proc("op", concept(c.SNOMED, "359571009", "Right colectomy")))
    assert result.case.primary.status is None
    (line,) = [u.reason for u in result.unmapped if u.field == NOT_USED]
    assert line.startswith("Procedure/op (http://snomed.info/sct|359571009 (")


# --- Labs in molar units -----------------------------------------------------------------------


@pytest.mark.parametrize("code", [c.BILIRUBIN_MOLAR, c.BILIRUBIN_MOLAR_ANY])
def test_molar_bilirubin_against_a_molar_upper_limit(code: str) -> None:
    bilirubin = obs("b", c.LOINC, code, valueQuantity=qty(34.2, "umol/L"),
                    referenceRange=[{"high": qty(17.1, "umol/L")}])  # fmt: skip
    assert mapped(bilirubin).case.labs.bilirubin_x_uln == pytest.approx(2.0)


def test_molar_haemoglobin_in_mmol_per_litre_only() -> None:
    hb = obs("h", c.LOINC, c.HEMOGLOBIN_MOLAR, valueQuantity=qty(6.206, "mmol/L"))
    assert mapped(hb).case.labs.hemoglobin_g_dl == pytest.approx(10.0)
    mislabelled = obs("h", c.LOINC, c.HEMOGLOBIN_MOLAR, valueQuantity=qty(10, "g/dL"))
    result = mapped(mislabelled)
    assert result.case.labs.hemoglobin_g_dl is None
    assert "is not mmol/L" in reasons(result, "labs.hemoglobin_g_dl")[0]


def test_an_unread_lab_code_is_listed_not_dropped() -> None:
    weight = obs("w", c.LOINC, "29463-7", valueQuantity=qty(70, "kg"))
    result = mapped(weight)
    assert [u.reason for u in result.unmapped if u.field == NOT_USED] == [
        "Observation/w (http://loinc.org|29463-7): not an observation netlm reads"
    ]


def test_tumour_size_is_one_tumour_not_the_largest_liver_lesion() -> None:
    size = obs("ts", c.LOINC, c.TUMOR_SIZE, component=[
        {"code": concept(c.LOINC, "33728-7"), "valueQuantity": qty(4.2, "cm")}])  # fmt: skip
    result = mapped(size)
    assert result.case.liver.largest_lesion_cm is None
    assert "4.2 cm" in reasons(result, "liver.largest_lesion_cm")[0]


# --- RxNorm clinical and branded drugs ---------------------------------------------------------


@pytest.mark.parametrize(
    ("rxcui", "option"),
    [("898589", "ssa"), ("749811", "ssa"), ("845512", "everolimus"), ("616279", "sunitinib"),
     ("1999682", "prrt")],
)  # fmt: skip
def test_rxnorm_products_are_read(rxcui: str, option: str) -> None:
    result = mapped(med("m", concept(c.RXNORM, rxcui), "active"))
    assert [(t.option, t.outcome) for t in result.case.prior_therapies] == [(option, "ongoing")]


def test_rxnorm_products_make_regimens() -> None:
    result = mapped(
        med("cap", concept(c.RXNORM, "200328"), "completed"),  # capecitabine 500 mg
        med("tem", concept(c.RXNORM, "313211"), "completed"),  # temozolomide
        med("cis", concept(c.RXNORM, "309311"), "completed", start="2024-01-01"),
        med("eto", concept(c.RXNORM, "310248"), "completed", start="2024-01-01"),
    )
    assert [t.option for t in result.case.prior_therapies] == ["captem", "platinum_etoposide"]


def test_each_rxcui_belongs_to_one_catalogue_drug() -> None:
    owners: dict[str, set[str]] = {}
    for record in c.RXNORM_PRODUCTS:
        assert record.url.startswith("https://api.fda.gov/drug/ndc.json?search=")
        for rxcui in record.rxcuis:
            owners.setdefault(rxcui, set()).add(record.drug)
    assert all(len(drugs) == 1 for drugs in owners.values())
    assert set(c.RXNORM_DRUGS.values()) <= set(c.DRUG_NAMES.values())


def test_medication_reference_display_is_a_last_resort() -> None:
    request = {"resourceType": "MedicationRequest", "id": "mr", "status": "active",
               "intent": "order", "subject": {"reference": "Patient/p"},
               "medicationReference": {"reference": "Medication/absent", "display": "Lutathera"}}  # fmt: skip
    result = mapped(request)
    assert [t.option for t in result.case.prior_therapies] == ["prrt"]
    assert "medicationReference.display" in result.sources["prior_therapies[0]"]


# --- ICD-10 editions ---------------------------------------------------------------------------


def test_icd10_gm_is_read_under_its_own_system() -> None:
    data = bundle()
    data["entry"][1]["resource"] = condition("prim", code=concept(c.ICD10GM, "C17.2"))
    data["entry"][2]["resource"]["code"] = concept(c.ICD10GM, "C78.7")
    result = bundle_to_case(data, on=ON)
    assert result.case.primary.site == "small_intestine"
    assert result.sources["liver"] == "Condition/liv"


# --- Findings never defaulted ------------------------------------------------------------------


def test_no_functional_syndrome_is_set_without_a_source() -> None:
    carcinoid = condition("syn", code=concept(c.ICD10, "E34.0", "Carcinoid syndrome"))
    result = mapped(carcinoid)
    assert result.case.primary.functional_syndrome is None
    assert "primary.functional_syndrome" not in result.sources
    assert any("E34.0" in u.reason for u in result.unmapped if u.field == NOT_USED)
