"""Column charts as inline SVG, drawn on the server: no JavaScript, nothing fetched from elsewhere.

The overview page (:mod:`calls.admin.overview`) draws its charts with
:func:`column_chart`.  Every piece of text is escaped here, so labels that
come from outside (employee ids, error codes) show as text, and the result is
well-formed XML.  Sizes are in viewBox units: the picture scales to the width
of the page and its text with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 1200
HEIGHT = 300
MARGIN_LEFT = 84  # room for "10 000 000" beside the axis
MARGIN_RIGHT = 84
PLOT_TOP = 52  # under the legend and the axis titles
PLOT_BOTTOM = HEIGHT - 30  # above the day labels
FONT_SIZE = 13
# One label per this many units at most, so that "01.10" never touches its neighbour.
LABEL_SPACING = 52
# Roughly how wide one character of the legend is, to place the next entry.
CHAR_WIDTH = 7.2
GRID_COLOUR = "#d9d9d9"
TEXT_COLOUR = "#555"


def plain_number(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


@dataclass(frozen=True)
class Series:
    """One thing measured per column: bars (drawn over one another, each narrower) or a line."""

    name: str
    values: Sequence[float | None]
    colour: str
    line: bool = False
    right_axis: bool = False
    text: Callable[[float | None], str] = plain_number


@dataclass(frozen=True)
class Axis:
    title: str
    tick: Callable[[float], str]
    top: float | None = None  # a fixed maximum, e.g. 100 for percentages
    whole: bool = False  # counts: ticks at whole numbers only


@dataclass(frozen=True)
class Guide:
    """A horizontal reference line across the plot, such as a budget."""

    name: str
    value: float
    colour: str
    right_axis: bool = False


def nice_step(rough: float) -> float:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least ``rough``."""
    if rough <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough * (1 - 1e-9))


def nice_top(value: float, *, whole: bool = False) -> tuple[float, int]:
    """An axis maximum at or above ``value`` and its number of tick steps (1–4), each a :func:`nice_step`.

    ``whole`` keeps the steps whole numbers, for counts: a day with one call has ticks 0 and 1, not 0.25.
    """
    if value <= 0:
        return 4.0, 4
    step = nice_step(value / 4)
    if whole:
        step = max(1.0, math.ceil(step))
    ticks = max(1, math.ceil(value / step - 1e-9))
    return step * ticks, ticks


def _attributes(**values: object) -> str:
    return " ".join(f'{name.rstrip("_").replace("_", "-")}="{escape(value)}"' for name, value in values.items())


def _tag(name: str, content: str = "", **attributes: object) -> str:
    opening = f"<{name} {_attributes(**attributes)}" if attributes else f"<{name}"
    return f"{opening}>{content}</{name}>" if content else f"{opening}/>"


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


class _Scale:
    def __init__(self, top: float) -> None:
        self.top = top

    def y(self, value: float) -> float:
        return PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * max(0.0, value) / self.top


def _highest(series: Sequence[Series], guides: Sequence[Guide], right: bool) -> float:
    return max(
        [0.0]
        + [float(v) for s in series if s.right_axis == right for v in s.values if v is not None]
        + [g.value for g in guides if g.right_axis == right]
    )


def column_chart(
    *,
    title: str,
    labels: Sequence[str],
    headings: Sequence[str],
    series: Sequence[Series],
    left: Axis,
    right: Axis | None = None,
    guides: Sequence[Guide] = (),
) -> SafeString:
    """An ``<svg>`` with one column per label: bars, lines, a legend and, on hover, each column's figures.

    ``labels`` go under the columns (thinned out when they would touch),
    ``headings`` head each column's tooltip (``<title>``), e.g. the full date.
    """
    count = len(labels)
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    slot = plot_width / max(count, 1)
    if left.top is not None:
        left_top, ticks = left.top, 4
    else:
        left_top, ticks = nice_top(_highest(series, guides, False), whole=left.whole)
    scales = {False: _Scale(left_top)}
    if right is not None:
        highest = _highest(series, guides, True)
        scales[True] = _Scale(right.top if right.top is not None else nice_step(highest / ticks) * ticks)
    parts = [_tag("title", escape(title))]
    parts += _grid(ticks, left, scales[False], right, scales.get(True))
    bars = [s for s in series if not s.line]
    for depth, bar_series in enumerate(bars):
        parts += _bars(bar_series, scales[bar_series.right_axis], slot, depth, len(bars))
    for guide in guides:
        y = scales[guide.right_axis].y(guide.value)
        parts.append(
            _tag(
                "line",
                x1=MARGIN_LEFT,
                x2=WIDTH - MARGIN_RIGHT,
                y1=_number(y),
                y2=_number(y),
                stroke=guide.colour,
                stroke_width=2,
                stroke_dasharray="8 5",
            )
        )
        parts.append(
            _tag(
                "text",
                escape(guide.name),
                x=WIDTH - MARGIN_RIGHT - 6,
                y=_number(y - 6),
                text_anchor="end",
                fill=guide.colour,
                font_weight="bold",
                # A white outline keeps the label readable over the bars it crosses.
                stroke="#fff",
                stroke_width=4,
                paint_order="stroke",
            )
        )
    for line_series in (s for s in series if s.line):
        parts += _line(line_series, scales[line_series.right_axis], slot, dots=count <= 62)
    parts += _labels(labels, slot)
    parts += _legend(series, guides)
    parts += _hover(headings, series, slot)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mm-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" font-size="{FONT_SIZE}">{"".join(parts)}</svg>'
    )
    return mark_safe(svg)  # noqa: S308 - every text and attribute above went through escape()


