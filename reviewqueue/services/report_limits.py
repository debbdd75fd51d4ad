"""The per-person rate limit on reports (the trend API, the reports page and its CSV):
counting a report reads many decisions, so one person cannot keep the database busy with
them (issue 14 #5). A counter per user in services/ratelimit.py's windows; a limit that
cannot be checked lets the request through, as every limit does."""

from django.conf import settings

from reviewqueue.models import User
from reviewqueue.services.ratelimit import limit_key, rate_limit_hit

DEFAULT_RATE = "120/m"


def report_rate() -> str:
    """REVIEWQUEUE_REPORT_RATE, "count/period" like every rate (default 120/m)."""
    return str(getattr(settings, "REVIEWQUEUE_REPORT_RATE", DEFAULT_RATE))


def report_request_counted(*, user: User) -> int | None:
    """Count one report request of `user`. Returns the seconds to wait when it went over
    the limit, else None. Call it outside a transaction (services/ratelimit.py)."""
    usages = rate_limit_hit({limit_key("reports-user", str(user.pk)): report_rate()})
    over = [u.retry_after for u in usages if u.over]
    return max(over) if over else None
