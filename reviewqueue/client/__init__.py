"""Python client for Review Queue's public API (v1), sync and async, over httpx.

Importable without Django: it only speaks HTTP. The LangGraph adapter lives in
`reviewqueue.integrations.langgraph` (extra: `langgraph`).
"""

from reviewqueue.client.aio import AsyncReviewQueueClient
from reviewqueue.client.errors import (
    AuthenticationError,
    Conflict,
    DecisionTimeout,
    InvalidSignature,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ReviewQueueError,
    ServerError,
    TransportError,
    UnsupportedMediaType,
    ValidationError,
)
from reviewqueue.client.models import (
    OPEN_STATUSES,
    BatchItemResult,
    CallbackEvent,
    Decision,
    Evidence,
    Execution,
    ModelInfo,
    NewRecommendation,
    Outcome,
    Recommendation,
)
from reviewqueue.client.signatures import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    sign_callback,
    standard_webhook_headers,
    standard_webhooks_secret,
    verify_callback,
    verify_signature,
    verify_standard,
)
from reviewqueue.client.sync import ReviewQueueClient

__all__ = [
    "EVENT_ID_HEADER",
    "OPEN_STATUSES",
    "SIGNATURE_HEADER",
    "AsyncReviewQueueClient",
    "AuthenticationError",
    "BatchItemResult",
    "CallbackEvent",
    "Conflict",
    "Decision",
    "DecisionTimeout",
    "Evidence",
    "Execution",
    "InvalidSignature",
    "ModelInfo",
    "NewRecommendation",
    "NotFound",
    "Outcome",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "Recommendation",
    "ReviewQueueClient",
    "ReviewQueueError",
    "ServerError",
    "TransportError",
    "UnsupportedMediaType",
    "ValidationError",
    "sign_callback",
    "standard_webhook_headers",
    "standard_webhooks_secret",
    "verify_callback",
    "verify_signature",
    "verify_standard",
]
