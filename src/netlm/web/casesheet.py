"""What the board reads about one case, shared by the case page and the PDF report.

The one-line patient summary, the findings by section, what patients in the cited studies
experienced with each proposed option (population figures from the evidence records, never a
prediction for this patient), the evidence with links, and every decision newest first.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netlm.classify.grade import ki67_value
from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.phrasing import Phraser
from netlm.model.assessment import Assessment, Recommendation
from netlm.model.case import Case
from netlm.model.codes import Region
from netlm.model.decision import Decision
from netlm.web.i18n import word
from netlm.web.outcomes import StudyOutcomes, study_outcomes

# (section, ((fact, shown even when not recorded), ...)): core findings always appear, so a gap
# is visible as "not recorded" instead of silently missing.
FINDINGS: tuple[tuple[str, tuple[tuple[str, bool], ...]], ...] = (
    ("patient", (("patient.age_years", True), ("patient.sex", True), ("patient.ecog", True),
                 ("region", False))),
    ("primary", (("primary.site", True), ("primary.status", True), ("primary.resectable", False),
                 ("primary.functional_syndrome", False))),
    ("pathology", (("pathology.ki67_percent", True), ("pathology.mitoses_per_2mm2", True),
                   ("pathology.differentiation", True), ("pathology.morphology", False))),
    ("liver", (("liver.lesion_count", True), ("liver.largest_lesion_cm", True),
               ("liver.distribution", True), ("liver.tumor_burden_percent", True),
               ("liver.pattern", True), ("liver.resectable", False),
               ("liver.future_liver_remnant_percent", False), ("liver.synchronous", False))),
    ("extrahepatic", (("extrahepatic.sites", True), ("extrahepatic.resectable", False),
                      ("extrahepatic.limited", False))),
    ("sstr_imaging", (("sstr_imaging.modality", True), ("sstr_imaging.krenning_score", True),
                      ("sstr_imaging.all_lesions_positive", True))),
    ("course", (("course.status", True), ("course.months_stable", False),
                ("symptoms.bulky_symptomatic", False), ("symptoms.hormonal_refractory", False),
                ("symptoms.source", False),
                ("history.bilioenteric_anastomosis", False),
                ("history.carcinoid_heart_disease", False))),
    ("labs", (("labs.bilirubin_x_uln", False), ("labs.albumin_g_dl", False),
              ("labs.creatinine_clearance_ml_min", False), ("labs.platelets_10e9_per_l", False),
              ("labs.hemoglobin_g_dl", False), ("labs.neutrophils_10e9_per_l", False))),
)  # fmt: skip

# Flags with a name of their own on the pages (words.yaml `flag.<code>`); others are a "note".
FLAG_CODES = ("mdt_required", "controversial", "high_tumor_burden", "pathology_review",
              "unverified_evidence", "data_conflict", "hormonal_control")  # fmt: skip

# Options whose availability is no matter of a medicine's approval.
NO_REGULATORY_STATUS = ("trial", "observation", "supportive")

Section = tuple[str, list[tuple[str, str]]]


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class EvidenceView:
    id: str
    name: str
    design: str
    key_result: str
    citation: str
    links: list[Link]
    verified: bool


@dataclass(frozen=True)
class OptionSheet:
    rec: Recommendation
    availability: list[tuple[str, str, str]]  # (region name, status code, status in words)
    evidence: list[EvidenceView]
    outcomes: list[StudyOutcomes]
    prognostic: list[StudyOutcomes]  # prognostic factors and thresholds, shown apart


@dataclass(frozen=True)
class DecisionSheet:
    decision: Decision
    chosen: list[str]
    concordant: str
    reason_label: str  # never "departing" beside "concordant"
    recorded_by: str  # the display name where the account is on record
    made_on: str  # "made on version 3" when the case has moved on since, else ""


def _lookup(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def findings(case: Case, kb: KnowledgeBase, lang: str) -> list[Section]:
    """Every finding by section, (label, value in words); "" labels a free-text row."""
    say = Phraser(kb, lang)
    document = case.to_json_dict()
    sections: list[Section] = []
    for section, facts in FINDINGS:
        pairs = []
        for fact, always in facts:
            value = _lookup(document, fact)
            if fact == "pathology.ki67_percent":  # a value or the bound reported instead ("<3%")
                value = ki67_value(case.pathology)
            if fact == "extrahepatic.sites" and value == []:
                pairs.append((_capitalised(say.label(fact)), word("summary.no_extrahepatic", lang)))
            elif value is not None:
                pairs.append((_capitalised(say.label(fact)), say.value(fact, value)))
            elif always:
                pairs.append((_capitalised(say.label(fact)), word("sheet.not_recorded", lang)))
        if section == "labs" and not pairs:
            pairs.append(("", word("sheet.not_recorded", lang)))
        sections.append((word(f"form.section.{section}", lang), pairs))
    priors = [
        f"{say.option_short(p.option)}{word('form.colon', lang)}"
        f"{say.value(f'prior.{p.option}', p.outcome)}"
        for p in case.prior_therapies
    ]
    sections.append((word("form.prior", lang), [("", say.join(priors) or say.text("ui.none"))]))
    return sections


def summary_line(case: Case, assessment: Assessment, kb: KnowledgeBase, lang: str) -> str:
    """One line a board reads first: who the patient is and where the disease stands."""
    say = Phraser(kb, lang)

    def w(key: str, **values: object) -> str:
        return word(f"summary.{key}", lang, **values)

    parts: list[str] = []
    p = case.patient
    who = [say.value("patient.age_years", p.age_years)] if p.age_years is not None else []
    if p.sex in ("female", "male"):
        who.append(w(p.sex))
    if who:
        parts.append(w("sep").join(who))
    tumour = [say.value("primary.site", case.primary.site), assessment.classification.who_category]
    ki67 = ki67_value(case.pathology)
    if ki67 is not None:
        tumour.append(w("ki67", value=say.value("pathology.ki67_percent", ki67)))
    parts.append(w("tumour", site=tumour[0], rest=w("sep").join(tumour[1:])))
    parts.append(_liver(case, say, w))
    sites = case.extrahepatic.sites if case.extrahepatic is not None else None
    if sites is None:
        parts.append(w("extrahepatic_unknown"))
    elif not sites:
        parts.append(w("no_extrahepatic"))
    else:
        parts.append(w("extrahepatic", sites=say.value("extrahepatic.sites", sites)))
    sstr = case.sstr_imaging
    if sstr.krenning_score is not None:
        parts.append(w("krenning", score=sstr.krenning_score))
    if sstr.all_lesions_positive is not None:
        parts.append(w("all_positive" if sstr.all_lesions_positive else "not_all_positive"))
    if case.course.status is not None:
        parts.append(say.value("course.status", case.course.status))
    for prior in case.prior_therapies:
        outcome = say.value(f"prior.{prior.option}", prior.outcome)
        parts.append(w("prior", option=say.option_short(prior.option), outcome=outcome))
    if p.ecog is not None:
        parts.append(w("ecog", value=p.ecog))
    return " · ".join(parts)


def _liver(case: Case, say: Phraser, w: Callable[..., str]) -> str:
    liver = case.liver
    if liver.lesion_count == 1:
        text = w("liver_one")
    elif liver.lesion_count is not None:
        text = w("liver_count", count=liver.lesion_count)
    else:
        text = w("liver_any")
    if liver.distribution is not None:
        text = w("liver_in", text=text, where=say.value("liver.distribution", liver.distribution))
    if liver.largest_lesion_cm is not None:
        text += w("largest", size=say.value("liver.largest_lesion_cm", liver.largest_lesion_cm))
    return str(text)


def evidence_view(evidence_id: str, kb: KnowledgeBase, lang: str) -> EvidenceView:
    say = Phraser(kb, lang)
    record = kb.evidence[evidence_id]
    links = []
    if record.doi:
        links.append(Link(f"DOI {record.doi}", f"https://doi.org/{record.doi}"))
    if record.pmid:
        links.append(Link(f"PMID {record.pmid}", f"https://pubmed.ncbi.nlm.nih.gov/{record.pmid}/"))
    if record.url and record.url.startswith("https://"):
        links.append(Link(word("sheet.source", lang), record.url))
    return EvidenceView(
        id=evidence_id, name=record.short_name, design=say.text(f"design.{record.design}"),
        key_result=record.key_result(lang), citation=record.citation, links=links,
        verified=record.verified,
    )  # fmt: skip


def option_sheet(rec: Recommendation, kb: KnowledgeBase, lang: str) -> OptionSheet:
    say = Phraser(kb, lang)
    option = kb.options[rec.option].option

    def said(region: Region, status: str) -> str:
        """An unverified "not approved" in the words of the caution beside it, as in the CLI."""
        unconfirmed = status == "not_approved" and not option.availability[region].verified
        return say.text("availability.not_found" if unconfirmed else f"availability.{status}")

    availability: list[tuple[str, str, str]] = []
    if option.category not in NO_REGULATORY_STATUS:
        availability = [
            (say.value("region", region), status, said(region, status))
            for region, status in rec.availability.items()
        ]
    ids = [ref.id for ref in rec.evidence]
    outcomes = [o for e in ids if (o := study_outcomes(e, kb, lang, rec.option))]
    prognostic = [o for e in ids if (o := study_outcomes(e, kb, lang, prognostic=True))]
    evidence = [evidence_view(e, kb, lang) for e in ids]
    return OptionSheet(rec, availability, evidence, outcomes, prognostic)


def decision_sheets(
    decisions: list[Decision], kb: KnowledgeBase, lang: str, current_version: int | None = None
) -> list[DecisionSheet]:
    """Every decision, newest first, with option names in words; one made on a version older than
    `current_version` says so, since the findings it weighed have changed since."""
    say = Phraser(kb, lang)
    ordered = sorted(decisions, key=lambda d: (d.decided_on, d.created_at, d.id), reverse=True)
    older = current_version is not None
    return [
        DecisionSheet(
            d,
            chosen=[say.option_name(code) for code in d.chosen_options],
            concordant=word("decision.concordant" if d.concordant else "decision.discordant", lang),
            reason_label=word(
                "decision.reason_given" if d.concordant else "decision.override_short", lang
            ),
            recorded_by=d.created_by_name or d.created_by,
            made_on=word("decision.made_on", lang, version=d.case_version)
            if older and d.case_version != current_version
            else "",
        )
        for d in ordered
    ]


def missing_findings(assessment: Assessment, kb: KnowledgeBase, lang: str) -> list[tuple[str, str]]:
    """(finding in words, why it matters) for each missing finding."""
    say = Phraser(kb, lang)
    return [
        (_capitalised(say.label(m.field)) if m.field in kb.facts else m.field, m.why)
        for m in assessment.missing_data
    ]


def flag_name(code: str, lang: str) -> str:
    return word(f"flag.{code}" if code in FLAG_CODES else "flag.other", lang)
