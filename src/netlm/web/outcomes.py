"""What patients in the cited studies experienced, and the forest plot's table, as read.

Shared by the case page and the PDF report. Figures are population results from the evidence
records, never a prediction for this patient. Treatment outcomes and prognostic figures (how
patients fared by a feature of their disease, or a threshold) are kept apart, so a prognostic
hazard ratio never reads as the effect of a treatment; each study says what it compared, and
when the option on the page was the trial's control arm, it says that too.
"""

from dataclasses import dataclass

from netlm.knowledge.load import KnowledgeBase
from netlm.knowledge.phrasing import Phraser, format_number
from netlm.knowledge.schema import Endpoint
from netlm.web.i18n import word
from netlm.web.report.forest import ForestRow, format_ratio


@dataclass(frozen=True)
class StudyOutcomes:
    """The reported results of one cited study, as a small table: endpoints by arm."""

    study: str
    design: str
    population: str
    n: int | None
    arms: list[str]
    rows: list[tuple[str, list[str]]]
    verified: bool
    has_hr: bool
    comparison: str = ""  # what the trial compared, in words ("" for a single cohort)
    control_note: str = ""  # said when the option on the page was the control arm


def study_outcomes(
    evidence_id: str, kb: KnowledgeBase, lang: str, option: str = "", prognostic: bool = False
) -> StudyOutcomes | None:
    """The treatment outcomes (or, with `prognostic`, the prognostic figures) of a cited study
    exactly as its record gives them, primary endpoint first (None: it gives none)."""
    say = Phraser(kb, lang)
    record = kb.evidence[evidence_id]
    endpoints = sorted(
        (e for e in record.endpoints if e.prognostic == prognostic), key=lambda e: not e.primary
    )
    if not endpoints:
        return None
    has_hr = any(e.hr is not None for e in endpoints)
    # A prognostic HR is often stored as the value too: the HR column alone shows it once.
    hr_only = prognostic and has_hr and all(v in (None, e.hr) for e in endpoints for v in e.values)
    arms = [] if hr_only else [arm(lang) for arm in record.arms] or [word("sheet.cohort", lang)]
    rows = []
    for endpoint in endpoints:
        cells = [] if hr_only else _cells(endpoint, len(arms), lang)
        if has_hr:
            cells.append(_hr(endpoint, lang))
        name = endpoint.name(lang)
        if endpoint.primary:
            name += word("sheet.primary", lang)
        rows.append((name, cells))
    comparison = record.comparison
    control = comparison is not None and option in comparison.control and not prognostic
    return StudyOutcomes(
        study=record.short_name, design=say.text(f"design.{record.design}"),
        population=record.population(lang), n=record.n, arms=arms, rows=rows,
        verified=record.verified, has_hr=has_hr,
        comparison=comparison.label(lang) if comparison is not None and not prognostic else "",
        control_note=word("sheet.control_arm", lang, option=say.option_short(option))
        if control else "",
    )  # fmt: skip


def _cells(endpoint: Endpoint, arms: int, lang: str) -> list[str]:
    cells = [
        word("sheet.not_reached", lang) if i in endpoint.not_reached else _figure(v, endpoint, lang)
        for i, v in enumerate(endpoint.values)
    ]
    return cells + [""] * (arms - len(cells))


def _hr(endpoint: Endpoint, lang: str) -> str:
    if endpoint.hr is None:
        return ""
    hr = format_number(endpoint.hr)
    if endpoint.hr_ci is not None:
        low, high = endpoint.hr_ci
        interval = f"{word('sheet.ci', lang)} {format_number(low)}–{format_number(high)}"
        return f"{hr}{word('form.aside', lang, text=interval)}"
    return f"{hr}{word('form.aside', lang, text=word('sheet.no_ci', lang))}"


def _figure(value: float | None, endpoint: Endpoint, lang: str) -> str:
    if value is None:
        return word("sheet.not_given", lang)
    number = format_number(value)
    if endpoint.unit == "percent":
        return f"{number}%"
    if endpoint.unit == "none":
        return number
    return word(f"sheet.unit.{endpoint.unit}", lang, value=number)


@dataclass(frozen=True)
class ForestLine:
    option_short: str
    trial: str
    comparison: str
    endpoint: str
    hr: str
    ci: str  # "0.60–1.17", or words saying the source gave none
    verified: bool


def forest_table(rows: list[ForestRow], lang: str) -> list[ForestLine]:
    """The numbers of the forest plot as a table: its text alternative."""
    return [
        ForestLine(
            r.option_short, r.trial, r.comparison,
            r.endpoint + (word("sheet.primary", lang) if r.primary else ""), format_ratio(r.hr),
            f"{format_ratio(r.ci[0])}–{format_ratio(r.ci[1])}" if r.ci
            else word("sheet.no_ci", lang),
            r.verified,
        )
        for r in rows
    ]  # fmt: skip
