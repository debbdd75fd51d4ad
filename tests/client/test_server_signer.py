"""The client's callback signer and verifier against the server's own signer: one
implementation for both sides (reviewqueue.lib.signing wraps reviewqueue_client.signatures)."""

import json

from reviewqueue_client import sign_callback, verify_callback

from reviewqueue.lib import signing

EVENT = {
    "id": "0190a000-0000-7000-8000-00000000e1e1",
    "type": "decision.made",
    "created_at": "2026-11-20T10:00:00Z",
    "data": {
        "recommendation_id": "r1",
        "external_id": "e1",
        "queue": "refunds",
        "status": "decided",
        "decision": {"kind": "human", "outcome": "reject", "reason_code": "other", "comment": "no"},
        "execution": None,
    },
}
BODY = json.dumps(EVENT, separators=(",", ":"), sort_keys=True).encode()


def test_a_body_signed_by_the_server_verifies_and_parses():
    header = signing.sign("s3cret", BODY)  # the app's own signer
    event = verify_callback(BODY, header, "s3cret")
    assert event.id == EVENT["id"] and event.type == "decision.made"
    assert event.recommendation_id == "r1" and event.external_id == "e1"
    assert event.decision is not None and event.decision.outcome == "reject"
    assert event.execution is None and event.created_at is not None


def test_sign_callback_matches_the_servers_signer():
    assert sign_callback(BODY, "k", timestamp=1700000000) == signing.sign("k", BODY, 1700000000)
    assert signing.verify("k", BODY, sign_callback(BODY, "k"))
