"""The audit chain's hash, in Python: the one definition every checker recomputes from.

Each audit event stores `hash = sha256(canonical text)` (hex) where the canonical text is
the previous event's hash in the same chain (GENESIS for the first) followed by `|` and
then, for each of the fields below in this order, `<length>:<value>|` (length in
characters; NULL is the empty string). The length prefixes make the serialisation
unambiguous: no value can shift text into its neighbour.

    id, occurred_at (UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ), actor_kind, actor_user_id,
    actor_source_id, actor_label, action, recommendation_id (hyphenated UUID), queue_id,
    model_name, model_version, prompt_version, data (the stored JSON text: PostgreSQL's
    jsonb output, key-ordered)

The database computes the same text when it writes the row (the trigger in migration
0007); `verify_audit` and external verifiers recompute it from the stored columns with this
module. The format is fixed: changing it would invalidate every stored chain.
"""

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # prev_hash of the first event of every chain

# Fields in hash order. The names are the model's column names.
FIELDS = (
    "id",
    "occurred_at",
    "actor_kind",
    "actor_user_id",
    "actor_source_id",
    "actor_label",
    "action",
    "recommendation_id",
    "queue_id",
    "model_name",
    "model_version",
    "prompt_version",
    "data",
)


def utc_text(moment: datetime) -> str:
    """The fixed timestamp format of the canonical text (microseconds, always)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return utc_text(value)
    return str(value)  # ints as decimal, UUIDs hyphenated


def canonical_text(prev_hash: str, values: Sequence[Any]) -> str:
    """The text that is hashed, from the previous hash and the event's values in FIELDS
    order (`data` as its stored JSON text)."""
    parts = [prev_hash, "|"]
    for raw in values:
        value = _text(raw)
        parts.append(f"{len(value)}:{value}|")
    return "".join(parts)


def fields_hash(prev_hash: str, values: Sequence[Any]) -> str:
    """The hash of an event from its values in FIELDS order."""
    return hashlib.sha256(canonical_text(prev_hash, values).encode()).hexdigest()


def event_hash(prev_hash: str, values: Mapping[str, Any]) -> str:
    """The hash of an event from a mapping of FIELDS names to values."""
    return fields_hash(prev_hash, [values[name] for name in FIELDS])


def line_hash(line: Mapping[str, Any]) -> str:
    """The hash of one line of the audit export (`export_audit` or
    /api/v1/exports/audit.jsonl), recomputed from the line alone: `data_text` is the exact
    JSON text that was hashed, the other fields are as exported."""
    return event_hash(line["prev_hash"], {**line, "data": line["data_text"]})
