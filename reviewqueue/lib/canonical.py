"""Canonical JSON and hashes: the same content always gives the same bytes."""

import hashlib
import json
from typing import Any


def _normalise(value: Any) -> Any:
    # 40 and 40.0 are the same amount; a client that re-serialises must not get a 409.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        _normalise(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    return sha256_hex(canonical_json(value))
