"""What the sync and async clients share: each API call as data (method, path, body, how to
read the answer, whether a retry is safe), the retry policy and the error mapping. The two
clients only differ in how they send and sleep."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx

from reviewqueue_client.errors import ReviewQueueError, error_for_status
from reviewqueue_client.models import (
    BatchItemResult,
    NewRecommendation,
    Recommendation,
)
from reviewqueue_client.retrying import delay, retry_after_seconds

API_PREFIX = "/api/v1"
USER_AGENT = f"reviewqueue-client/1 httpx/{httpx.__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

# "idempotent": safe to send again after any failure (reads, and ingest, which is
# idempotent by external_id: a replay answers 200 with the original).
# "unsent": retried only when the request cannot have reached the app (connect errors, 429).
RetryMode = Literal["idempotent", "unsent"]

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Call[T]:
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, str] | None = None
    json: Any = None
    retry: RetryMode = "idempotent"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter on connection errors, 429 and 5xx. A server's
    Retry-After is honoured up to `max_retry_after` seconds; above that the error is
    raised at once so the caller can decide."""

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 60.0

    def _backoff(self, attempt: int) -> float:
        # `attempt` counts retries already made (0 first): the formula counts failed tries.
        return delay(attempt + 1, base=self.backoff, cap=self.max_backoff)

    def after_exception(
        self, exc: httpx.TransportError, attempt: int, mode: RetryMode
    ) -> float | None:
        if attempt >= self.max_retries:
            return None
        if mode == "unsent" and not isinstance(exc, _UNSENT_ERRORS):
            return None
        return self._backoff(attempt)

    def after_error(self, error: ReviewQueueError, attempt: int, mode: RetryMode) -> float | None:
        status = error.status or 0
        if attempt >= self.max_retries or status not in _RETRY_STATUSES:
            return None
        if mode == "unsent" and status != 429:
            return None
        hint = getattr(error, "retry_after", None)
        if hint is not None:
            return hint if hint <= self.max_retry_after else None
        return self._backoff(attempt)


def base_url(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len(API_PREFIX)] if url.endswith(API_PREFIX) else url


def headers(api_key: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json, application/problem+json",
        "User-Agent": USER_AGENT,
        **(extra or {}),
    }


def retry_after(response: httpx.Response) -> float | None:
    return retry_after_seconds(response.headers.get("Retry-After"))


def error_from(response: httpx.Response) -> ReviewQueueError:
    problem: dict[str, Any] = {}
    detail: str | None = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        problem = body
    else:
        detail = response.text[:500] or response.reason_phrase or None
    return error_for_status(
        response.status_code, problem, detail=detail, retry_after=retry_after(response)
    )


def _path(*parts: str) -> str:
    return API_PREFIX + "/" + "/".join(quote(p, safe="") for p in parts)


def _recommendation(response: httpx.Response) -> Recommendation:
    return Recommendation.from_json(response.json(), created=response.status_code == 201)


def _first_or_none(response: httpx.Response) -> Recommendation | None:
    results = response.json().get("results") or []
    return Recommendation.from_json(results[0]) if results else None


def _page(response: httpx.Response) -> tuple[list[Recommendation], str | None]:
    body = response.json()
    return [Recommendation.from_json(r) for r in body.get("results") or []], body.get("next")


def _batch(response: httpx.Response) -> list[BatchItemResult]:
    results = [BatchItemResult.from_json(r) for r in response.json()["results"]]
    return sorted(results, key=lambda r: r.index)


def item_json(item: NewRecommendation | Mapping[str, Any]) -> dict[str, Any]:
    return item.to_json() if isinstance(item, NewRecommendation) else dict(item)


def submit_call(item: NewRecommendation | Mapping[str, Any]) -> Call[Recommendation]:
    return Call("POST", _path("recommendations"), _recommendation, json=item_json(item))


def batch_call(
    items: Iterable[NewRecommendation | Mapping[str, Any]],
) -> Call[list[BatchItemResult]]:
    body = {"items": [item_json(i) for i in items]}
    return Call("POST", _path("recommendations", "batch"), _batch, json=body)


def get_call(recommendation_id: str) -> Call[Recommendation]:
    return Call("GET", _path("recommendations", str(recommendation_id)), _recommendation)


def find_call(external_id: str) -> Call[Recommendation | None]:
    params = {"external_id": external_id, "limit": "1"}
    return Call("GET", _path("recommendations"), _first_or_none, params=params)


def list_call(
    *, status: str | None, queue: str | None, cursor: str | None, limit: int
) -> Call[tuple[list[Recommendation], str | None]]:
    params = {"status": status, "queue": queue, "cursor": cursor, "limit": str(limit)}
    clean = {k: v for k, v in params.items() if v is not None}
    return Call("GET", _path("recommendations"), _page, params=clean)


def human_outcome_call(
    recommendation_id: str,
    outcome: str,
    payload: Mapping[str, Any] | None,
    reason_code: str | None,
    comment: str | None,
) -> Call[Recommendation]:
    body: dict[str, Any] = {"outcome": outcome}
    if payload is not None:
        body["payload"] = dict(payload)
    if reason_code is not None:
        body["reason_code"] = reason_code
    if comment is not None:
        body["comment"] = comment
    path = _path("recommendations", str(recommendation_id), "human-outcome")
    # Reporting an outcome twice is not known to be harmless: retry only what never arrived.
    return Call("POST", path, _recommendation, json=body, retry="unsent")


@dataclass
class WaitSchedule:
    """Polling with backoff for wait_for_decision: `interval`, growing by `factor` up to
    `max_interval`, never sleeping past the deadline."""

    timeout: float
    interval: float
    max_interval: float
    factor: float = 1.5

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.timeout

    def next_sleep(self) -> float | None:
        """Seconds to sleep before the next poll, or None when the deadline has passed."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return None
        sleep = min(self.interval, remaining)
        self.interval = min(self.max_interval, self.interval * self.factor)
        return sleep