def _grid(ticks: int, left: Axis, scale: _Scale, right: Axis | None, right_scale: _Scale | None) -> list[str]:
    """Grid lines at the ticks of the left axis; the right axis labels the same lines with its own values."""
    parts = [
        _tag("text", escape(left.title), x=4, y=PLOT_TOP - 12, fill=TEXT_COLOUR, font_weight="bold"),
    ]
    for index in range(ticks + 1):
        value = scale.top * index / ticks
        y = _number(scale.y(value))
        parts.append(
            _tag("line", x1=MARGIN_LEFT, x2=WIDTH - MARGIN_RIGHT, y1=y, y2=y, stroke=GRID_COLOUR, stroke_width=1)
        )
        parts.append(
            _tag(
                "text",
                escape(left.tick(value)),
                x=MARGIN_LEFT - 6,
                y=y,
                text_anchor="end",
                dominant_baseline="middle",
                fill=TEXT_COLOUR,
            )
        )
        if right is not None and right_scale is not None:
            right_value = right_scale.top * index / ticks
            parts.append(
                _tag(
                    "text",
                    escape(right.tick(right_value)),
                    x=WIDTH - MARGIN_RIGHT + 6,
                    y=y,
                    dominant_baseline="middle",
                    fill=TEXT_COLOUR,
                )
            )
    if right is not None:
        parts.append(
            _tag(
                "text",
                escape(right.title),
                x=WIDTH - 4,
                y=PLOT_TOP - 12,
                text_anchor="end",
                fill=TEXT_COLOUR,
                font_weight="bold",
            )
        )
    return parts


def _bars(series: Series, scale: _Scale, slot: float, depth: int, layers: int) -> list[str]:
    """The first series widest, each next one narrower and in front: "of which" reads at a glance."""
    width = max(1.0, slot * (0.8 - 0.35 * depth / max(layers - 1, 1)) if layers > 1 else slot * 0.7)
    parts = []
    for index, value in enumerate(series.values):
        if not value:
            continue
        top = scale.y(float(value))
        x = MARGIN_LEFT + slot * index + (slot - width) / 2
        parts.append(
            _tag(
                "rect",
                x=_number(x),
                y=_number(top),
                width=_number(width),
                height=_number(max(PLOT_BOTTOM - top, 0.5)),
                fill=series.colour,
            )
        )
    return parts


def _line(series: Series, scale: _Scale, slot: float, *, dots: bool) -> list[str]:
    """A polyline through the column centres; a column without a value breaks it."""
    runs: list[list[tuple[float, float]]] = [[]]
    for index, value in enumerate(series.values):
        if value is None:
            runs.append([])
            continue
        runs[-1].append((MARGIN_LEFT + slot * (index + 0.5), scale.y(float(value))))
    parts = []
    for points in (run for run in runs if run):
        path = " ".join(f"{_number(x)},{_number(y)}" for x, y in points)
        parts.append(_tag("polyline", points=path, fill="none", stroke=series.colour, stroke_width=2.5))
        if dots or len(points) == 1:
            parts += [_tag("circle", cx=_number(x), cy=_number(y), r=3, fill=series.colour) for x, y in points]
    return parts


def _labels(labels: Sequence[str], slot: float) -> list[str]:
    every = max(1, math.ceil(LABEL_SPACING / slot))
    return [
        _tag(
            "text",
            escape(label),
            x=_number(MARGIN_LEFT + slot * (index + 0.5)),
            y=HEIGHT - 10,
            text_anchor="middle",
            fill=TEXT_COLOUR,
        )
        for index, label in enumerate(labels)
        if index % every == 0
    ]


def _legend(series: Sequence[Series], guides: Sequence[Guide]) -> list[str]:
    parts: list[str] = []
    x: float = MARGIN_LEFT
    entries = [(s.name, s.colour, s.line) for s in series] + [(g.name, g.colour, True) for g in guides]
    for name, colour, is_line in entries:
        if is_line:
            parts.append(_tag("line", x1=x, x2=x + 18, y1=14, y2=14, stroke=colour, stroke_width=3))
        else:
            parts.append(_tag("rect", x=x, y=8, width=18, height=12, fill=colour))
        parts.append(_tag("text", escape(name), x=x + 24, y=14, dominant_baseline="middle", fill=TEXT_COLOUR))
        x += 24 + len(name) * CHAR_WIDTH + 24
    return parts


def _hover(headings: Sequence[str], series: Sequence[Series], slot: float) -> list[str]:
    """A transparent column over each slot whose ``<title>`` lists every figure of that column."""
    parts = []
    for index, heading in enumerate(headings):
        lines = [heading, *(f"{s.name}: {s.text(s.values[index])}" for s in series)]
        parts.append(
            _tag(
                "rect",
                _tag("title", escape("\n".join(lines))),
                class_="mm-chart-column",
                x=_number(MARGIN_LEFT + slot * index),
                y=PLOT_TOP,
                width=_number(slot),
                height=PLOT_BOTTOM - PLOT_TOP,
                fill="#000",
                fill_opacity=0,
                pointer_events="all",
            )
        )
    return parts
