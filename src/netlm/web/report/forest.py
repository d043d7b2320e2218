"""A forest plot of the hazard ratios behind the proposed options.

The board weighs options by the size and certainty of their effect; a plot of every cited hazard
ratio with its 95% CI shows that at a glance. The SVG is self-contained (no scripts, no external
resources) so the same markup serves the web page and the PDF.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from netlm.knowledge.load import KnowledgeBase
from netlm.model.assessment import Assessment
from netlm.model.codes import OptionCode
from netlm.web.report.words import word

FONT_FAMILY = "'Noto Sans CJK SC', 'Noto Sans', sans-serif"
INK, MUTED, GRID = "#1f3a5f", "#8a8f98", "#c9ced6"
ROW_HEIGHT = 34
TOP = 24
LABEL_SIZE, SUB_SIZE = 11.0, 9.5
VALUE_WIDTH = 160


@dataclass(frozen=True)
class ForestRow:
    """One hazard ratio of one cited trial for one proposed option."""

    option: OptionCode
    option_name: str
    option_short: str
    evidence_id: str
    trial: str
    endpoint: str
    hr: float
    ci_low: float
    ci_high: float
    verified: bool


def forest_rows(assessment: Assessment, kb: KnowledgeBase, lang: str) -> list[ForestRow]:
    """Every hazard ratio with a 95% CI cited for a proposed option, in rank order."""
    rows: list[ForestRow] = []
    for rec in sorted(assessment.recommendations, key=lambda r: r.rank):
        short = kb.options[rec.option].option.short(lang)
        for ref in rec.evidence:
            record = kb.evidence[ref.id]
            for endpoint in record.endpoints:
                # One convention on one axis: HRs reported control-over-treatment are left out.
                if (
                    endpoint.hr is None
                    or endpoint.hr_ci is None
                    or endpoint.hr_direction != "treatment_vs_control"
                ):
                    continue
                rows.append(
                    ForestRow(
                        option=rec.option,
                        option_name=rec.name,
                        option_short=short,
                        evidence_id=record.id,
                        trial=record.short_name,
                        endpoint=endpoint.name(lang),
                        hr=endpoint.hr,
                        ci_low=endpoint.hr_ci[0],
                        ci_high=endpoint.hr_ci[1],
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
    return f"HR {format_ratio(row.hr)} ({format_ratio(row.ci_low)}–{format_ratio(row.ci_high)})"


def _ticks(low: float, high: float) -> list[float]:
    """The 1-2-5 ticks spanning 0.1..2 and, beyond that, whatever the data reach."""
    candidates = [mantissa * 10.0**exponent for exponent in range(-3, 4) for mantissa in (1, 2, 5)]
    first = max([t for t in candidates if t <= min(low, 0.1)], default=candidates[0])
    last = min([t for t in candidates if t >= max(high, 2.0)], default=candidates[-1])
    return [t for t in candidates if first <= t <= last]


def _text_width(text: str, size: float) -> float:
    """Rough advance width: the SVG is laid out without a font engine."""
    return sum(size * (1.0 if ord(ch) >= 0x2E80 else 0.56) for ch in text)


def _fit(text: str, size: float, width: float) -> str:
    if _text_width(text, size) <= width:
        return text
    while text and _text_width(text + "…", size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _text(x: float, y: float, text: str, size: float, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}"{extra}>{escape(text)}</text>'


def _open_svg(width: int, height: int, lang: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" lang="{escape(lang)}" '
        f'font-family="{FONT_FAMILY}" fill="{INK}">'
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1) -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
        f'stroke="{stroke}" stroke-width="{width}"/>'
    )


def _row(
    row: ForestRow, cy: float, x: Callable[[float], float], label_width: float, value_x: float
) -> str:
    """One estimate: labels, CI whisker with caps, and a square at the HR."""
    ink = INK if row.verified else MUTED
    mark = "" if row.verified else " †"
    title = f"{row.option_name} — {row.trial} ({row.endpoint}): {hr_label(row)}{mark}"
    heading = _fit(f"{row.option_short} — {row.trial}{mark}", LABEL_SIZE, label_width)
    dash = "" if row.verified else ' stroke-dasharray="3 2"'
    low, high, hr = x(row.ci_low), x(row.ci_high), x(row.hr)
    fill = INK if row.verified else "url(#netlm-forest-hatch)"
    return "".join(
        [
            f"<g><title>{escape(title)}</title>",
            _text(0, cy - 3, heading, LABEL_SIZE, fill=ink, font_weight="bold"),
            _text(0, cy + 10, _fit(f"({row.endpoint})", SUB_SIZE, label_width), SUB_SIZE, fill=ink),
            f'<line x1="{low:.1f}" y1="{cy:.1f}" x2="{high:.1f}" y2="{cy:.1f}" '
            f'stroke="{ink}" stroke-width="1.5"{dash}/>',
            _line(low, cy - 4, low, cy + 4, ink, 1.5),
            _line(high, cy - 4, high, cy + 4, ink, 1.5),
            f'<rect x="{hr - 5:.1f}" y="{cy - 5:.1f}" width="10" height="10" '
            f'fill="{fill}" stroke="{ink}" stroke-width="1"/>',
            _text(value_x, cy + 4, hr_label(row) + mark, LABEL_SIZE, fill=ink),
            "</g>",
        ]
    )


def forest_svg(rows: list[ForestRow], lang: str, width: int = 720) -> str:
    """The forest plot as standalone SVG markup; every text is XML-escaped."""
    if not rows:
        message = _text(8, 25, word("forest_empty", lang), LABEL_SIZE, fill=MUTED)
        return f"{_open_svg(width, 40, lang)}{message}</svg>"

    label_width = round(width * 0.4)
    value_x = width - VALUE_WIDTH
    x0, x1 = label_width + 16, value_x - 16
    ticks = _ticks(min(r.ci_low for r in rows), max(r.ci_high for r in rows))
    lo, hi = math.log(ticks[0]), math.log(ticks[-1])

    def x(value: float) -> float:
        return x0 + (math.log(value) - lo) / (hi - lo) * (x1 - x0)

    bottom = TOP + len(rows) * ROW_HEIGHT
    unverified = not all(r.verified for r in rows)
    out = [
        _open_svg(width, bottom + (62 if unverified else 44), lang),
        '<defs><pattern id="netlm-forest-hatch" width="4" height="4" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="4" height="4" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="4" stroke="{MUTED}" stroke-width="2"/></pattern></defs>',
        _text(value_x, TOP - 8, word("hr_ci_header", lang), SUB_SIZE, fill=MUTED),
        *(_line(x(t), TOP - 4, x(t), bottom, GRID, 0.5) for t in ticks),
        _line(x(1), TOP - 4, x(1), bottom, INK),
        *(
            _row(row, TOP + (i + 0.5) * ROW_HEIGHT, x, label_width, value_x)
            for i, row in enumerate(rows)
        ),
        _line(x0, bottom, x1, bottom, INK),
        *(_line(x(t), bottom, x(t), bottom + 4, INK) for t in ticks),
        *(_text(x(t), bottom + 15, f"{t:g}", SUB_SIZE, text_anchor="middle") for t in ticks),
        _text(x(1), bottom + 32, word("forest_caption", lang), SUB_SIZE, text_anchor="middle"),
    ]
    if unverified:
        out.append(_text(x0, bottom + 52, word("forest_unverified", lang), SUB_SIZE, fill=MUTED))
    out.append("</svg>")
    return "".join(out)
