"""Signatures on every outbound request:
`X-ReviewQueue-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
The signer itself is the client package's (`client/signatures.py`), so what the server sends
and what receivers verify with the client are one implementation.

Nothing is ever sent unsigned: `signing_secret_problem` says why a `signing_secret_env` cannot
sign, and is asked when configuration is applied and again before every send (the
environment of a worker may differ from the one that applied the file)."""

import hmac
import os

from django.conf import settings
from reviewqueue_client.errors import InvalidSignature
from reviewqueue_client.signatures import SIGNATURE_HEADER, sign_callback, verify_signature

HEADER = SIGNATURE_HEADER
# Executors whose requests are signed with the action type's secret (custom executors get
# the secret too, but may talk to systems that do not take our signature).
SIGNED_EXECUTORS = frozenset({"webhook"})
# Variables that hold the application's own secrets: a target that learns one of them (or
# can test guesses against signatures made with it) must not gain anything else.
APP_SECRET_VARIABLES = frozenset(
    {
        "DJANGO_SECRET_KEY",
        "REVIEWQUEUE_METRICS_TOKEN",
        "REVIEWQUEUE_PASSWORD",
        "DATABASE_URL",
        "CELERY_BROKER_URL",
    }
)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body`: the client package's signer, so the two never differ."""
    return sign_callback(body, secret, timestamp=timestamp)


def verify(
    secret: str, body: bytes, header: str, *, tolerance: int = 300, now: int | None = None
) -> bool:
    """True when `header` signs `body` with `secret` within `tolerance` seconds (the client
    package's verifier, as every receiver of ours runs it)."""
    try:
        verify_signature(body, header, secret, tolerance=tolerance, now=now)
    except InvalidSignature:
        return False
    return True


def _app_secrets() -> list[str]:
    values = [
        settings.SECRET_KEY,
        *getattr(settings, "SECRET_KEY_FALLBACKS", []),
        getattr(settings, "REVIEWQUEUE_METRICS_TOKEN", ""),
    ]
    return [str(v) for v in values if v]


def signing_secret_problem(env_name: str) -> str | None:
    """Why the environment variable `env_name` cannot sign outbound requests, or None when
    it can. The message names the variable and never its value."""
    if not env_name:
        return "signing_secret_env is empty; requests are never sent unsigned"
    if env_name in APP_SECRET_VARIABLES:
        return (
            f"signing_secret_env {env_name} is one of the application's own secrets; "
            "give webhooks and callbacks a secret of their own"
        )
    value = os.environ.get(env_name, "")
    if not value:
        return f"the environment variable {env_name} (signing_secret_env) is not set or empty"
    if any(hmac.compare_digest(value.encode(), s.encode()) for s in _app_secrets()):
        return (
            f"the environment variable {env_name} (signing_secret_env) holds the same value as "
            "an application secret (DJANGO_SECRET_KEY or REVIEWQUEUE_METRICS_TOKEN); "
            "give webhooks and callbacks a secret of their own"
        )
    return None
