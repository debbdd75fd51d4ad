"""Numbers shown for people on the reports page: rates as percentages, durations in words,
bucket labels, and the report's rows with those ready to render."""

from typing import Any

from reviewqueue.reporting.buckets import Bucket, iso_z
from reviewqueue.reporting.parameters import TrendRequest
from reviewqueue.reporting.report import Report
from reviewqueue.reporting.sections import VersionRow
from reviewqueue.reporting.trend import TrendPoint


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


def bucket_label(point: TrendPoint, request: TrendRequest) -> str:
    """The bucket's local start: 2026-10-01, or 2026-10 for a month."""
    return start_label(point.bucket, request)


def start_label(bucket: Bucket, request: TrendRequest) -> str:
    """A bucket's local start: 2026-10-01, or 2026-10 for a month."""
    local = bucket.start.astimezone(request.tz)
    if request.bucket == "month":
        return local.strftime("%Y-%m")
    return local.strftime("%Y-%m-%d")


def page_tables(report: Report) -> dict[str, Any]:
    """The report's rows with their rates and durations ready to show."""
    r = report.request
    return {
        "agreement": [
            {
                "row": row,
                "percent": Rate(row.result.percent),
                "kappa": "—" if row.result.kappa is None else f"{row.result.kappa:.2f}",
            }
            for row in report.agreement.rows()
        ],
        "total": {
            "decisions": report.total.decisions,
            "approval": Rate(report.total.approval_rate),
            "modification": Rate(report.total.modification_rate),
            "rejection": Rate(report.total.rejection_rate),
            "acceptance": Rate(report.total.acceptance_rate),
        },
        "trend": [
            {
                "label": bucket_label(p, r),
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
