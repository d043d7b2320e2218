"""The tumour-board report: one printable document per case and language.

The board discusses from paper or a shared screen, so the report carries everything it needs in
one place: the findings, what netlm proposes and why, the evidence, and what the board decided.
HTML is rendered with Jinja2 (autoescaping everything the user typed) and printed by WeasyPrint
without network access.
"""

import datetime as dt
import re
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, Template
from markupsafe import Markup

import netlm
from netlm.knowledge.load import KnowledgeBase
from netlm.model.assessment import Assessment
from netlm.model.case import Case
from netlm.model.decision import Decision
from netlm.web import casesheet
from netlm.web.i18n import word as web_word
from netlm.web.lead import cautions, excluded_groups, lead
from netlm.web.report.forest import forest_rows, forest_svg
from netlm.web.report.system import check_fonts, weasyprint
from netlm.web.report.words import ReportWords, word

# A4 minus the 16 mm side margins, in CSS pixels: the forest plot is drawn to fit exactly.
CONTENT_WIDTH_PX = 665

Section = tuple[str, list[tuple[str, str]]]


def _two_columns(sections: list[Section]) -> tuple[list[Section], list[Section]]:
    """Split at the most even point: CSS multi-column balancing would triple the render time."""
    sizes = [len(pairs) + 1 for _, pairs in sections]
    split = min(range(len(sections) + 1), key=lambda i: abs(sum(sizes[:i]) - sum(sizes[i:])))
    return sections[:split], sections[split:]


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
    current_version: int | None = None,
) -> str:
    """The report as a standalone HTML document (also what the PDF is printed from)."""
    words = ReportWords(kb, lang)
    classification = assessment.classification
    decisions_shown = casesheet.decision_sheets(decisions, kb, lang, current_version)
    return _template().render(
        lang="zh-Hans" if lang == "zh" else "en",
        w=words,
        case=case,
        a=assessment,
        c=classification,
        kb_version=assessment.knowledge_base,
        generated=_timestamp(generated_at),
        summary_line=casesheet.summary_line(case, assessment, kb, lang),
        summary=_two_columns(casesheet.findings(case, kb, lang)),
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
        options=[casesheet.option_sheet(rec, kb, lang) for rec in assessment.recommendations],
        forest=Markup(forest_svg(forest_rows(assessment, kb, lang), lang, width=CONTENT_WIDTH_PX)),
        missing=casesheet.missing_findings(assessment, kb, lang),
        lead=lead(assessment, kb, lang),
        excluded_groups=excluded_groups(assessment, kb, lang),
        caution_list=lambda rec: cautions(rec, kb, lang),
        decisions=decisions_shown,
        t=lambda key, **values: web_word(key, lang, **values),
        disclaimer=kb.manifest.disclaimer(lang),
        header_title=css_string(words("title")),
        header_case=css_string(f"{words('ui.case')} {case.id}"),
        page_counter=_page_counter(lang),
        footer_versions=css_string(
            web_word(
                "report.versions",
                lang,
                software=netlm.__version__,
                kb=assessment.knowledge_base.version,
            )
        ),
    )


def render_report_pdf(
    case: Case,
    assessment: Assessment,
    decisions: list[Decision],
    kb: KnowledgeBase,
    lang: str,
    generated_at: dt.datetime,
    current_version: int | None = None,
) -> bytes:
    """The report as PDF bytes; every resource is inline and any URL is refused, not fetched.

    Raises PdfUnavailable (naming the Debian package) when the system lacks Pango or the fonts.
    """
    printer = weasyprint()
    check_fonts(lang)
    html = render_report_html(case, assessment, decisions, kb, lang, generated_at, current_version)
    offline = printer.urls.URLFetcher(allowed_protocols=())
    pdf: bytes = printer.HTML(string=html, base_url=None, url_fetcher=offline).write_pdf()
    return pdf
