"""Bar charts drawn as server-side SVG: no JavaScript, no CDN, prints as it shows.

One horizontal bar per row, its label on the left and its value at its end: every label
has a line of its own (none can overlap), the chart fits a phone's width without
scrolling, and a chart shows one figure, the one its title names. The geometry is
computed here; ``templates/coordinator/_chart.html`` draws it with a <title> and <desc>,
and every page shows the same figures in a table beside the chart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from flask_babel import gettext as _

from .exports import month_label
from .services.stats import Row

WIDTH = 400  # SVG units; the page scales the chart to its column
LABEL_WIDTH = 112  # the row labels, right-aligned against the plot
VALUE_ROOM = 40  # beyond the longest bar, for its value
ROW_HEIGHT = 26
BAR_HEIGHT = 18
TOP, AXIS_HEIGHT = 4, 22


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: float  # top of the bar
    width: float


@dataclass
class Chart:
    title: str
    description: str
    width: int
    height: int
    plot_left: int = LABEL_WIDTH
    plot_right: int = WIDTH - VALUE_ROOM
    bar_height: int = BAR_HEIGHT
    axis_y: float = 0
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, int]] = field(default_factory=list)  # (x, value)


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


def bar_chart(values: list[int], labels: list[str], *, title: str, description: str) -> Chart:
    """Lay out one horizontal bar per value, from the top down, on a shared scale."""
    top, step = nice_maximum(max(values, default=0))
    chart = Chart(
        title=title,
        description=description,
        width=WIDTH,
        height=TOP + ROW_HEIGHT * max(len(values), 1) + AXIS_HEIGHT,
    )
    chart.axis_y = TOP + ROW_HEIGHT * len(values)
    scale = (chart.plot_right - chart.plot_left) / top
    chart.ticks = [(round(chart.plot_left + v * scale, 2), v) for v in range(0, top + 1, step)]
    for index, (value, label) in enumerate(zip(values, labels, strict=True)):
        y = TOP + index * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        chart.bars.append(Bar(label, value, round(y, 2), round(value * scale, 2)))
    return chart


def month_chart(rows: list[Row], title: str) -> Chart:
    """Return the chart of uses (visits) per month: one bar per month of the range."""
    one_year = len({row.key[:4] for row in rows}) <= 1
    labels = [month_label(row.key, "LLLL" if one_year else "LLL yyyy") for row in rows]
    description = "; ".join(
        _("%(month)s: %(uses)s uses", month=month_label(row.key), uses=row.visits) for row in rows
    )
    return bar_chart([row.visits for row in rows], labels, title=title, description=description)
