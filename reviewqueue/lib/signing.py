"""Signatures on every outbound request:
`X-ReviewQueue-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.

Nothing is ever sent unsigned: `signing_secret_problem` says why a `signing_secret_env` cannot
sign, and is asked when configuration is applied and again before every send (the
environment of a worker may differ from the one that applied the file)."""

import hashlib
import hmac
import os
import time

from django.conf import settings

HEADER = "X-ReviewQueue-Signature"
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
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(
    secret: str, body: bytes, header: str, *, tolerance: int = 300, now: int | None = None
) -> bool:
    """True when `header` signs `body` with `secret` within `tolerance` seconds."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    current = int(time.time()) if now is None else now
    if abs(current - t) > tolerance:
        return False
    expected = sign(secret, body, t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


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
