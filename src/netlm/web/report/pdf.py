"""The tumour-board report: one printable document per case and language.

The board discusses from paper or a shared screen, so the report carries everything it needs in
one place: the findings, what netlm proposes and why, the evidence, and what the board decided.
HTML is rendered with Jinja2 (autoescaping everything the user typed) and printed by WeasyPrint
without network access.
"""

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from markupsafe import Markup

from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.phrasing import Phraser
from netlm.model.assessment import Assessment, Recommendation
from netlm.model.case import Case
from netlm.model.decision import Decision
from netlm.web.report.forest import forest_rows, forest_svg
from netlm.web.report.system import check_fonts, weasyprint
from netlm.web.report.words import ReportWords, word

# A4 minus the 16 mm side margins, in CSS pixels: the forest plot is drawn to fit exactly.
CONTENT_WIDTH_PX = 665

# (section, ((fact, shown even when not recorded), ...)): core findings always appear, so a gap
# is visible as "not recorded" instead of silently missing.
SUMMARY: tuple[tuple[str, tuple[tuple[str, bool], ...]], ...] = (
    ("patient", (("patient.age_years", True), ("patient.sex", True), ("patient.ecog", True))),
    (
        "primary",
        (
            ("primary.site", True),
            ("primary.status", True),
            ("primary.resectable", False),
            ("primary.functional_syndrome", False),
        ),
    ),
    (
        "pathology",
        (
            ("pathology.ki67_percent", True),
            ("pathology.mitoses_per_2mm2", True),
            ("pathology.differentiation", True),
            ("pathology.morphology", False),
        ),
    ),
    (
        "liver",
        (
            ("liver.lesion_count", True),
            ("liver.largest_lesion_cm", True),
            ("liver.distribution", True),
            ("liver.tumor_burden_percent", True),
            ("liver.pattern", True),
            ("liver.resectable", False),
            ("liver.future_liver_remnant_percent", False),
            ("liver.synchronous", False),
        ),
    ),
    ("extrahepatic", (("extrahepatic.sites", True), ("extrahepatic.resectable", False))),
    (
        "imaging",
        (
            ("sstr_imaging.modality", True),
            ("sstr_imaging.krenning_score", True),
            ("sstr_imaging.all_lesions_positive", True),
        ),
    ),
    (
        "course",
        (
            ("course.status", True),
            ("course.months_stable", False),
            ("symptoms.bulky_symptomatic", False),
            ("symptoms.hormonal_refractory", False),
            ("history.bilioenteric_anastomosis", False),
            ("history.carcinoid_heart_disease", False),
        ),
    ),
)
LABS = (
    "labs.bilirubin_x_uln",
    "labs.albumin_g_dl",
    "labs.creatinine_clearance_ml_min",
    "labs.platelets_10e9_per_l",
    "labs.hemoglobin_g_dl",
    "labs.neutrophils_10e9_per_l",
)


Section = tuple[str, list[tuple[str, str]]]


@dataclass(frozen=True)
class EvidenceLine:
    summary: str
    pmid: str
    verified: bool


@dataclass(frozen=True)
class OptionView:
    rec: Recommendation
    strength: str
    availability: str
    evidence: list[EvidenceLine]


@dataclass(frozen=True)
class DecisionView:
    decision: Decision
    chosen: str
    participants: str
    concordant: str


