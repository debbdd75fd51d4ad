"""Counting ahead (a service: it fills and prunes the MetricsBucket memo through memo.py), run
by the beat task tasks.metrics_warm every 10 minutes."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from reviewqueue.lib.dates import local_midnight
from reviewqueue.models import Queue
from reviewqueue.reporting.buckets import buckets_for
from reviewqueue.reporting.memo import memo_prune
from reviewqueue.reporting.parameters import TrendRequest, parse_trend_request
from reviewqueue.reporting.scope import TrendFilters
from reviewqueue.reporting.sections import edited_fields, reasons, versions
from reviewqueue.reporting.trend import trend_points


def metrics_warm(*, now: datetime | None = None, days: int = 400) -> int:
    """Count ahead what people open first, so it is fast from the first request: per queue
    and for all queues together, a year of day buckets (UTC) and the reports page's default
    view (the last 30 days). After the first run only newly closed days are counted.
    Remembered buckets not computed for MEMO_KEEP_DAYS are dropped (they are counted again
    when asked for). Returns how many buckets are remembered now."""
    now = now or timezone.now()
    queues = list(Queue.objects.order_by("pk").values_list("pk", flat=True))
    today = now.astimezone(UTC).date()
    year = TrendRequest(start=today - timedelta(days=days - 1), end=today + timedelta(days=1))
    default = parse_trend_request({}, now=now)
    lo = local_midnight(default.start, default.tz)
    hi = local_midnight(default.end, default.tz)
    for queue_ids in [(pk,) for pk in queues] + ([tuple(queues)] if len(queues) > 1 else []):
        filters = TrendFilters(queue_ids=queue_ids)
        trend_points(filters=filters, buckets=buckets_for(year), now=now)
        trend_points(filters=filters, buckets=buckets_for(default), now=now)
        edited_fields(filters, lo, hi, now=now)
        reasons(filters, lo, hi, now=now)
        for by in (("model_name", "model_version"), ("prompt_version",)):
            versions(filters, lo, hi, by=by, now=now)
    return memo_prune(now=now)
