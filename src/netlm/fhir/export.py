"""netlm.assessment/1 -> a FHIR R4 `collection` Bundle an EHR can store or show.

- GuidanceResponse: the classification (reasonCode), flags and the disclaimer (note), the
  missing findings (dataRequirement, with the case field and why), status `data-required` when
  findings are missing, else `success`.
- RequestGroup (draft proposal): one action per proposed option in rank order, with the
  citations of its evidence. Only proposals are actions, so a client that acts on the group can
  never act on an excluded option.
- Parameters (GuidanceResponse.outputParameters): the excluded options with their reasons, the
  knowledge base and language, and the case the assessment was made from when given.

Ids are derived from the case, knowledge base and language (uuid5), not random: exporting the
same assessment twice gives the same Bundle. docs/fhir-mapping.md shows the layout.
"""

import base64
import json
import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from netlm.fhir import codes as c
from netlm.knowledge.load import KnowledgeBase, load_knowledge_base
from netlm.model.assessment import Assessment, Recommendation
from netlm.model.case import Case

_RESOURCE_FOR_PREFIX = {
    "patient.age_years": "Patient",
    "patient.sex": "Patient",
    "primary.site": "Condition",
    "extrahepatic.sites": "Condition",
    "prior_therapies": "MedicationStatement",
    "history.bilioenteric_anastomosis": "Procedure",
}


def assessment_to_bundle(
    assessment: Assessment,
    *,
    patient_reference: str,
    case: Case | None = None,
    kb: KnowledgeBase | None = None,
) -> dict[str, Any]:
    """The assessment as a validated FHIR R4 Bundle (JSON); `kb` supplies DOI/PMID citations."""
    kb = kb or load_knowledge_base()
    seed = f"{assessment.case_id}|{assessment.knowledge_base.version}|{assessment.language}"
    urls = {
        kind: f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{seed}|{kind}')}"
        for kind in ("guidance", "plan", "output")
    }
    subject = {"reference": patient_reference}
    guidance = _guidance(assessment, kb, subject, urls)
    plan = {
        "resourceType": "RequestGroup",
        "id": urls["plan"].removeprefix("urn:uuid:"),
        "status": "draft",
        "intent": "proposal",
        "subject": subject,
        "action": [_action(r, kb) for r in sorted(assessment.recommendations, key=_rank)],
    }
    output = _output(assessment, kb, case, urls)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": urls["guidance"], "resource": guidance},
            {"fullUrl": urls["plan"], "resource": plan},
            {"fullUrl": urls["output"], "resource": output},
        ],
    }
    if not plan["action"]:
        del plan["action"]
    Bundle.model_validate(bundle)  # a bug here must never reach an EHR as invalid FHIR
    return bundle


def _rank(r: Recommendation) -> int:
    return r.rank


def _guidance(
    a: Assessment, kb: KnowledgeBase, subject: dict[str, str], urls: dict[str, str]
) -> dict[str, Any]:
    cl = a.classification
    reasons = [
        _concept(
            c.NETLM_CLASSIFICATION,
            f"grade-{cl.grade}",
            f"{cl.who_category} (basis: {cl.grade_basis})",
        ),
        _concept(
            c.NETLM_CLASSIFICATION, f"liver-pattern-{cl.liver_pattern}", cl.liver_pattern_basis
        ),
        _concept(
            c.NETLM_CLASSIFICATION,
            f"resectability-{cl.resectability}",
            "; ".join(cl.resectability_reasons) or cl.resectability,
        ),
        _concept(c.NETLM_CLASSIFICATION, f"intent-{cl.intent}", cl.intent),
    ]
    notes = [{"text": f"[{f.code}] {f.message}"} for f in a.flags]
    notes.append({"text": kb.manifest.disclaimer(a.language)})
    resource: dict[str, Any] = {
        "resourceType": "GuidanceResponse",
        "id": urls["guidance"].removeprefix("urn:uuid:"),
        "moduleUri": f"{c.NETLM_BASE}/knowledge-base/{a.knowledge_base.version}",
        "status": "data-required" if a.missing_data else "success",
        "subject": subject,
        "reasonCode": reasons,
        "note": notes,
        "outputParameters": {"reference": urls["output"]},
        "result": {"reference": urls["plan"]},
    }
    if a.missing_data:
        resource["dataRequirement"] = [_requirement(m.field, m.why) for m in a.missing_data]
    return resource


def _concept(system: str, code: str, text: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}], "text": text}


def _requirement(field: str, why: str) -> dict[str, Any]:
    found = c.field_requirement(field)
    kind = found[2] if found else _RESOURCE_FOR_PREFIX.get(field.split("[")[0], "Observation")
    out: dict[str, Any] = {
        "extension": [
            {"url": c.EXT_CASE_FIELD, "valueString": field},
            {"url": c.EXT_MISSING_WHY, "valueString": why},
        ],
        "type": kind,
    }
    if found:
        out["codeFilter"] = [{"path": "code", "code": [{"system": found[0], "code": found[1]}]}]
    return out


def _action(r: Recommendation, kb: KnowledgeBase) -> dict[str, Any]:
    lines = list(r.rationale) + [f"Caution: {x}" for x in r.cautions]
    action: dict[str, Any] = {
        "prefix": str(r.rank),
        "title": r.name,
        "description": "\n".join(lines) or r.name,
        "code": [
            {"coding": [{"system": c.NETLM_OPTION, "code": r.option, "display": r.name}]},
            {"coding": [{"system": c.NETLM_STRENGTH, "code": r.strength}]},
        ],
    }
    citations = [_citation(e.id, e.summary, kb) for e in r.evidence]
    if citations:
        action["documentation"] = citations
    return action


def _citation(evidence_id: str, summary: str, kb: KnowledgeBase) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "citation", "label": evidence_id, "display": summary}
    record = kb.evidence.get(evidence_id)
    if record is not None:
        out["citation"] = record.citation
        if record.doi:
            out["url"] = f"https://doi.org/{record.doi}"
        elif record.pmid:
            out["url"] = f"https://pubmed.ncbi.nlm.nih.gov/{record.pmid}/"
        elif record.url:
            out["url"] = record.url
    return out


def _output(
    a: Assessment, kb: KnowledgeBase, case: Case | None, urls: dict[str, str]
) -> dict[str, Any]:
    manifest = kb.manifest
    parameters: list[dict[str, Any]] = [
        {
            "name": "knowledge-base",
            "valueString": f"{manifest.name} {a.knowledge_base.version} "
            f"({a.knowledge_base.released})",
        },
        {"name": "language", "valueCode": a.language},
    ]
    for x in a.excluded:
        part: list[dict[str, Any]] = [
            {
                "name": "option",
                "valueCoding": {"system": c.NETLM_OPTION, "code": x.option, "display": x.name},
            },
        ]
        part += [{"name": "reason", "valueString": reason} for reason in x.reasons]
        parameters.append({"name": "excluded", "part": part})
    if case is not None:
        data = json.dumps(case.to_json_dict(), ensure_ascii=False).encode()
        attachment = {"contentType": "application/json", "data": base64.b64encode(data).decode()}
        parameters.append({"name": "case", "valueAttachment": attachment})
    return {
        "resourceType": "Parameters",
        "id": urls["output"].removeprefix("urn:uuid:"),
        "parameter": parameters,
    }
