"""The reports page and its CSV downloads. Filters are a GET form: htmx swaps `#report`, and
without JavaScript the form simply reloads the page. Admins and auditors see every queue;
anyone else sees their own numbers in their own queues."""

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from reviewqueue.exceptions import DomainError
from reviewqueue.lib.csv_cells import csv_text
from reviewqueue.lib.dates import local_midnight
from reviewqueue.models import User
from reviewqueue.reporting.backlog import backlog
from reviewqueue.reporting.buckets import buckets_for, iso_z
from reviewqueue.reporting.flag_counts import FLAG_KINDS, flag_counts
from reviewqueue.reporting.parameters import TrendRequest, parse_trend_request
from reviewqueue.reporting.readiness import readiness_for
from reviewqueue.reporting.report import Report, report_for
from reviewqueue.reporting.scope import TrendFilters, filters_for, metrics_scope
from reviewqueue.reporting.sections import VersionRow, edited_fields, reasons, reviewers, versions
from reviewqueue.reporting.trend import TREND_FIELDS, TrendPoint, trend_points
from reviewqueue.services.report_limits import report_request_counted
from reviewqueue.web.pages import HtmxHttpRequest, current_user, render_page

PAGE = "reviewqueue/reports/page.html"

# --- The chart: server-rendered SVG -----------------------------------------------------------

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
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    lines: list[Line]  # rates, 0-100%
    bars: list[Bar]  # decisions per bucket
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    volume_ticks: list[Tick]
    time_height: int
    time_lines: list[Line]  # median and p90 time to decision
    time_ticks: list[Tick]
    description: str
    time_description: str

    @property
    def plot_right(self) -> int:
        return self.width - self.right


def _x(index: int, count: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return round(LEFT + (span / 2 if count == 1 else index * span / (count - 1)), 1)


def _label(point: TrendPoint, request: TrendRequest) -> str:
    local = point.bucket.start.astimezone(request.tz)
    if request.bucket == "month":
        return local.strftime("%Y-%m")
    return local.strftime("%Y-%m-%d")


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
            dots.append(Dot(f"{x}", f"{y}", f"{_label(p, request)}: {label} {show(value)}"))
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
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.5, 2, 3, 4, 5, 6, 8, 10):
        if value <= step * power:
            return step * power * unit
    return 10 * power * unit


def rate_chart(points: Sequence[TrendPoint], request: TrendRequest) -> Chart:
    """The report's charts in SVG coordinates: approval, modification and rejection rate per
    bucket (0-100%), decisions per bucket as bars, and median and p90 time to decision."""
    count = len(points)
    plot_h = HEIGHT - TOP - BOTTOM
    lines = _lines(points, request, RATES, HEIGHT, 1.0, lambda v: f"{v * 100:.1f}%")
    slowest = max((p.stats.p90_seconds_to_decision or 0 for p in points), default=0)
    time_top = _nice_ceiling(slowest)
    time_lines = _lines(points, request, TIMES, TIME_HEIGHT, time_top, lambda v: str(Seconds(v)))
    time_plot = TIME_HEIGHT - TOP - BOTTOM
    time_ticks = [
        Tick(f"{TOP + (1 - f) * time_plot:.1f}", _short_duration(time_top * f)) for f in (0, 0.5, 1)
    ]
    peak = max((p.stats.decisions for p in points), default=0)
    vol_h = 90
    slot = (WIDTH - LEFT - RIGHT) / max(count, 1)
    bars = []
    for i, p in enumerate(points):
        h = round(vol_h * p.stats.decisions / peak, 1) if peak else 0.0
        x = _x(i, count) - min(slot * 0.35, 14)
        bars.append(
            Bar(
                x=f"{x:.1f}",
                y=f"{10 + vol_h - h:.1f}",
                width=f"{min(slot * 0.7, 28):.1f}",
                height=f"{h:.1f}",
                text=f"{_label(p, request)}: {p.stats.decisions} decisions",
            )
        )
    # At most 7 evenly spread labels, the first and the last included: they fit without
    # overlapping at this width.
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
        x_ticks.append(Tick(f"{_x(i, count)}", _label(points[i], request), anchor))
    y_ticks = [Tick(f"{TOP + (1 - v / 100) * plot_h:.1f}", f"{v}%") for v in (0, 25, 50, 75, 100)]
    volume_ticks = [Tick("10", str(peak)), Tick(f"{10 + vol_h}", "0")]
    with_data = [p for p in points if p.stats.decisions]
    if with_data:
        first, last = with_data[0], with_data[-1]
        description = (
            f"{len(points)} {request.bucket} buckets, {len(with_data)} with decisions. "
            f"Approval rate {_pct(first.stats.approval_rate)} on {_label(first, request)}, "
            f"{_pct(last.stats.approval_rate)} on {_label(last, request)}. "
            "The table below gives every value."
        )
        time_description = (
            f"Median time to decision {Seconds(first.stats.median_seconds_to_decision)} on "
            f"{_label(first, request)}, {Seconds(last.stats.median_seconds_to_decision)} on "
            f"{_label(last, request)}; the slowest p90 {Seconds(slowest)}. "
            "The table below gives every value."
        )
    else:
        description = f"{len(points)} {request.bucket} buckets, none with decisions."
        time_description = description
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=RIGHT,
        top=TOP,
        bottom=BOTTOM,
        lines=lines,
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        volume_ticks=volume_ticks,
        time_height=TIME_HEIGHT,
        time_lines=time_lines,
        time_ticks=time_ticks,
        description=description,
        time_description=time_description,
    )


