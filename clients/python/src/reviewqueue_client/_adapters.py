"""What the agent-framework adapters share: deterministic external ids within the API's
limit, and the reason a refused call is given back to the model."""

import hashlib

from reviewqueue_client.models import Recommendation

EXTERNAL_ID_MAX = 200  # the API's limit


def bounded_external_id(prefix: str, *parts: str) -> str:
    """`<prefix>:<part>:<part>...`, or `<prefix>:sha256:<hex of that>` when it is longer than
    the API allows. The same parts always give the same id, so a resubmission is a replay."""
    readable = ":".join((prefix, *parts))
    if len(readable) <= EXTERNAL_ID_MAX:
        return readable
    return f"{prefix}:sha256:{hashlib.sha256(readable.encode()).hexdigest()}"


def default_reject_message(rec: Recommendation) -> str:
    """`<reason_code>: <comment>`, which the agent hands to the model as the reason."""
    if rec.decision is None:
        if rec.status == "expired":
            return "expired: the request expired before a reviewer approved it."
        return f"{rec.status}: closed without a decision."
    parts = [p for p in (rec.decision.reason_code, rec.decision.comment) if p]
    return ": ".join(parts) or "rejected by a reviewer"
