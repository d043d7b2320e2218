"""Kaplan–Meier plots with the numbers at risk under the time axis (PNG or SVG).

Drawn on a bare matplotlib Figure (Agg canvas), never through pyplot's global state, so plotting
works headless and in any thread.
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from netlm.survival.errors import SurvivalInputError
from netlm.survival.km import KaplanMeier

FORMATS = {".png": "png", ".svg": "svg"}


def plot_format(path: Path) -> str:
    """`png` or `svg` from the file name; anything else is refused before any work is done."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SurvivalInputError([f"--plot {path}: the file name must end in .png or .svg"])
    return fmt


def plot_km(
    km: KaplanMeier,
    path: Path,
    *,
    time_label: str = "time",
    group_label: str | None = None,
    note: str | None = None,
) -> None:
    """Step curves with shaded confidence bands; the table under them counts who is at risk."""
    fmt = plot_format(path)
    curves = km.curves
    end = km.max_time
    ticks = [float(x) for x in MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]).tick_values(0, end)]
    ticks = [x for x in ticks if 0 <= x <= end]
    at_risk = km.number_at_risk(ticks)
    rows = len(curves)
    figure = Figure(figsize=(8, 5.2 + 0.3 * rows), layout="constrained")
    grid = figure.add_gridspec(2, 1, height_ratios=[5, 0.4 + 0.25 * rows])
    axes = figure.add_subplot(grid[0])
    table = figure.add_subplot(grid[1], sharex=axes)
    colours = [f"C{i % 10}" for i in range(rows)]
    for curve, colour in zip(curves, colours, strict=True):
        x = np.concatenate([[0.0], curve.time, [end]])
        y = np.concatenate([[1.0], curve.survival, [curve.survival[-1] if len(curve.time) else 1]])
        lower = np.concatenate([[1.0], curve.lower, [curve.lower[-1] if len(curve.time) else 1]])
        upper = np.concatenate([[1.0], curve.upper, [curve.upper[-1] if len(curve.time) else 1]])
        label = curve.group if group_label is None else f"{group_label} = {curve.group}"
        axes.step(x, y, where="post", color=colour, label=label, linewidth=1.6)
        axes.fill_between(x, lower, upper, step="post", color=colour, alpha=0.15, linewidth=0)
    axes.set_ylim(0, 1.02)
    axes.set_xlim(0, end * 1.02 if end > 0 else 1)
    axes.set_ylabel("survival probability")
    axes.set_xticks(ticks)
    axes.tick_params(labelbottom=True)
    axes.set_xlabel(time_label)
    axes.grid(alpha=0.3)
    if rows > 1 or group_label is not None:
        axes.legend(loc="best", frameon=False)
    ci = f"{round(km.conf_level * 100)} % CI, {km.conf_type.value}"
    axes.set_title(f"Kaplan–Meier ({ci})" + (f" — {note}" if note else ""), fontsize=11)
    table.set_title("number at risk", fontsize=9, loc="left")
    table.set_ylim(-0.5, rows - 0.5)
    table.set_yticks(range(rows), [curve.group for curve in reversed(curves)], fontsize=8)
    for i, (curve, colour) in enumerate(zip(curves, colours, strict=True)):
        y_row = rows - 1 - i
        for x_tick, count in zip(ticks, at_risk[curve.group], strict=True):
            table.text(
                x_tick, y_row, str(count), ha="center", va="center", fontsize=8, color=colour
            )
    table.tick_params(axis="x", labelbottom=False, length=0)
    table.tick_params(axis="y", length=0, pad=22)
    for side in ("top", "right", "bottom", "left"):
        table.spines[side].set_visible(False)
    figure.savefig(path, format=fmt, dpi=150)
