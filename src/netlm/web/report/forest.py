"""A forest plot of the treatment effects behind the proposed options.

The board weighs options by the size and certainty of their effect; a plot of every cited hazard
ratio shows that at a glance. Each row is credited to the option its trial tested (the
experimental arm, `netlm.knowledge.effects`) and says what was compared, primary endpoint first;
a hazard ratio the source gives without a CI is drawn as a point and says so. Text is drawn at
11-12 px and never scaled down (the page scrolls the plot instead); labels wrap rather than being
cut. The SVG is self-contained (no scripts, no external resources) so the same markup serves the
web page and the PDF.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from netlm.knowledge.effects import effect_estimates
from netlm.knowledge.load import KnowledgeBase
from netlm.model.assessment import Assessment
from netlm.model.codes import OptionCode
from netlm.web.report.words import word

FONT_FAMILY = "'Noto Sans CJK SC', 'Noto Sans', sans-serif"
INK, SOFT, MUTED, GRID = "#1f3a5f", "#3d4654", "#6b7280", "#c9ced6"
TOP = 24
LABEL_SIZE, SUB_SIZE = 12.0, 11.0
LINE = 15  # baseline to baseline of the labels
PLOT_ROW = 22  # the whisker's own line under its labels
VALUE_WIDTH = 170
WEB_WIDTH = 600


@dataclass(frozen=True)
class ForestRow:
    """One hazard ratio of one cited trial, for the option its experimental arm tested."""

    option: OptionCode
    option_name: str
    option_short: str
    evidence_id: str
    trial: str
    comparison: str
    endpoint: str
    primary: bool
    hr: float
    ci: tuple[float, float] | None
    verified: bool


def forest_rows(assessment: Assessment, kb: KnowledgeBase, lang: str) -> list[ForestRow]:
    """Every treatment effect cited for a proposed option, in rank order, primary first."""
    rows: list[ForestRow] = []
    for rec in sorted(assessment.recommendations, key=lambda r: r.rank):
        short = kb.options[rec.option].option.short(lang)
        for ref in rec.evidence:
            record = kb.evidence[ref.id]
            for estimate in effect_estimates(record, rec.option):
                endpoint = estimate.endpoint
                rows.append(
                    ForestRow(
                        option=rec.option,
                        option_name=rec.name,
                        option_short=short,
                        evidence_id=record.id,
                        trial=record.short_name,
                        comparison=estimate.comparison(lang),
                        endpoint=endpoint.name(lang),
                        primary=endpoint.primary,
                        hr=estimate.hr,
                        ci=endpoint.hr_ci,
                        verified=record.verified and endpoint.status == "verified",
                    )
                )
    return rows


def format_ratio(value: float) -> str:
    """Two decimals, or the source's own precision when it gives more (0.276 stays 0.276)."""
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if round(value, 2) == value else f"{value:.3f}"


def hr_label(row: ForestRow) -> str:
    if row.ci is None:
        return f"HR {format_ratio(row.hr)}"
    return f"HR {format_ratio(row.hr)} ({format_ratio(row.ci[0])}–{format_ratio(row.ci[1])})"


def _ticks(low: float, high: float) -> list[float]:
    """The 1-2-5 ticks spanning 0.1..2 and, beyond that, whatever the data reach."""
    candidates = [mantissa * 10.0**exponent for exponent in range(-3, 4) for mantissa in (1, 2, 5)]
    first = max([t for t in candidates if t <= min(low, 0.1)], default=candidates[0])
    last = min([t for t in candidates if t >= max(high, 2.0)], default=candidates[-1])
    return [t for t in candidates if first <= t <= last]


def _text_width(text: str, size: float) -> float:
    """Rough advance width: the SVG is laid out without a font engine."""
    return sum(size * (1.0 if ord(ch) >= 0x2E80 else 0.58) for ch in text)


