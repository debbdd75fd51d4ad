"""Callback signatures, for any web framework: pass the raw body, the header and the secret.

Header: `X-ReviewQueue-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`,
keyed by the secret in the environment variable the source's `signing_secret_env` names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from reviewqueue.client.errors import InvalidSignature
from reviewqueue.client.models import CallbackEvent

SIGNATURE_HEADER = "X-ReviewQueue-Signature"
EVENT_ID_HEADER = "X-ReviewQueue-Event-Id"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign_callback(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The header value Review Queue would send for `body`; handy in your handler's tests."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_digest(secret, t, body)}"


def verify_signature(
    body: bytes | str,
    header: str | None,
    secret: str,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Raise InvalidSignature unless `header` signs the raw `body` with `secret` and its
    timestamp is within `tolerance` seconds of now (a replayed old request fails)."""
    if not secret:
        raise InvalidSignature("No signing secret configured.")
    if not header:
        raise InvalidSignature(f"Missing {SIGNATURE_HEADER} header.")
    raw = body.encode() if isinstance(body, str) else bytes(body)
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise InvalidSignature("Malformed signature header.")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise InvalidSignature("Malformed signature timestamp.") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature("Malformed signature header: needs t= and v1=.")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature("Signature timestamp is outside the tolerance (replay?).")
    expected = _digest(secret, timestamp, raw)
    # Several v1= values let a sender sign with an old and a new secret during a rotation.
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise InvalidSignature("Signature does not match the body.")


def verify_callback(
    body: bytes | str,
    header: str | None,
    secret: str,
    tolerance: int = 300,
    *,
    now: float | None = None,
) -> CallbackEvent:
    """Check a callback's signature and parse it. Raises InvalidSignature.

    `body` must be the raw request body exactly as received (not re-serialized JSON):
    Django's `request.body`, Flask's `request.get_data()`, FastAPI's `await request.body()`.
    """
    verify_signature(body, header, secret, tolerance=tolerance, now=now)
    try:
        parsed = json.loads(body)
        return CallbackEvent.from_json(parsed)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidSignature(f"Signed body is not a Review Queue event: {exc}") from exc
