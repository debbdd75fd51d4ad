"""Per-API-key rate limit, counted in the shared cache (Redis in production) by
django-ratelimit's fixed-window counters: O(1) per request at any rate."""

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from reviewqueue.models import ApiKey


def _key(group: str, request: Request) -> str:
    auth = getattr(request, "auth", None)
    return f"key:{getattr(auth, 'pk', 'none')}"


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: object) -> bool:
        if not isinstance(getattr(request, "auth", None), ApiKey):
            return True  # a person (token or session) on a view sources share: not a key
        usage = get_usage(
            request, group="ingest", key=_key, rate=settings.REVIEWQUEUE_INGEST_RATE, increment=True
        )
        if usage is None or not usage["should_limit"]:
            return True
        self._wait = float(usage["time_left"])
        return False

    def wait(self) -> float | None:
        return self._wait
