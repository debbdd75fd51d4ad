"""Per-API-key rate limit (REVIEWQUEUE_INGEST_RATE) over everything a key does: one
fixed-window counter per key in PostgreSQL (services/ratelimit.py), one statement per
request at any rate. When the counter cannot be reached the request goes through."""

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from reviewqueue.models import ApiKey
from reviewqueue.services.ratelimit import limit_key, rate_limit_hit


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: object) -> bool:
        key = getattr(request, "auth", None)
        if not isinstance(key, ApiKey):
            return True  # a person (token or session) on a view sources share: not a key
        usages = rate_limit_hit(
            {limit_key("ingest-key", str(key.pk)): settings.REVIEWQUEUE_INGEST_RATE}
        )
        over = [u.retry_after for u in usages if u.over]
        if not over:
            return True
        self._wait = float(max(over))
        return False

    def wait(self) -> float | None:
        return self._wait
