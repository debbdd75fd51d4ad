"""Standard Webhooks: what we sign, the standardwebhooks library verifies, and back."""

import json
import time

import pytest
from reviewqueue_client import (
    InvalidSignature,
    SignatureExpired,
    SignatureMalformed,
    SignatureMismatch,
    sign_callback,
    standard_webhook_headers,
    standard_webhooks_secret,
    verify_callback,
    verify_standard,
)
from standardwebhooks import Webhook, WebhookVerificationError

SECRET = "cb-s3cret with spaces & ünicode"
EVENT = {
    "id": "9a1c",
    "type": "decision.made",
    "created_at": "2026-12-05T08:00:00Z",
    "data": {"recommendation_id": "r1", "external_id": "t-1", "queue": "refunds"},
}
BODY = json.dumps(EVENT).encode()


def test_the_standardwebhooks_library_verifies_what_we_sign():
    headers = standard_webhook_headers(BODY, SECRET, msg_id="rq-123")
    assert headers["webhook-id"] == "rq-123"
    assert headers["webhook-signature"].startswith("v1,")
    # As a receiver in any language would: the whsec_ form of our secret.
    assert Webhook(standard_webhooks_secret(SECRET)).verify(BODY, headers) == EVENT


def test_the_library_refuses_a_changed_body_or_another_secret():
    headers = standard_webhook_headers(BODY, SECRET, msg_id="rq-123")
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_webhooks_secret(SECRET)).verify(BODY + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(standard_webhooks_secret("other")).verify(BODY, headers)


def test_we_verify_what_the_library_signs():
    from datetime import UTC, datetime

    hook = Webhook(standard_webhooks_secret(SECRET))
    now = datetime.now(UTC)
    signature = hook.sign("msg_1", now, BODY.decode())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    verify_standard(BODY, headers, SECRET)
    with pytest.raises(InvalidSignature):
        verify_standard(BODY, headers, "other")


def test_verify_callback_takes_either_signature_from_the_request_headers():
    t = int(time.time())
    ours = {"X-ReviewQueue-Signature": sign_callback(BODY, SECRET, timestamp=t)}
    standard = standard_webhook_headers(BODY, SECRET, msg_id="9a1c", timestamp=t)
    assert verify_callback(BODY, ours, SECRET).id == "9a1c"
    assert verify_callback(BODY, {k.title(): v for k, v in standard.items()}, SECRET).id == "9a1c"
    assert verify_callback(BODY, ours["X-ReviewQueue-Signature"], SECRET).type == "decision.made"
    stale = standard_webhook_headers(BODY, SECRET, msg_id="9a1c", timestamp=t - 3600)
    with pytest.raises(SignatureExpired, match="tolerance"):
        verify_callback(BODY, stale, SECRET)
    with pytest.raises(SignatureMalformed):
        verify_callback(BODY, {"webhook-id": "x", "webhook-signature": "v1,x"}, SECRET)


def test_stale_wrong_secret_and_tampered_are_distinct_errors():
    headers = standard_webhook_headers(BODY, SECRET, msg_id="9a1c")
    with pytest.raises(SignatureMismatch):
        verify_callback(BODY, headers, "another secret")
    with pytest.raises(SignatureMismatch):
        verify_callback(BODY.replace(b"r1", b"r2"), headers, SECRET)
    old = standard_webhook_headers(BODY, SECRET, msg_id="9a1c", timestamp=int(time.time()) - 301)
    with pytest.raises(SignatureExpired):
        verify_callback(BODY, old, SECRET)
    assert verify_callback(BODY, old, SECRET, tolerance=600).id == "9a1c"
    for error in (SignatureMismatch, SignatureExpired, SignatureMalformed):
        assert issubclass(error, InvalidSignature)
