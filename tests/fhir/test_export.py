"""netlm.assessment/1 -> FHIR R4 Bundle: valid, ranked, cited, nothing lost."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from netlm import parse_case
from netlm.engine import assess
from netlm.fhir import codes as c
from netlm.fhir.export import assessment_to_bundle
from netlm.knowledge.load import KnowledgeBase
from netlm.model.case import Case
from tests.conftest import EXAMPLES


def case_of(path: Path) -> Case:
    return parse_case(json.loads(path.read_text(encoding="utf-8")))


def resource(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind
    )
    return found


def option_code(action: dict[str, Any]) -> str:
    return next(
        x["code"] for cc in action["code"] for x in cc["coding"] if x["system"] == c.NETLM_OPTION
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_export_is_valid_fhir_and_faithful(path: Path, lang: str, kb: KnowledgeBase) -> None:
    case = case_of(path)
    a = assess(case, lang=lang, kb=kb)  # type: ignore[arg-type]
    bundle = assessment_to_bundle(a, patient_reference="Patient/p1", case=case, kb=kb)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    guidance = resource(bundle, "GuidanceResponse")
    plan = resource(bundle, "RequestGroup")
    output = resource(bundle, "Parameters")
    assert guidance["status"] == ("data-required" if a.missing_data else "success")
    assert guidance["subject"] == plan["subject"] == {"reference": "Patient/p1"}
    assert (plan["status"], plan["intent"]) == ("draft", "proposal")
    urls = {e["resource"]["resourceType"]: e["fullUrl"] for e in bundle["entry"]}
    assert guidance["result"]["reference"] == urls["RequestGroup"]
    assert guidance["outputParameters"]["reference"] == urls["Parameters"]
    # rank order, names and strength preserved
    actions = plan.get("action", [])
    ranked = sorted(a.recommendations, key=lambda r: r.rank)
    assert [option_code(x) for x in actions] == [r.option for r in ranked]
    assert [x["title"] for x in actions] == [r.name for r in ranked]
    assert [x["prefix"] for x in actions] == [str(r.rank) for r in ranked]
    # excluded options with every reason, each option exactly once overall
    excluded = [p for p in output["parameter"] if p["name"] == "excluded"]
    assert [p["part"][0]["valueCoding"]["code"] for p in excluded] == [x.option for x in a.excluded]
    for p, x in zip(excluded, a.excluded, strict=True):
        assert [q["valueString"] for q in p["part"][1:]] == x.reasons
    everything = [option_code(x) for x in actions] + [x.option for x in a.excluded]
    assert sorted(everything) == sorted(kb.options)
    # classification, flags and missing findings
    codes = [cc["coding"][0]["code"] for cc in guidance["reasonCode"]]
    assert f"grade-{a.classification.grade}" in codes
    assert f"resectability-{a.classification.resectability}" in codes
    notes = [n["text"] for n in guidance["note"]]
    assert all(any(f.message in n for n in notes) for f in a.flags)
    fields = [r["extension"][0]["valueString"] for r in guidance.get("dataRequirement", [])]
    assert fields == [m.field for m in a.missing_data]
    # the case rides along, unchanged
    attachment = next(p for p in output["parameter"] if p["name"] == "case")["valueAttachment"]
    assert json.loads(base64.b64decode(attachment["data"])) == case.to_json_dict()


def test_citations_carry_doi_or_pmid_urls(kb: KnowledgeBase) -> None:
    a = assess(case_of(EXAMPLES[2]), kb=kb)
    plan = resource(assessment_to_bundle(a, patient_reference="Patient/p", kb=kb), "RequestGroup")
    for action, rec in zip(
        plan["action"], sorted(a.recommendations, key=lambda r: r.rank), strict=True
    ):
        docs = action["documentation"]
        assert [d["label"] for d in docs] == [e.id for e in rec.evidence]
        for d in docs:
            record = kb.evidence[d["label"]]
            assert d["type"] == "citation"
            assert d["citation"] == record.citation
            if record.doi:
                assert d["url"] == f"https://doi.org/{record.doi}"
            elif record.pmid:
                assert d["url"] == f"https://pubmed.ncbi.nlm.nih.gov/{record.pmid}/"
            else:  # a label or regulatory document: where it was read
                assert d["url"] == record.url


def test_missing_findings_name_the_fhir_data_that_would_fill_them(kb: KnowledgeBase) -> None:
    case = parse_case({"schema": "netlm.case/1", "id": "thin", "primary": {"site": "pancreas"},
                       "liver": {}})  # fmt: skip
    a = assess(case, kb=kb)
    guidance = resource(assessment_to_bundle(a, patient_reference="Patient/p", kb=kb),
                        "GuidanceResponse")  # fmt: skip
    assert guidance["status"] == "data-required"
    by_field = {r["extension"][0]["valueString"]: r for r in guidance["dataRequirement"]}
    ki67 = by_field["pathology.ki67_percent"]
    assert ki67["type"] == "Observation"
    assert ki67["codeFilter"][0]["code"] == [{"system": c.LOINC, "code": c.KI67}]
    assert all(r["extension"][1]["url"] == c.EXT_MISSING_WHY for r in by_field.values())


def test_export_is_deterministic_and_without_case_has_no_case_parameter(kb: KnowledgeBase) -> None:
    a = assess(case_of(EXAMPLES[0]), kb=kb)
    first = assessment_to_bundle(a, patient_reference="Patient/p", kb=kb)
    assert first == assessment_to_bundle(a, patient_reference="Patient/p", kb=kb)
    names = [p["name"] for p in resource(first, "Parameters")["parameter"]]
    assert "case" not in names
    assert names[:2] == ["knowledge-base", "language"]
