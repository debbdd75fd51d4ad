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

The database computes the same text when it writes the row (the PostgreSQL trigger in
migration 0007, or `sqlite_audit_hash` below on SQLite); `verify_audit` and external
verifiers recompute it from the stored columns with this module. The format is fixed:
changing it would invalidate every stored chain.
"""

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

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
    if moment.tzinfo is None:  # SQLite hands naive UTC
        moment = moment.replace(tzinfo=UTC)
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


def sqlite_audit_hash(
    prev_hash: str,
    id_: int,
    occurred_at: str,
    actor_kind: str,
    actor_user_id: int | None,
    actor_source_id: int | None,
    actor_label: str,
    action: str,
    recommendation_id: str | None,
    queue_id: int | None,
    model_name: str,
    model_version: str,
    prompt_version: str,
    data: str,
) -> str:
    """`rq_audit_hash(...)` for SQLite's chain trigger, from the raw column values SQLite
    stores (timestamps as naive UTC text, UUIDs as 32 hex digits)."""
    return event_hash(
        prev_hash,
        {
            "id": id_,
            "occurred_at": datetime.fromisoformat(occurred_at),
            "actor_kind": actor_kind,
            "actor_user_id": actor_user_id,
            "actor_source_id": actor_source_id,
            "actor_label": actor_label,
            "action": action,
            "recommendation_id": UUID(recommendation_id) if recommendation_id else None,
            "queue_id": queue_id,
            "model_name": model_name,
            "model_version": model_version,
            "prompt_version": prompt_version,
            "data": data,
        },
    )


SQLITE_HASH_ARGS = 14


def register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """connection_created receiver: SQLite computes the chain with this Python function.
    A connection without it (say, the sqlite3 shell) cannot insert audit events at all."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "rq_audit_hash", SQLITE_HASH_ARGS, sqlite_audit_hash, deterministic=True
        )
