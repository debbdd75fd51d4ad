"""Canonical JSON and hashes: the same content always gives the same bytes."""

import hashlib
import json
import re
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


# Where a float with an integer value could be in json.dumps' text: its repr ends in ".0"
# (40.0) or has a positive exponent (1e+16; every float from 1e16 up is an integer). A
# string with such text only sends the value the slow way.
_MAYBE_WHOLE_FLOAT = re.compile(r"\.0(?![0-9])|e\+")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    # Most content has no whole float: then _normalise changes nothing and its walk (40% of
    # the hash of an ingest item) is skipped.
    text = _dumps(value)
    if (".0" in text or "e+" in text) and _MAYBE_WHOLE_FLOAT.search(text):
        text = _dumps(_normalise(value))
    return text.encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(value: Any) -> str:
    return sha256_hex(canonical_json(value))
