"""Callback signatures, for any web framework: pass the raw body, the headers and the secret.

Every request Review Queue sends (callbacks and webhook executions) carries two signatures
of the same body, keyed by the secret in the environment variable `signing_secret_env` names:

- ours: `X-ReviewQueue-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`;
- Standard Webhooks (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp`
  and `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>">`, keyed by
  the secret's UTF-8 bytes. A Standard Webhooks library in any language verifies it when
  given `standard_webhooks_secret(secret)` ("whsec_" + base64 of those bytes).

`verify_callback` accepts either. The server signs with `sign_callback` and
`standard_webhook_headers` from this module, so both sides run one implementation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping

from reviewqueue_client.errors import (
    InvalidSignature,
    SignatureExpired,
    SignatureMalformed,
    SignatureMismatch,
)
from reviewqueue_client.models import CallbackEvent

SIGNATURE_HEADER = "X-ReviewQueue-Signature"
EVENT_ID_HEADER = "X-ReviewQueue-Event-Id"
WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE = (
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign_callback(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The header value Review Queue would send for `body`; handy in your handler's tests."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={_digest(secret, t, body)}"


def _standard_digest(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def standard_webhook_headers(
    body: bytes, secret: str, *, msg_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """The Standard Webhooks headers Review Queue sends with `body`. `msg_id` is the same on
    every retry of one message (an execution's idempotency key, a callback's event id)."""
    t = int(time.time()) if timestamp is None else timestamp
    return {
        WEBHOOK_ID: msg_id,
        WEBHOOK_TIMESTAMP: str(t),
        WEBHOOK_SIGNATURE: f"v1,{_standard_digest(secret, msg_id, t, body)}",
    }


def standard_webhooks_secret(secret: str) -> str:
    """The secret as Standard Webhooks libraries take it: "whsec_" + base64 of its bytes."""
    return "whsec_" + base64.b64encode(secret.encode()).decode()


def verify_standard(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> None:
    """Raise InvalidSignature unless the Standard Webhooks headers sign the raw `body`."""
    if not secret:
        raise SignatureMalformed("No signing secret configured.")
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = (
        lower.get(WEBHOOK_ID),
        lower.get(WEBHOOK_TIMESTAMP),
        lower.get(WEBHOOK_SIGNATURE),
    )
    if not msg_id or not stamp or not signatures:
        raise SignatureMalformed("Missing webhook-id, webhook-timestamp or webhook-signature.")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureMalformed("Malformed webhook-timestamp.") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureExpired("Signature timestamp is outside the tolerance (replay?).")
    raw = body.encode() if isinstance(body, str) else bytes(body)
    expected = _standard_digest(secret, msg_id, timestamp, raw)
    given = [part.partition(",") for part in signatures.split()]
    if not any(v == "v1" and hmac.compare_digest(expected, sig) for v, _, sig in given):
        raise SignatureMismatch("Signature does not match the body.")


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
        raise SignatureMalformed("No signing secret configured.")
    if not header:
        raise SignatureMalformed(f"Missing {SIGNATURE_HEADER} header.")
    raw = body.encode() if isinstance(body, str) else bytes(body)
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureMalformed("Malformed signature header.")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureMalformed("Malformed signature timestamp.") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureMalformed("Malformed signature header: needs t= and v1=.")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureExpired("Signature timestamp is outside the tolerance (replay?).")
    expected = _digest(secret, timestamp, raw)
    # Several v1= values let a sender sign with an old and a new secret during a rotation.
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureMismatch("Signature does not match the body.")


def verify_callback(
    body: bytes | str,
    header: str | Mapping[str, str] | None,
    secret: str,
    tolerance: int = 300,
    *,
    now: float | None = None,
) -> CallbackEvent:
    """Check a callback's signature and parse it. Raises InvalidSignature.

    `header` is the `X-ReviewQueue-Signature` value, or the request's headers (a mapping,
    e.g. Django's `request.headers`): then the Standard Webhooks headers are checked when
    present, else `X-ReviewQueue-Signature`.
    `body` must be the raw request body exactly as received (not re-serialized JSON):
    Django's `request.body`, Flask's `request.get_data()`, FastAPI's `await request.body()`.
    """
    if isinstance(header, Mapping):
        lower = {k.lower(): v for k, v in header.items()}
        if WEBHOOK_SIGNATURE in lower:
            verify_standard(body, lower, secret, tolerance=tolerance, now=now)
        else:
            verify_signature(
                body, lower.get(SIGNATURE_HEADER.lower()), secret, tolerance=tolerance, now=now
            )
    else:
        verify_signature(body, header, secret, tolerance=tolerance, now=now)
    try:
        parsed = json.loads(body)
        return CallbackEvent.from_json(parsed)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidSignature(f"Signed body is not a Review Queue event: {exc}") from exc
