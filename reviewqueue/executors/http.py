"""Signed JSON POSTs to checked addresses within one deadline, classified into success,
transient and permanent.

Each call resolves the host once and checks every address (lib/outbound.py), then connects
only to those addresses: the connection pool's network backend is pinned to them, so a DNS
answer that changes between the check and the connection (rebinding) cannot move the request
anywhere else. The URL keeps its host name, so TLS verifies the certificate for that name
(SNI) and the `Host` header is the URL's. The socket's peer is checked again before a byte
is sent.

The whole call has one deadline: every connect, TLS handshake, read and write gets at most
the time left, so a target that drips bytes is cut off on time (httpx's and httpcore's own
timeouts are per operation). No byte is written after the deadline. At most 64 KiB of a
response body is read, and only of an error answer.

httpcore (httpx's transport) is used directly: httpx has no way to set a network backend.
"""

import base64
import functools
import http
import json
import ssl
import time
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


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One per process: building one (the CA bundle) costs ~18 ms."""
    return httpx.create_ssl_context()


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the attempt's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def _left(self, timeout: float | None, error: type[Exception]) -> float:
        left = self._deadline - time.monotonic()
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
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, left), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the checked addresses of one target, never to what DNS says now."""

    def __init__(self, target: Target, deadline: float) -> None:
        self._target = target
        self._deadline = deadline
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
            left = self._deadline - time.monotonic()
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
            return _DeadlineStream(stream, self._deadline)
        raise failure


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


def _exchange(
    url: str, target: Target, raw: bytes, headers: dict[str, str], deadline: float
) -> ActionResult:
    parsed = httpx.URL(url)  # IDNA host, percent-encoded path, as httpx would send them
    all_headers = {"Host": parsed.netloc.decode("ascii"), **headers}
    if parsed.username or parsed.password:  # as httpx does for credentials in the URL
        token = base64.b64encode(f"{parsed.username}:{parsed.password}".encode()).decode()
        all_headers["Authorization"] = f"Basic {token}"
    left = max(0.001, deadline - time.monotonic())
    pool = httpcore.ConnectionPool(
        ssl_context=_ssl_context(),
        network_backend=_PinnedBackend(target, deadline),
        max_connections=1,
        max_keepalive_connections=0,  # one pool per call, pinned to this call's addresses
    )
    with (
        pool,
        pool.stream(
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
        ) as response,
    ):
        # No redirects: a 3xx is an error, as a redirect could lead past the outbound policy.
        status = response.status
        if 200 <= status < 300:
            return ActionResult(ok=True, http_status=status)
        body = _read_capped(response).decode("utf-8", errors="replace")
        retry_after = None
        for name, value in response.headers:
            if name.lower() == b"retry-after":
                retry_after = _retry_after(value.decode("latin-1"))
    transient = status in TRANSIENT_STATUSES or status >= 500
    return ActionResult(
        ok=False,
        transient=transient,
        http_status=status,
        error=_status_error(status),
        retry_after=retry_after if transient else None,
        detail=body,
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
