"""The reports page's charts as server-rendered SVG: coordinates, ticks, labels and the text
alternatives. Every line chart is drawn by one template partial,
templates/reviewqueue/charts.html#line_chart, from a `LineChart`."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reviewqueue.reporting.display import Seconds, bucket_label, start_label
from reviewqueue.reporting.parameters import TrendRequest
from reviewqueue.reporting.reason_trend import ReasonPoint, codes_of
from reviewqueue.reporting.trend import TrendPoint

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 14, 34
TIME_HEIGHT = 180
RATES = (
    # (key, label, colour, dash): dashes tell the lines apart without colour.
    ("approval_rate", "Approval", "#17663a", ""),
    ("modification_rate", "Modification", "#1d4ed8", "7 4"),
    ("rejection_rate", "Rejection", "#b42318", "2 4"),
)
TIMES = (
    ("median_seconds_to_decision", "Median", "#1f2733", ""),
    ("p90_seconds_to_decision", "p90", "#8a5300", "7 4"),
)


# Coordinates are kept as text: a float in a template goes through number localisation,
# which costs more than the rest of the chart together.


@dataclass(frozen=True)
class Dot:
    x: str
    y: str
    text: str


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    colour: str
    dash: str
    segments: list[str]  # SVG polyline points; a bucket without decisions breaks the line
    dots: list[Dot]


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    text: str


@dataclass(frozen=True)
class Tick:
    position: str
    label: str
    anchor: str = "middle"  # the first and last x labels stay inside the chart


@dataclass(frozen=True)
class LineChart:
    """One line chart, as charts.html#line_chart draws it: a legend, the grid with its y
    labels, the x labels, and per series a polyline (broken where a bucket has no value)
    with a dot per value."""

    width: int
    height: int
    left: int
    plot_right: int
    lines: list[Line]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    labelledby: str  # the ids of what names and describes the chart
    desc_id: str
    description: str
    title_id: str = ""  # a <title> inside the chart, when no heading outside names it
    title: str = ""


@dataclass(frozen=True)
class Chart:
    """The report's charts: rates (0-100%) and time to decision as line charts, decisions
    per bucket as bars."""

    width: int
    left: int
    rates: LineChart
    times: LineChart
    bars: list[Bar]
    volume_ticks: list[Tick]


def _x(index: int, count: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return round(LEFT + (span / 2 if count == 1 else index * span / (count - 1)), 1)


def _lines(
    points: Sequence[TrendPoint],
    request: TrendRequest,
    series: Sequence[tuple[str, str, str, str]],
    height: int,
    top_value: float,
    show: Callable[[float], str],
) -> list[Line]:
    """One polyline per series over the buckets, `top_value` at the top of the plot; a
    bucket without a value breaks the line (nothing is drawn as 0)."""
    count, plot_h = len(points), height - TOP - BOTTOM
    lines = []
    for key, label, colour, dash in series:
        segments: list[str] = []
        current: list[str] = []
        dots = []
        for i, p in enumerate(points):
            value = getattr(p.stats, key)
            if value is None:
                if current:
                    segments.append(" ".join(current))
                current = []
                continue
            x = _x(i, count)
            y = round(TOP + (1 - min(value / top_value, 1.0)) * plot_h, 1)
            current.append(f"{x},{y}")
            dots.append(Dot(f"{x}", f"{y}", f"{bucket_label(p, request)}: {label} {show(value)}"))
        if current:
            segments.append(" ".join(current))
        lines.append(Line(key, label, colour, dash, segments, dots))
    return lines


def _nice_ceiling(seconds: float) -> float:
    """A round top for the time axis: a few round steps per power of ten minutes (or
    seconds)."""
    if seconds <= 0:
        return 60.0
    unit = 60.0 if seconds >= 120 else 1.0
    value = seconds / unit
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 1.5, 2, 3, 4, 5, 6, 8, 10):
        if value <= step * power:
            return step * power * unit
    return 10 * power * unit


def rate_chart(points: Sequence[TrendPoint], request: TrendRequest) -> Chart:
    """The report's charts in SVG coordinates: approval, modification and rejection rate per
    bucket (0-100%), decisions per bucket as bars, and median and p90 time to decision."""
    x_ticks = _x_ticks(points, request)
    slowest = max((p.stats.p90_seconds_to_decision or 0 for p in points), default=0)
    description, time_description = _descriptions(points, request, slowest)
    plot_h = HEIGHT - TOP - BOTTOM
    rates = LineChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        plot_right=WIDTH - RIGHT,
        lines=_lines(points, request, RATES, HEIGHT, 1.0, lambda v: f"{v * 100:.1f}%"),
        y_ticks=[
            Tick(f"{TOP + (1 - v / 100) * plot_h:.1f}", f"{v}%") for v in (0, 25, 50, 75, 100)
        ],
        x_ticks=x_ticks,
        labelledby="chart-title chart-desc",
        desc_id="chart-desc",
        description=description,
        title_id="chart-title",
        title=(
            f"Approval, modification and rejection rate per {request.bucket}, "
            f"{request.start.isoformat()} to {request.end.isoformat()}"
        ),
    )
    time_top = _nice_ceiling(slowest)
    time_plot = TIME_HEIGHT - TOP - BOTTOM
    times = LineChart(
        width=WIDTH,
        height=TIME_HEIGHT,
        left=LEFT,
        plot_right=WIDTH - RIGHT,
        lines=_lines(points, request, TIMES, TIME_HEIGHT, time_top, lambda v: str(Seconds(v))),
        y_ticks=[
            Tick(f"{TOP + (1 - f) * time_plot:.1f}", _short_duration(time_top * f))
            for f in (0, 0.5, 1)
        ],
        x_ticks=x_ticks,
        labelledby="time-title time-desc",  # the heading above the chart names it
        desc_id="time-desc",
        description=time_description,
    )
    bars, volume_ticks = _volume(points, request)
    return Chart(
        width=WIDTH, left=LEFT, rates=rates, times=times, bars=bars, volume_ticks=volume_ticks
    )


VOLUME_HEIGHT = 90  # the bars' plot; the volume chart is 110 high (reports/page.html)


def _volume(points: Sequence[TrendPoint], request: TrendRequest) -> tuple[list[Bar], list[Tick]]:
    """Decisions per bucket as bars, the busiest as tall as the plot; and the axis labels."""
    count = len(points)
    peak = max((p.stats.decisions for p in points), default=0)
    slot = (WIDTH - LEFT - RIGHT) / max(count, 1)
    bars = []
    for i, p in enumerate(points):
        h = round(VOLUME_HEIGHT * p.stats.decisions / peak, 1) if peak else 0.0
        x = _x(i, count) - min(slot * 0.35, 14)
        bars.append(
            Bar(
                x=f"{x:.1f}",
                y=f"{10 + VOLUME_HEIGHT - h:.1f}",
                width=f"{min(slot * 0.7, 28):.1f}",
                height=f"{h:.1f}",
                text=f"{bucket_label(p, request)}: {p.stats.decisions} decisions",
            )
        )
    return bars, [Tick("10", str(peak)), Tick(f"{10 + VOLUME_HEIGHT}", "0")]


def _x_ticks(points: Sequence[TrendPoint], request: TrendRequest) -> list[Tick]:
    return _x_ticks_of([bucket_label(p, request) for p in points])


def _x_ticks_of(labels: Sequence[str]) -> list[Tick]:
    """At most 7 evenly spread labels, the first and the last included: they fit without
    overlapping at this width."""
    count = len(labels)
    shown = min(count, 7)
    indices = (
        sorted({round(j * (count - 1) / (shown - 1)) for j in range(shown)}) if shown > 1 else [0]
    )
    x_ticks = []
    for i in indices if count else []:
        anchor = "middle"
        if count > 1 and i == 0:
            anchor = "start"
        elif count > 1 and i == count - 1:
            anchor = "end"
        x_ticks.append(Tick(f"{_x(i, count)}", labels[i], anchor))
    return x_ticks


def _descriptions(
    points: Sequence[TrendPoint], request: TrendRequest, slowest: float
) -> tuple[str, str]:
    """The text alternatives of the rates chart and of the time chart."""
    with_data = [p for p in points if p.stats.decisions]
    if not with_data:
        description = f"{len(points)} {request.bucket} buckets, none with decisions."
        return description, description
    first, last = with_data[0], with_data[-1]
    description = (
        f"{len(points)} {request.bucket} buckets, {len(with_data)} with decisions. "
        f"Approval rate {_pct(first.stats.approval_rate)} on {bucket_label(first, request)}, "
        f"{_pct(last.stats.approval_rate)} on {bucket_label(last, request)}. "
        "The table below gives every value."
    )
    time_description = (
        f"Median time to decision {Seconds(first.stats.median_seconds_to_decision)} on "
        f"{bucket_label(first, request)}, {Seconds(last.stats.median_seconds_to_decision)} on "
        f"{bucket_label(last, request)}; the slowest p90 {Seconds(slowest)}. "
        "The table below gives every value."
    )
    return description, time_description


def _short_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:.3g} h"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


# --- Reason trend: stacked bars -------------------------------------------------------------

REASON_HEIGHT = 200
REASON_SHOWN = 6  # the most frequent codes get a colour each; the rest are stacked as "other"
OTHER = "other codes"
# Told apart by colour and by order (the legend and every bar list the codes in one order,
# bottom up), and each segment names its code and count in its title.
REASON_COLOURS = ("#1d4ed8", "#b42318", "#8a5300", "#17663a", "#6d28d9", "#0e7490", "#7b8aa3")


@dataclass(frozen=True)
class Segment:
    y: str
    height: str
    colour: str
    text: str


@dataclass(frozen=True)
class StackedBar:
    x: str
    width: str
    segments: list[Segment]


@dataclass(frozen=True)
class LegendItem:
    label: str
    colour: str
    total: int


@dataclass(frozen=True)
class StackedChart:
    width: int
    height: int
    left: int
    bars: list[StackedBar]
    legend: list[LegendItem]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    description: str
    rows: list[tuple[str, list[int]]]  # per bucket, its label and the legend's counts


def reason_chart(points: Sequence[ReasonPoint], request: TrendRequest) -> StackedChart:
    """Reason codes given per bucket as stacked bars: the REASON_SHOWN most frequent codes of
    the range each in its colour, the others together on top; the busiest bucket is as tall
    as the plot."""
    codes = codes_of(points)
    shown = codes[:REASON_SHOWN]
    series = [*shown, OTHER] if len(codes) > REASON_SHOWN else shown
    colour = {c: REASON_COLOURS[i % len(REASON_COLOURS)] for i, c in enumerate(series)}
    totals = dict.fromkeys(series, 0)
    count, plot_h = len(points), REASON_HEIGHT - TOP - BOTTOM
    peak = max((p.total for p in points), default=0)
    slot = (WIDTH - LEFT - RIGHT) / max(count, 1)
    bars, rows = [], []
    for i, p in enumerate(points):
        values = {c: p.reasons.get(c, 0) for c in shown}
        if OTHER in series:
            values[OTHER] = p.total - sum(values.values())
        rows.append((start_label(p.bucket, request), [values[c] for c in series]))
        base, segments = float(TOP + plot_h), []
        for code in series:
            n = values[code]
            totals[code] += n
            if not n:
                continue
            h = plot_h * n / peak
            base -= h
            label = start_label(p.bucket, request)
            segments.append(
                Segment(f"{base:.1f}", f"{h:.1f}", colour[code], f"{label}: {code} {n}")
            )
        x = _x(i, count) - min(slot * 0.35, 14)
        bars.append(StackedBar(f"{x:.1f}", f"{min(slot * 0.7, 28):.1f}", segments))
    busiest = max(points, key=lambda p: p.total, default=None)
    description = (
        f"{count} {request.bucket} buckets, none with a reason code."
        if not peak or busiest is None
        else (
            f"{count} {request.bucket} buckets; {sum(totals.values())} reasons given, most "
            f"often {series[0]} ({totals[series[0]]}); the busiest {request.bucket} "
            f"{start_label(busiest.bucket, request)} with {peak}. The table below gives every "
            "value."
        )
    )
    return StackedChart(
        width=WIDTH,
        height=REASON_HEIGHT,
        left=LEFT,
        bars=bars,
        legend=[LegendItem(c, colour[c], totals[c]) for c in series],
        y_ticks=[Tick(f"{TOP}", str(peak)), Tick(f"{TOP + plot_h}", "0")],
        x_ticks=_x_ticks_of([start_label(p.bucket, request) for p in points]),
        description=description,
        rows=rows,
    )
