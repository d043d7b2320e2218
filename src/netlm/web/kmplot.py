"""Kaplan–Meier curves as inline SVG for the outcomes page, numbers at risk under the time axis.

Not `netlm.survival.plotting`: that draws with matplotlib to a file, its numbers at risk at 8 pt
and its groups told apart by colour alone. Here, as in the forest plot, text is 12 px and never
scaled down (the page scrolls the plot instead), each group has its own colour and dash pattern,
a censored patient is a short upright stroke on the curve, and the SVG is self-contained (no
scripts, no external resources).
"""

from collections.abc import Sequence
from html import escape
from typing import Protocol

from netlm.web.report.forest import FONT_FAMILY, GRID, INK, MUTED

# Okabe–Ito inspired, dark enough for text contrast; the dash pattern tells them apart in grey.
STYLES = {
    "concordant": ("#0b5394", ""),
    "discordant": ("#a8321a", "8 4"),
    "no_decision": ("#4a4a4a", "2 3"),
}
WIDTH, LEFT, RIGHT, TOP, PLOT_HEIGHT = 660, 140, 24, 44, 240
SIZE, ROW = 12, 18


class Curve(Protocol):
    """What the plot reads of a group's curve (`netlm.web.pages.outcomes.GroupCurve`)."""

    @property
    def group(self) -> str: ...
    @property
    def times(self) -> list[float]: ...
    @property
    def survival(self) -> list[float]: ...
    @property
    def at_risk(self) -> list[int]: ...
    @property
    def last_time(self) -> float: ...
    @property
    def censored(self) -> list[float]: ...


def km_svg(
    curves: Sequence[Curve],
    ticks: Sequence[float],
    end: float,
    names: dict[str, str],
    lang: str,
    title: str,
) -> str:
    """Step curves from 1 at time 0, a legend above them and the numbers at risk below;
    `names` holds each group's name, the time axis' title (`months`) and the table's (`at_risk`)."""
    span = max(end, ticks[-1] if ticks else 0.0, 1e-9)
    right = WIDTH - RIGHT

    def x(t: float) -> float:
        return LEFT + (right - LEFT) * t / span

    def y(s: float) -> float:
        return TOP + PLOT_HEIGHT * (1 - s)

    bottom = TOP + PLOT_HEIGHT
    table = bottom + 60  # the numbers-at-risk heading; a row per group under it
    height = table + ROW * len(curves) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" lang="{escape(lang)}" font-family="{FONT_FAMILY}" '
        f'fill="{INK}"><title>{escape(title)}</title>'
    ]
    for i, curve in enumerate(curves):  # legend
        colour, dash = STYLES[curve.group]
        left = LEFT + i * 170
        parts.append(_line(left, 16, left + 28, 16, colour, dash))
        parts.append(_text(left + 34, 20, names[curve.group]))
    for level in (0, 0.25, 0.5, 0.75, 1):
        parts.append(_line(LEFT, y(level), right, y(level), GRID, ""))
        parts.append(_text(LEFT - 8, y(level) + 4, f"{level:.0%}", anchor="end"))
    parts.append(_line(LEFT, bottom, right, bottom, MUTED, ""))
    for t in ticks:
        parts.append(_line(x(t), bottom, x(t), bottom + 4, MUTED, ""))
        parts.append(_text(x(t), bottom + 18, f"{t:g}", anchor="middle"))
    for curve in curves:
        colour, dash = STYLES[curve.group]
        steps = [f"M{x(0):.1f},{y(1):.1f}"]
        for t, s in zip(curve.times, curve.survival, strict=True):
            steps.append(f"H{x(t):.1f}V{y(s):.1f}")
        steps.append(f"H{x(max(curve.last_time, 0.0)):.1f}")
        style = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<path d="{"".join(steps)}" fill="none" stroke="{colour}" stroke-width="2.2"{style}/>'
        )
        heights = _at(curve, curve.censored)
        marks = "".join(f"M{x(t):.1f},{y(s) - 5:.1f}v10"
                        for t, s in zip(curve.censored, heights, strict=True))  # fmt: skip
        if marks:  # a censored patient: a short upright stroke on the curve
            parts.append(f'<path class="censored" d="{marks}" fill="none" stroke="{colour}" '
                         'stroke-width="1.5"/>')  # fmt: skip
    parts.append(_text((LEFT + right) / 2, bottom + 36, names["months"], anchor="middle"))
    parts.append(_text(8, table, names["at_risk"], weight="bold"))
    for i, curve in enumerate(curves):
        colour, dash = STYLES[curve.group]
        row = table + ROW * (i + 1)
        parts.append(_line(8, row - 4, 26, row - 4, colour, dash))
        parts.append(_text(32, row, names[curve.group]))
        for t, count in zip(ticks, curve.at_risk, strict=True):
            parts.append(_text(x(t), row, str(count), anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)


def _at(curve: Curve, times: Sequence[float]) -> list[float]:
    """The curve's height at each time (a right-continuous step function)."""
    return [next((s for t, s in zip(curve.times[::-1], curve.survival[::-1], strict=True)
                  if t <= time), 1.0) for time in times]  # fmt: skip


def _text(x: float, y: float, text: str, anchor: str = "start", weight: str = "") -> str:
    bold = f' font-weight="{weight}"' if weight else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{SIZE}" text-anchor="{anchor}"{bold}>'
        f"{escape(text)}</text>"
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, dash: str) -> str:
    style = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
        f'stroke-width="{2.2 if stroke not in (GRID, MUTED) else 1}"{style}/>'
    )
