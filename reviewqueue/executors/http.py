"""Signed JSON POSTs to checked addresses within one deadline, classified into success,
transient and permanent.

Each call resolves the host once and checks every address (lib/outbound.py), then connects
only to those addresses: a connection pool's network backend is pinned to them, so a DNS
answer that changes between the check and the connection (rebinding) cannot move the request
anywhere else. The URL keeps its host name, so TLS verifies the certificate for that name
(SNI) and the `Host` header is the URL's. The socket's peer is checked again before a byte
is sent.

Connections are kept alive and reused (a worker sends to the same few targets over and over;
a new TCP and TLS connection per call cost more than the call). There is one pool per
process and target, keyed by the URL's scheme, host and port and the exact set of addresses
the check just allowed: a kept connection was made, and its peer checked, to one of the
addresses this call's check allowed, so reuse never skips the policy; when DNS answers
differently, the call gets a pool of its own. Idle connections are dropped after
KEEPALIVE_SECONDS (shorter than common servers' idle timeouts), and the pools of a forked
child start empty.

The whole call has one deadline: every connect, TLS handshake, read and write gets at most
the time left, so a target that drips bytes is cut off on time (httpx's and httpcore's own
timeouts are per operation). No byte is written after the deadline. At most 64 KiB of a
response body is read.

httpcore (httpx's transport) is used directly: httpx has no way to set a network backend.
"""

import base64
import contextvars
import functools
import http
import json
import os
import ssl
import threading
import time
from collections import OrderedDict
from typing import Any

import httpcore
import httpx
from django.conf import settings
from reviewqueue_client.retrying import retry_after_seconds
from reviewqueue_client.signatures import standard_webhook_headers

from reviewqueue.executors.base import ActionResult
from reviewqueue.lib import signing
from reviewqueue.lib.outbound import (
    OutboundRefused,
    ResolveFailed,
    Target,
    check_peer,
    resolve_target,
)

TRANSIENT_STATUSES = {408, 425, 429}
MAX_BODY_BYTES = 64 * 1024
MAX_RETRY_AFTER_SECONDS = 24 * 3600  # a longer wait is a day: keeps the datetime sane
KEEPALIVE_SECONDS = 1.0  # idle connections older than this are not reused
MAX_POOLS = 32  # per process; the least recently used pool is closed beyond it

# The deadline (time.monotonic()) of the call in progress: a kept connection obeys the call
# that uses it. Unset outside a call: then every operation fails at once.
_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("deadline", default=0.0)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One per process: building one (the CA bundle) costs ~18 ms."""
    return httpx.create_ssl_context()


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the deadline of the call using it."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def _left(self, timeout: float | None, error: type[Exception]) -> float:
        left = _deadline.get() - time.monotonic()
        if left <= 0:
            raise error("the attempt's deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # Python bounds a whole handshake by the socket timeout.
        left = self._left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the checked addresses of one target, never to what DNS says now."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        if port != self._target.port:
            raise httpcore.ConnectError(f"port {port} was not checked")
        failure: Exception = httpcore.ConnectError(f"no address for {self._target.host}")
        for address in self._target.addresses:
            left = _deadline.get() - time.monotonic()
            if left <= 0:
                raise httpcore.ConnectTimeout("the attempt's deadline passed")
            try:
                stream = self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=left if timeout is None else min(timeout, left),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            try:
                check_peer(str(stream.get_extra_info("server_addr")[0]), self._target)
            except OutboundRefused:
                stream.close()
                raise
            return _DeadlineStream(stream)
        raise failure


_pools: OrderedDict[tuple[Any, ...], httpcore.ConnectionPool] = OrderedDict()
_pools_lock = threading.Lock()


def _forget_pools() -> None:
    """In a forked child: the parent's connections are not ours to use (or close)."""
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)


def _pool(scheme: bytes, target: Target) -> httpcore.ConnectionPool:
    """This process's pool for `target` as just checked (see the module docstring)."""
    key = (scheme, target.host, target.port, target.addresses)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is not None:
            _pools.move_to_end(key)
            return pool
        pool = _pools[key] = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            network_backend=_PinnedBackend(target),
            max_keepalive_connections=4,
            keepalive_expiry=KEEPALIVE_SECONDS,
        )
        evicted = _pools.popitem(last=False)[1] if len(_pools) > MAX_POOLS else None
    if evicted is not None:
        evicted.close()
    return pool


def _retry_after(value: str | None) -> float | None:
    seconds = retry_after_seconds(value)
    return None if seconds is None else min(seconds, MAX_RETRY_AFTER_SECONDS)