def _short_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:.3g} h"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


# --- Display ----------------------------------------------------------------------------------


class Rate:
    """A rate shown as a percentage; `—` for none (a bucket without decisions)."""

    def __init__(self, value: float | None) -> None:
        self.value = value

    def __str__(self) -> str:
        return "—" if self.value is None else f"{self.value * 100:.1f}%"


class Seconds:
    """A duration shown for people: 42 s, 5 min 10 s, 3 h 05 min, 2 d 4 h."""

    def __init__(self, value: float | None) -> None:
        self.value = value

    def __str__(self) -> str:
        if self.value is None:
            return "—"
        v = self.value
        if v < 60:
            return f"{v:.1f} s" if v < 10 else f"{v:.0f} s"
        whole = round(v)
        if whole < 3600:
            return f"{whole // 60} min {whole % 60:02d} s"
        if whole < 86400:
            return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
        return f"{whole // 86400} d {whole % 86400 // 3600} h"


def page_tables(report: Report) -> dict[str, Any]:
    """The report's rows with their rates and durations ready to show."""
    r = report.request
    return {
        "total": {
            "decisions": report.total.decisions,
            "approval": Rate(report.total.approval_rate),
            "modification": Rate(report.total.modification_rate),
            "rejection": Rate(report.total.rejection_rate),
            "acceptance": Rate(report.total.acceptance_rate),
        },
        "trend": [
            {
                "label": _label(p, r),
                "start": iso_z(p.bucket.start),
                "decisions": p.stats.decisions,
                "approved": p.stats.approved,
                "modified": p.stats.modified,
                "rejected": p.stats.rejected,
                "approval": Rate(p.stats.approval_rate),
                "modification": Rate(p.stats.modification_rate),
                "rejection": Rate(p.stats.rejection_rate),
                "median": Seconds(p.stats.median_seconds_to_decision),
                "p90": Seconds(p.stats.p90_seconds_to_decision),
                "flagged": p.stats.flagged,
            }
            for p in report.points
        ],
        "reasons": [
            {"row": x, "share": Rate(x.share), "cumulative": Rate(x.cumulative)}
            for x in report.reasons
        ],
        "fields": [{"row": x, "share": Rate(x.share)} for x in report.fields],
        "models": [_version(x) for x in report.models],
        "prompts": [_version(x) for x in report.prompts],
        "reviewers": [
            {
                "row": x,
                "review": Seconds(x.median_review_seconds),
                "modified": Rate(x.share_modified),
            }
            for x in report.reviewers
        ],
    }


def _version(x: VersionRow) -> dict[str, Any]:
    return {
        "row": x,
        "approval": Rate(x.approval_rate),
        "modification": Rate(x.modification_rate),
        "rejection": Rate(x.rejection_rate),
        "agreement": Rate(x.agreement_rate),
    }


# --- The page -----------------------------------------------------------------------------------


def _form(request: HttpRequest) -> dict[str, str]:
    return {
        name: str(request.GET.get(name, ""))[:200]
        for name in ("queue", "from", "to", "bucket", "tz", "model_version")
    }


