"""Signed JSON POSTs with timeouts, classified into success, transient and permanent."""

import json
import os
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from reviewqueue.executors.base import ActionResult
from reviewqueue.lib import signing
from reviewqueue.lib.outbound import OutboundRefused, check_url

TRANSIENT_STATUSES = {408, 425, 429}
_clients: dict[int, httpx.Client] = {}


def _client() -> httpx.Client:
    """One pooled client per process (made after a prefork worker forks): httpx.post()
    would build a new client, and an SSL context, for every request (~18 ms)."""
    pid = os.getpid()
    client = _clients.get(pid)
    if client is None:
        client = _clients[pid] = httpx.Client(follow_redirects=False)
    return client


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def post_signed(
    url: str, body: dict[str, Any], *, secret: str | None, timeout: float, headers: dict[str, str]
) -> ActionResult:
    try:
        check_url(url, settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST)
    except OutboundRefused as exc:
        return ActionResult(ok=False, transient=False, error=f"refused by outbound policy: {exc}")
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    all_headers = {"Content-Type": "application/json", "User-Agent": "ReviewQueue/1", **headers}
    if secret:
        all_headers[signing.HEADER] = signing.sign(secret, raw)
    try:
        # No redirects: a 3xx to an internal address would walk around the outbound policy.
        response = _client().post(url, content=raw, headers=all_headers, timeout=timeout)
    except httpx.TimeoutException as exc:
        return ActionResult(
            ok=False, transient=True, error=f"timeout after {timeout}s: {exc!r}"[:500]
        )
    except httpx.HTTPError as exc:
        return ActionResult(ok=False, transient=True, error=f"network error: {exc!r}"[:500])
    status = response.status_code
    if 200 <= status < 300:
        return ActionResult(ok=True, http_status=status)
    snippet = response.text[:300]
    if status in TRANSIENT_STATUSES or status >= 500:
        return ActionResult(
            ok=False,
            transient=True,
            http_status=status,
            error=f"HTTP {status}: {snippet}",
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    return ActionResult(
        ok=False, transient=False, http_status=status, error=f"HTTP {status}: {snippet}"
    )