def wrap(text: str, size: float, width: float) -> list[str]:
    """Lines no wider than `width`, broken at spaces (anywhere in CJK text); nothing is cut."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        if line and _text_width(line + token, size) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    return [*lines, line.rstrip()] if line.strip() else lines


def _tokens(text: str) -> list[str]:
    """Words with their leading space; each CJK character is a token of its own."""
    tokens: list[str] = []
    for ch in text:
        if ord(ch) >= 0x2E80 or not tokens or ch == " " or ord(tokens[-1][-1]) >= 0x2E80:
            tokens.append(ch)
        else:
            tokens[-1] += ch
    return tokens


def _text(x: float, y: float, text: str, size: float, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}"{extra}>{escape(text)}</text>'


def _open_svg(width: int, height: float, lang: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
        f'viewBox="0 0 {width} {height:.0f}" role="img" lang="{escape(lang)}" '
        f'font-family="{FONT_FAMILY}" fill="{INK}">'
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1) -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
        f'stroke="{stroke}" stroke-width="{width}"/>'
    )


def _labels(
    row: ForestRow, lang: str, width: float, same_trial: bool
) -> list[tuple[str, float, str, bool]]:
    """(text, size, colour, bold) per label line of a row: who and what was compared (once per
    trial: its next rows say only their endpoint), then the endpoint."""
    mark = "" if row.verified else " †"
    endpoint = row.endpoint + (word("forest_primary", lang) if row.primary else "")
    if row.ci is None:
        endpoint += word("forest_no_ci", lang)
    parts = [(endpoint, SUB_SIZE, INK, False)]
    if not same_trial:
        parts[:0] = [
            (f"{row.option_short} — {row.trial}{mark}", LABEL_SIZE, INK, True),
            (row.comparison, SUB_SIZE, SOFT, False),
        ]
    return [(line, size, ink, bold) for text, size, ink, bold in parts
            for line in wrap(text, size, width)]  # fmt: skip


def _row(
    row: ForestRow, top: float, labels: list[tuple[str, float, str, bool]],
    x: Callable[[float], float], ticks: list[float], value_x: float,
) -> str:  # fmt: skip
    """One estimate: its labels, then its own stretch of the axis grid, a CI whisker with caps
    (when given) and a square at the HR."""
    ink = INK if row.verified else MUTED
    mark = "" if row.verified else " †"
    title = f"{row.option_name} — {row.trial}, {row.comparison} ({row.endpoint}): {hr_label(row)}"
    out = [f"<g><title>{escape(title + mark)}</title>"]
    for i, (text, size, colour, bold) in enumerate(labels):
        attrs = {"fill": colour, **({"font_weight": "bold"} if bold else {})}
        out.append(_text(0, top + LINE * (i + 1) - 3, text, size, **attrs))
    cy = top + LINE * len(labels) + PLOT_ROW / 2
    half = PLOT_ROW / 2
    out += [_line(x(t), cy - half, x(t), cy + half, GRID, 0.5) for t in ticks]
    out.append(_line(x(1), cy - half, x(1), cy + half, INK))
    dash = "" if row.verified else ' stroke-dasharray="3 2"'
    if row.ci is not None:
        low, high = x(row.ci[0]), x(row.ci[1])
        out += [
            f'<line x1="{low:.1f}" y1="{cy:.1f}" x2="{high:.1f}" y2="{cy:.1f}" '
            f'stroke="{ink}" stroke-width="1.5"{dash}/>',
            _line(low, cy - 4, low, cy + 4, ink, 1.5),
            _line(high, cy - 4, high, cy + 4, ink, 1.5),
        ]
    fill = INK if row.verified else "url(#netlm-forest-hatch)"
    hr = x(row.hr)
    out += [
        f'<rect x="{hr - 5:.1f}" y="{cy - 5:.1f}" width="10" height="10" '
        f'fill="{fill}" stroke="{ink}" stroke-width="1"/>',
        _text(value_x, cy + 4, hr_label(row) + mark, LABEL_SIZE, fill=ink),
        "</g>",
    ]
    return "".join(out)


def forest_svg(rows: list[ForestRow], lang: str, width: int = WEB_WIDTH) -> str:
    """The forest plot as standalone SVG markup; every text is XML-escaped."""
    if not rows:
        message = _text(8, 25, word("forest_empty", lang), LABEL_SIZE, fill=MUTED)
        return f"{_open_svg(width, 40, lang)}{message}</svg>"

    value_x = width - VALUE_WIDTH
    x0, x1 = 16.0, value_x - 16
    ends = [v for r in rows for v in (r.ci or (r.hr, r.hr))]
    ticks = _ticks(min(ends), max(ends))
    lo, hi = math.log(ticks[0]), math.log(ticks[-1])

    def x(value: float) -> float:
        return x0 + (math.log(value) - lo) / (hi - lo) * (x1 - x0)

    drawn: list[str] = []
    top = float(TOP)
    for i, row in enumerate(rows):
        previous = rows[i - 1] if i else None
        same = previous is not None and (previous.option, previous.evidence_id) == (
            row.option,
            row.evidence_id,
        )
        labels = _labels(row, lang, width, same)
        drawn.append(_row(row, top, labels, x, ticks, value_x))
        top += LINE * len(labels) + PLOT_ROW + 8
    bottom = top
    unverified = not all(r.verified for r in rows)
    out = [
        _open_svg(width, bottom + (64 if unverified else 46), lang),
        '<defs><pattern id="netlm-forest-hatch" width="4" height="4" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="4" height="4" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="4" stroke="{MUTED}" stroke-width="2"/></pattern></defs>',
        _text(value_x, TOP - 8, word("hr_ci_header", lang), SUB_SIZE, fill=SOFT),
        *drawn,
        _line(x0, bottom, x1, bottom, INK),
        *(_line(x(t), bottom, x(t), bottom + 4, INK) for t in ticks),
        *(_text(x(t), bottom + 16, f"{t:g}", SUB_SIZE, text_anchor="middle") for t in ticks),
        _text(x(1), bottom + 34, word("forest_caption", lang), SUB_SIZE, text_anchor="middle"),
    ]
    if unverified:
        out.append(_text(x0, bottom + 54, word("forest_unverified", lang), SUB_SIZE, fill=SOFT))
    out.append("</svg>")
    return "".join(out)