def _status_error(status: int) -> str:
    try:
        return f"HTTP {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _read_capped(response: httpcore.Response) -> bytes:
    """Up to MAX_BODY_BYTES of the body; what arrived when the deadline or the peer ends it."""
    body = b""
    try:
        for chunk in response.iter_stream():
            body += chunk
            if len(body) >= MAX_BODY_BYTES:
                break
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError):
        pass
    return body[:MAX_BODY_BYTES]


def _declared_length(response: httpcore.Response) -> float:
    for name, value in response.headers:
        if name.lower() == b"content-length" and value.isdigit():
            return int(value)
    return float("inf")


def _exchange(
    url: str, target: Target, raw: bytes, headers: dict[str, str], deadline: float
) -> ActionResult:
    parsed = httpx.URL(url)  # IDNA host, percent-encoded path, as httpx would send them
    all_headers = {"Host": parsed.netloc.decode("ascii"), **headers}
    if parsed.username or parsed.password:  # as httpx does for credentials in the URL
        token = base64.b64encode(f"{parsed.username}:{parsed.password}".encode()).decode()
        all_headers["Authorization"] = f"Basic {token}"
    left = max(0.001, deadline - time.monotonic())
    reset = _deadline.set(deadline)
    try:
        with _pool(parsed.raw_scheme, target).stream(
            "POST",
            httpcore.URL(
                scheme=parsed.raw_scheme,
                host=parsed.raw_host,
                port=parsed.port,
                target=parsed.raw_path,
            ),
            headers=list(all_headers.items()),
            content=raw,
            extensions={"timeout": {"connect": left, "read": left, "write": left, "pool": left}},
        ) as response:
            # No redirects: a 3xx is an error, as a redirect could lead past the outbound
            # policy.
            status = response.status
            if 200 <= status < 300:
                # A short body is read so that the connection, its answer complete, can be
                # kept for the next call; any other is left (the connection is closed).
                if _declared_length(response) <= MAX_BODY_BYTES:
                    _read_capped(response)
                return ActionResult(ok=True, http_status=status)
            body = _read_capped(response)
            retry_after = None
            for name, value in response.headers:
                if name.lower() == b"retry-after":
                    retry_after = _retry_after(value.decode("latin-1"))
    finally:
        _deadline.reset(reset)
    transient = status in TRANSIENT_STATUSES or status >= 500
    return ActionResult(
        ok=False,
        transient=transient,
        http_status=status,
        error=_status_error(status),
        retry_after=retry_after if transient else None,
        detail=body.decode("utf-8", errors="replace"),
    )


def post_signed(
    url: str,
    body: dict[str, Any],
    *,
    secret: str,
    deadline: float,
    headers: dict[str, str],
    message_id: str,
) -> ActionResult:
    """POST `body` as JSON, signed with `secret` twice (ours and Standard Webhooks, whose
    `webhook-id` is `message_id`: the same on every retry), finished by `deadline`
    (time.monotonic())."""
    if not secret:
        return ActionResult(ok=False, error="not sent: no signing secret; never sent unsigned")
    try:
        target = resolve_target(url, settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST)
    except ResolveFailed as exc:
        return ActionResult(ok=False, transient=True, error="network error: DNS", detail=str(exc))
    except OutboundRefused as exc:
        return ActionResult(ok=False, error="refused by the outbound policy", detail=str(exc))
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    now = int(time.time())
    all_headers = {
        "Content-Type": "application/json",
        "User-Agent": "ReviewQueue/1",
        **headers,
        signing.HEADER: signing.sign(secret, raw, now),
        **standard_webhook_headers(raw, secret, msg_id=message_id, timestamp=now),
    }
    try:
        return _exchange(url, target, raw, all_headers, deadline)
    except OutboundRefused as exc:  # the peer was not a checked address
        return ActionResult(ok=False, error="refused by the outbound policy", detail=str(exc))
    except httpcore.TimeoutException as exc:
        return ActionResult(
            ok=False,
            transient=True,
            error="timeout: no complete answer within the attempt's deadline",
            detail=repr(exc),
        )
    except (httpcore.NetworkError, httpcore.RemoteProtocolError, OSError) as exc:
        return ActionResult(
            ok=False, transient=True, error=f"network error: {type(exc).__name__}", detail=repr(exc)
        )
    except (httpcore.LocalProtocolError, httpcore.UnsupportedProtocol) as exc:
        return ActionResult(
            ok=False, error=f"request error: {type(exc).__name__}", detail=repr(exc)
        )
