"""Python client for Review Queue's public API (v1), sync and async, over httpx.

Its own distribution, `reviewqueue-client`: it needs only httpx and nothing of the server.
Adapters: `reviewqueue_client.langgraph` (extra `langgraph`) and
`reviewqueue_client.openai_agents` (extra `openai-agents`).
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from reviewqueue_client.aio import AsyncReviewQueueClient
from reviewqueue_client.errors import (
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
    SignatureExpired,
    SignatureMalformed,
    SignatureMismatch,
    TransportError,
    UnsupportedMediaType,
    ValidationError,
)
from reviewqueue_client.models import (
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
from reviewqueue_client.signatures import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    sign_callback,
    standard_webhook_headers,
    standard_webhooks_secret,
    verify_callback,
    verify_signature,
    verify_standard,
)
from reviewqueue_client.sync import ReviewQueueClient

try:
    __version__ = _version("reviewqueue-client")
except PackageNotFoundError:  # pragma: no cover - run from a source tree without metadata
    __version__ = "0+unknown"

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
    "SignatureExpired",
    "SignatureMalformed",
    "SignatureMismatch",
    "TransportError",
    "UnsupportedMediaType",
    "ValidationError",
    "__version__",
    "sign_callback",
    "standard_webhook_headers",
    "standard_webhooks_secret",
    "verify_callback",
    "verify_signature",
    "verify_standard",
]
