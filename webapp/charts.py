"""Stacked bar charts drawn as server-side SVG: no JavaScript, no CDN, prints as it shows.

The geometry is computed here; ``templates/coordinator/_chart.html`` draws it with a
<title> and <desc>, and every page shows the same figures in a table beside the chart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from flask_babel import gettext as _

from .exports import month_label

BAR_SLOT = 48  # SVG units per bar
LEFT, TOP, BOTTOM, RIGHT = 56, 12, 36, 8
PLOT_HEIGHT = 220


@dataclass(frozen=True)
class Segment:
    series: str  # CSS class suffix, e.g. "adults"
    label: str
    value: int
    y: float
    height: float


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    width: float
    total: int
    segments: tuple[Segment, ...]


@dataclass
class Chart:
    title: str
    description: str
    width: int
    height: int
    plot_left: int = LEFT
    plot_right: int = 0
    baseline: float = TOP + PLOT_HEIGHT
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, int]] = field(default_factory=list)
    series: list[tuple[str, str]] = field(default_factory=list)


def nice_maximum(value: int) -> tuple[int, int]:
    """Return a round axis maximum at or above the value, and its tick step (4-5 ticks)."""
    if value <= 0:
        return 4, 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step_factor in (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10):
        step = max(1, int(magnitude * step_factor))
        if math.ceil(value / step) <= 5:
            return step * math.ceil(value / step), step
    return value, value  # pragma: no cover - the loop always finds a step


def stacked_bars(
    rows: list[dict],
    labels: list[str],
    series: list[tuple[str, str]],
    *,
    title: str,
    description: str,
) -> Chart:
    """Lay out one bar per row, its series stacked from the bottom (first series lowest)."""
    totals = [sum(row[key] for key, _ in series) for row in rows]
    top, step = nice_maximum(max(totals, default=0))
    chart = Chart(
        title=title,
        description=description,
        width=LEFT + BAR_SLOT * max(len(rows), 1) + RIGHT,
        height=TOP + PLOT_HEIGHT + BOTTOM,
        series=series,
    )
    chart.plot_right = chart.width - RIGHT
    scale = PLOT_HEIGHT / top
    chart.ticks = [(chart.baseline - v * scale, v) for v in range(0, top + 1, step)]
    for index, (row, label, total) in enumerate(zip(rows, labels, totals, strict=True)):
        y = chart.baseline
        segments = []
        for key, name in series:
            height = row[key] * scale
            y -= height
            segments.append(Segment(key, name, row[key], round(y, 2), round(height, 2)))
        x = LEFT + index * BAR_SLOT + BAR_SLOT * 0.15
        chart.bars.append(Bar(label, round(x, 2), BAR_SLOT * 0.7, total, tuple(segments)))
    return chart


def month_chart(rows: list[dict], title: str) -> Chart:
    """Return the chart of uses per month ("YYYY-MM" rows): adults and children stacked."""
    series = [("adults", _("Adults")), ("children", _("Children"))]
    labels = [month_label(row["key"], "LLL yy") for row in rows]
    description = "; ".join(
        _(
            "%(month)s: %(adults)s adults, %(children)s children",
            month=month_label(row["key"]),
            adults=row["adults"],
            children=row["children"],
        )
        for row in rows
    )
    return stacked_bars(rows, labels, series, title=title, description=description)
