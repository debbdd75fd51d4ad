"""The asynchronous client: the same calls as ReviewQueueClient, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import httpx

from reviewqueue_client import _core
from reviewqueue_client.errors import DecisionTimeout, TransportError
from reviewqueue_client.models import (
    BatchItemResult,
    Evidence,
    ModelInfo,
    NewRecommendation,
    Outcome,
    Recommendation,
)


class AsyncReviewQueueClient:
    """A source's async client for the Review Queue API (v1); see ReviewQueueClient.

    >>> async with AsyncReviewQueueClient("http://127.0.0.1:8000", api_key="rqk_...") as rq:
    ...     item = await rq.get("0190...")
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = _core.DEFAULT_TIMEOUT,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_retry_after: float = 60.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = _core.base_url(base_url)
        self.retry = _core.RetryPolicy(
            max_retries=max_retries,
            backoff=backoff,
            max_backoff=max_backoff,
            max_retry_after=max_retry_after,
        )
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=_core.headers(api_key, headers),
            timeout=timeout,
            transport=transport,
        )

    # -- plumbing ------------------------------------------------------------------------

    async def _send[T](self, call: _core.Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method, call.path, params=call.params, json=call.json
                )
            except httpx.TransportError as exc:
                delay = self.retry.after_exception(exc, attempt, call.retry)
                if delay is None:
                    raise TransportError(f"{call.method} {call.path}: {exc!r}") from exc
            else:
                if response.status_code < 400:
                    return call.parse(response)
                error = _core.error_from(response)
                delay = self.retry.after_error(error, attempt, call.retry)
                if delay is None:
                    raise error
            await asyncio.sleep(delay)
            attempt += 1

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- ingest --------------------------------------------------------------------------

    async def submit(
        self,
        queue: str,
        external_id: str,
        action_type: str,
        payload: Mapping[str, Any],
        *,
        confidence: float,
        risk_score: float,
        model: ModelInfo | Mapping[str, str] | tuple[str, str],
        rationale: str | None = None,
        evidence: Sequence[Evidence | Mapping[str, str]] | None = None,
        prompt_version: str | None = None,
        priority: int | None = None,
        expires_at: datetime | str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Recommendation:
        """Post one recommendation. Returns the stored item: `created` is True on 201 and
        False when the same external_id with the same content was already there (200).
        Raises Conflict (409) when that external_id was used with different content."""
        item = NewRecommendation(
            queue=queue,
            external_id=external_id,
            action_type=action_type,
            payload=payload,
            confidence=confidence,
            risk_score=risk_score,
            model=model,
            rationale=rationale,
            evidence=evidence,
            prompt_version=prompt_version,
            priority=priority,
            expires_at=expires_at,
            metadata=metadata,
        )
        return await self._send(_core.submit_call(item))

    async def submit_item(self, item: NewRecommendation | Mapping[str, Any]) -> Recommendation:
        """Post one recommendation given as a NewRecommendation or a raw ingest body."""
        return await self._send(_core.submit_call(item))

    async def submit_batch(
        self, items: Iterable[NewRecommendation | Mapping[str, Any]]
    ) -> list[BatchItemResult]:
        """Post up to 1,000 items at once; each is judged alone. One result per item, in
        order, with its own status (201, 200, 400, 403, 409...) and `.error`."""
        return await self._send(_core.batch_call(items))

    # -- reads ---------------------------------------------------------------------------

    async def get(self, recommendation_id: str) -> Recommendation:
        """The item with its status, decision and execution. NotFound for another
        source's item."""
        return await self._send(_core.get_call(recommendation_id))

    async def find_by_external_id(self, external_id: str) -> Recommendation | None:
        """This source's item with that external_id, or None."""
        return await self._send(_core.find_call(external_id))

    async def iter_recommendations(
        self, *, status: str | None = None, queue: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Recommendation]:
        """Every item of this source (optionally by status or queue), fetched page by page."""
        cursor: str | None = None
        while True:
            page, cursor = await self._send(
                _core.list_call(status=status, queue=queue, cursor=cursor, limit=page_size)
            )
            for rec in page:
                yield rec
            if not cursor:
                return

    async def wait_for_decision(
        self,
        recommendation_id: str,
        timeout: float = 3600.0,
        *,
        poll_interval: float = 1.0,
        max_poll_interval: float = 30.0,
    ) -> Recommendation:
        """Poll until the item is no longer open (pending, in_review, escalated, shadow):
        decided, auto_approved or expired. Raises DecisionTimeout after `timeout` seconds."""
        schedule = _core.WaitSchedule(timeout, poll_interval, max_poll_interval)
        while True:
            rec = await self.get(recommendation_id)
            if not rec.is_open:
                return rec
            sleep = schedule.next_sleep()
            if sleep is None:
                raise DecisionTimeout(
                    f"No decision on {recommendation_id} within {timeout:g} s "
                    f"(status {rec.status}).",
                    recommendation=rec,
                )
            await asyncio.sleep(sleep)

    # -- shadow stage --------------------------------------------------------------------

    async def post_human_outcome(
        self,
        recommendation_id: str,
        outcome: Outcome,
        *,
        payload: Mapping[str, Any] | None = None,
        reason_code: str | None = None,
        comment: str | None = None,
    ) -> Recommendation:
        """Shadow stage: report what people actually decided for this item."""
        return await self._send(
            _core.human_outcome_call(recommendation_id, outcome, payload, reason_code, comment)
        )