def _lookup(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _summary(case: Case, phraser: Phraser, words: ReportWords) -> list[Section]:
    """Sections of (label, value) pairs in the report's language; "" labels a free-text row."""
    document = case.to_json_dict()
    sections: list[Section] = []
    for section, facts in SUMMARY:
        pairs = []
        for fact, always in facts:
            value = _lookup(document, fact)
            label = phraser.label(fact)
            label = label[:1].upper() + label[1:]
            if value is not None:
                pairs.append((label, phraser.value(fact, value)))
            elif always:
                pairs.append((label, words("not_recorded")))
        sections.append((words(section), pairs))
    priors = [
        phraser.option_short(p.option)
        + words("colon")
        + phraser.value(f"prior.{p.option}", p.outcome)
        for p in case.prior_therapies
    ]
    sections.append((words("prior_therapies"), [("", phraser.join(priors) or words("ui.none"))]))
    labs = [
        f"{phraser.label(fact)} {phraser.value(fact, value)}"
        for fact in LABS
        if (value := _lookup(document, fact)) is not None
    ]
    sections.append((words("labs"), [("", phraser.join(labs) or words("not_recorded"))]))
    return sections


def _two_columns(sections: list[Section]) -> tuple[list[Section], list[Section]]:
    """Split at the most even point: CSS multi-column balancing would triple the render time."""
    sizes = [len(pairs) + 1 for _, pairs in sections]
    split = min(range(len(sections) + 1), key=lambda i: abs(sum(sizes[:i]) - sum(sizes[i:])))
    return sections[:split], sections[split:]


def _option(
    rec: Recommendation, kb: KnowledgeBase, phraser: Phraser, words: ReportWords
) -> OptionView:
    evidence = []
    for ref in rec.evidence:
        record = kb.evidence[ref.id]
        # The summary ends with the DOI (or the PMID when there is none): add only what it lacks.
        pmid = f"PMID {record.pmid}" if record.doi and record.pmid else ""
        evidence.append(EvidenceLine(ref.summary, pmid, record.verified))
    availability = " · ".join(
        f"{phraser.value('region', region)} {words(f'availability.{status}')}"
        for region, status in rec.availability.items()
    )
    return OptionView(rec, words(f"strength.{rec.strength}"), availability, evidence)


def _latest(decisions: list[Decision], phraser: Phraser) -> DecisionView | None:
    if not decisions:
        return None
    latest = max(decisions, key=lambda d: (d.decided_on, d.created_at, d.id))
    return DecisionView(
        latest,
        chosen=phraser.join([phraser.option_name(code) for code in latest.chosen_options]),
        participants=phraser.join(list(latest.participants)),
        concordant=phraser.text("word.yes" if latest.concordant else "word.no"),
    )


def css_string(text: str) -> Markup:
    """A quoted CSS string; `<`, `>` and `&` are escaped so no text can close the style block."""
    escaped = re.sub(r'[\\"<>&\n]', lambda m: f"\\{ord(m.group()):x} ", text)
    return Markup(f'"{escaped}"')


def _page_counter(lang: str) -> Markup:
    """`page X of Y` as CSS `content`, with the page counters in the language's word order."""
    parts = re.split(r"\{(pages?)\}", word("page_of", lang))
    return Markup(
        " ".join(
            f"counter({part})" if i % 2 else css_string(part)
            for i, part in enumerate(parts)
            if part
        )
    )


def _timestamp(moment: dt.datetime) -> str:
    zone = f" {moment.tzname()}" if moment.tzinfo else ""
    return f"{moment:%Y-%m-%d %H:%M}{zone}"


@cache
def _template() -> Template:
    env = Environment(
        loader=PackageLoader("netlm.web.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html")


def render_report_html(
    case: Case,
    assessment: Assessment,
    decisions: list[Decision],
    kb: KnowledgeBase,
    lang: str,
    generated_at: dt.datetime,
) -> str:
    """The report as a standalone HTML document (also what the PDF is printed from)."""
    phraser = Phraser(kb, lang)
    words = ReportWords(kb, lang)
    classification = assessment.classification
    return _template().render(
        lang="zh-Hans" if lang == "zh" else "en",
        w=words,
        case=case,
        a=assessment,
        c=classification,
        kb_version=assessment.knowledge_base,
        generated=_timestamp(generated_at),
        summary=_two_columns(_summary(case, phraser, words)),
        pattern=words(
            "pattern.unclassified_value"
            if classification.liver_pattern == "unclassified"
            else f"pattern.{classification.liver_pattern}"
        ),
        resectability=words(
            "resectability.undetermined_value"
            if classification.resectability == "undetermined"
            else f"resectability.{classification.resectability}"
        ),
        options=[_option(rec, kb, phraser, words) for rec in assessment.recommendations],
        forest=Markup(forest_svg(forest_rows(assessment, kb, lang), lang, width=CONTENT_WIDTH_PX)),
        missing=[
            (phraser.label(m.field) if m.field in kb.facts else m.field, m.field, m.why)
            for m in assessment.missing_data
        ],
        decision=_latest(decisions, phraser),
        disclaimer=kb.manifest.disclaimer(lang),
        header_title=css_string(words("title")),
        header_case=css_string(f"{words('ui.case')} {case.id}"),
        page_counter=_page_counter(lang),
    )


def render_report_pdf(
    case: Case,
    assessment: Assessment,
    decisions: list[Decision],
    kb: KnowledgeBase,
    lang: str,
    generated_at: dt.datetime,
) -> bytes:
    """The report as PDF bytes; every resource is inline and any URL is refused, not fetched.

    Raises PdfUnavailable (naming the Debian package) when the system lacks Pango or the fonts.
    """
    printer = weasyprint()
    check_fonts(lang)
    html = render_report_html(case, assessment, decisions, kb, lang, generated_at)
    offline = printer.urls.URLFetcher(allowed_protocols=())
    pdf: bytes = printer.HTML(string=html, base_url=None, url_fetcher=offline).write_pdf()
    return pdf