def report_rate_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """429 with Retry-After once the person has used up REVIEWQUEUE_REPORT_RATE (each
    report reads many decisions; services/report_limits.py)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = report_request_counted(user=current_user(request))
        if wait is not None:
            response = HttpResponse(
                f"Too many report requests; try again in {wait} seconds.\n",
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(wait)
            return response
        return view(request, *args, **kwargs)

    return wrapper


@login_required
@require_GET
@report_rate_limited
@vary_on_headers("HX-Request")
def reports_page(request: HtmxHttpRequest) -> HttpResponse:
    user = current_user(request)
    context: dict[str, Any] = {"nav": "reports", "form": _form(request), "errors": {}}
    status = 200
    try:
        trend_request = parse_trend_request(request.GET)
        report = report_for(user=user, request=trend_request)
        context.update(
            report=report,
            tables=page_tables(report),
            chart=rate_chart(report.points, trend_request),
            query=urlencode(trend_request.query()),
            model_versions=sorted({v.model_version for v in report.models if v.model_version}),
            form={**context["form"], **_normalised(trend_request)},
        )
    except DomainError as exc:
        context["errors"] = exc.errors or {"__all__": exc.detail}
        context["problem"] = exc.detail
        status = exc.status_code
    context["queues"] = metrics_scope(user=user).queues
    return render_page(request, PAGE, "report", context, status=status)


def _normalised(request: TrendRequest) -> dict[str, str]:
    return {
        "from": request.start.isoformat(),
        "to": request.end.isoformat(),
        "bucket": request.bucket,
        "tz": request.tz.key,
        "queue": request.queue or "",
        "model_version": request.model_version or "",
    }


# --- CSV ------------------------------------------------------------------------------------------------


def _trend_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    scope = metrics_scope(user=user, queue=request.queue, reviewer=request.reviewer)
    points = trend_points(
        filters=filters_for(request, scope), buckets=buckets_for(request), now=now
    )
    yield list(TREND_FIELDS)
    for p in points:
        yield list(p.as_json().values())


def _scoped(user: User, request: TrendRequest) -> tuple[Any, TrendFilters, datetime, datetime]:
    scope = metrics_scope(user=user, queue=request.queue, reviewer=request.reviewer)
    lo, hi = local_midnight(request.start, request.tz), local_midnight(request.end, request.tz)
    return scope, filters_for(request, scope), lo, hi


def _reason_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    _, filters, lo, hi = _scoped(user, request)
    yield ["reason_code", "count", "modified", "rejected", "share", "cumulative_share"]
    for r in reasons(filters, lo, hi):
        yield [r.reason_code, r.count, r.modified, r.rejected, r.share, r.cumulative]


def _field_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    _, filters, lo, hi = _scoped(user, request)
    yield ["field", "modifications", "share_of_modifications", "cosmetic"]
    for f in edited_fields(filters, lo, hi, limit=1000)[1]:
        yield [f.path, f.count, f.share, f.cosmetic]


def _version_rows(
    by: tuple[str, ...],
) -> Callable[[User, TrendRequest, datetime], Iterable[list[Any]]]:
    def rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
        _, filters, lo, hi = _scoped(user, request)
        unversioned = filters.without_versions()
        yield [
            "version",
            "decisions",
            "approval_rate",
            "modification_rate",
            "rejection_rate",
            "compared",
            "agreement_rate",
        ]
        for v in versions(unversioned, lo, hi, by=by):
            yield [
                v.label,
                v.decisions,
                v.approval_rate,
                v.modification_rate,
                v.rejection_rate,
                v.compared,
                v.agreement_rate,
            ]

    return rows


def _reviewer_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    _, filters, lo, hi = _scoped(user, request)
    yield ["reviewer", "decisions", "median_review_seconds", "share_modified"]
    for r in reviewers(filters, lo, hi):
        yield [r.reviewer, r.decisions, r.median_review_seconds, r.share_modified]


def _backlog_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    scope = metrics_scope(user=user, queue=request.queue)
    yield [
        "queue", "open", "pending", "shadow", "in_review", "escalated", "overdue",
        "oldest_created_at",
    ]  # fmt: skip
    for b in backlog(scope.queues, now):
        oldest = iso_z(b.oldest_created_at) if b.oldest_created_at else ""
        yield [
            b.queue.slug, b.open, b.pending, b.shadow, b.in_review, b.escalated, b.overdue,
            oldest,
        ]  # fmt: skip


def _flag_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    scope, filters, lo, hi = _scoped(user, request)
    yield ["queue", "flagged", *(kind.value for kind in FLAG_KINDS)]
    for f in flag_counts(queues=scope.queues, lo=lo, hi=hi, filters=filters):
        yield [f.queue.slug, f.flagged, *(n for _, n in f.kinds)]


def _readiness_rows(user: User, request: TrendRequest, now: datetime) -> Iterable[list[Any]]:
    scope = metrics_scope(user=user, queue=request.queue)
    if scope.own_numbers_only:
        raise Http404("No such report.")
    yield ["queue", "stage", "next_stage", "gate", "status", "window", "evidence"]
    for q in scope.queues:
        readiness = readiness_for(queue=q, now=now)
        for g in readiness.gates:
            yield [
                q.slug,
                readiness.stage,
                readiness.next_stage or "",
                g.label,
                g.status_label,
                g.window,
                g.evidence,
            ]


CSV_SECTIONS: dict[str, Callable[[User, TrendRequest, datetime], Iterable[list[Any]]]] = {
    "trend": _trend_rows,
    "reasons": _reason_rows,
    "fields": _field_rows,
    "models": _version_rows(("model_name", "model_version")),
    "prompts": _version_rows(("prompt_version",)),
    "reviewers": _reviewer_rows,
    "backlog": _backlog_rows,
    "flags": _flag_rows,
    "readiness": _readiness_rows,
}


@login_required
@require_GET
@report_rate_limited
def reports_csv(request: HttpRequest, section: str) -> HttpResponse:
    rows_for = CSV_SECTIONS.get(section)
    if rows_for is None:
        raise Http404("No such report.")
    try:
        trend_request = parse_trend_request(request.GET)
        text = csv_text(rows_for(current_user(request), trend_request, timezone.now()))
    except DomainError as exc:
        return HttpResponse(
            exc.detail + "\n" + "\n".join(f"{k}: {v}" for k, v in (exc.errors or {}).items()),
            status=exc.status_code,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    name = f"{section}-{trend_request.start}-{trend_request.end - timedelta(days=1)}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
