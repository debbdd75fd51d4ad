"""The reports page and its CSV downloads. Filters are a GET form: htmx swaps `#report`, and
without JavaScript the form simply reloads the page. Admins and auditors see every queue;
anyone else sees their own numbers in their own queues. The numbers, charts and CSV rows
come from reviewqueue/reporting/; these views parse, render and answer."""

from collections.abc import Callable
from datetime import timedelta
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
from reviewqueue.reporting.charts import rate_chart, reason_chart
from reviewqueue.reporting.csv_sections import CSV_SECTIONS, SectionHidden
from reviewqueue.reporting.display import page_tables
from reviewqueue.reporting.parameters import TrendRequest, parse_trend_request
from reviewqueue.reporting.report import report_for
from reviewqueue.reporting.scope import metrics_scope
from reviewqueue.services.report_limits import report_request_counted
from reviewqueue.web.pages import HtmxHttpRequest, current_user, render_page

PAGE = "reviewqueue/reports/page.html"


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
            reason_chart=reason_chart(report.reason_points, trend_request),
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
    except SectionHidden:
        raise Http404("No such report.") from None
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
