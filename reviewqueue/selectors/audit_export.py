"""The audit trail for a time range as JSON Lines, for auditors and external verifiers.

One line per event with everything its hash covers: an external party can recompute each
line's hash (reviewqueue.lib.audit_chain.line_hash, or the recipe there) and check that
consecutive seqs link (`prev_hash` = the hash of the line before). `data` is the event's
data; `data_text` is the exact JSON text the hash covers (PostgreSQL's jsonb form: keys
ordered, numbers as stored), since re-serialising parsed JSON would not give it back.

Shared by GET /api/v1/exports/audit.jsonl and `manage.py export_audit`. Streamed like the
decisions export (reporting/export.py): a server-side cursor, inside a transaction.
"""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from reviewqueue import access
from reviewqueue.exceptions import Forbidden, ValidationFailed
from reviewqueue.lib.audit_chain import FIELDS, utc_text
from reviewqueue.models import AuditEvent, Queue, User
from reviewqueue.selectors.exports import CHUNK, export_window, jsonl_pieces


@dataclass(frozen=True)
class AuditExportRequest:
    chain: int | None  # a queue's chain; None: every chain, including 0 (no queue)
    lo: datetime
    hi: datetime


def audit_export_request(
    *, params: Mapping[str, Any], now: datetime | None = None
) -> AuditExportRequest:
    """Check the parameters (every problem at once, keyed by parameter): `from` and `to`
    are dates in `tz` (default UTC), `to` exclusive; without them, the last 30 days;
    `queue` is a slug."""
    errors: dict[str, str] = {}
    window = export_window(params, errors, now)
    slug = params.get("queue") or None
    queue_id = (
        Queue.objects.filter(slug=slug).values_list("pk", flat=True).first() if slug else None
    )
    if slug and queue_id is None:
        errors["queue"] = f"Unknown queue '{slug}'."
    if errors or window is None:
        raise ValidationFailed("The export parameters are not valid.", errors=errors)
    return AuditExportRequest(chain=queue_id, lo=window[0], hi=window[1])


def audit_export_for(
    *, user: User, params: Mapping[str, Any], now: datetime | None = None
) -> AuditExportRequest:
    """The API's entry: admins and auditors only (403), then audit_export_request."""
    if not access.may_read_audit(user):
        raise Forbidden("Only admins and auditors may export the audit trail.")
    return audit_export_request(params=params, now=now)


# The chain columns, then the hashed fields in hash order, with `data` as its stored text.
_COLUMNS = ("id", "chain", "seq", "prev_hash", "hash", *FIELDS[1:-1], "data_text")
assert FIELDS[0] == "id" and FIELDS[-1] == "data"


def audit_export_queryset(request: AuditExportRequest) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.filter(occurred_at__gte=request.lo, occurred_at__lt=request.hi)
    if request.chain is not None:
        qs = qs.filter(chain=request.chain)
    # Chain by chain, in chain order: consecutive lines of a chain link to each other.
    return qs.order_by("chain", "seq")


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def audit_line(row: tuple[Any, ...], slugs: Mapping[int, str], encode: Any) -> str:
    """One event as an export line, from a values_list() row of _COLUMNS."""
    (event_id, chain, seq, prev, digest, occurred_at, actor_kind, user_id, source_id) = row[:9]
    (label, action, rec_id, queue_id, model_name, model_version, prompt_version) = row[9:16]
    data_text = row[16]
    head = encode(
        {
            "id": str(event_id),
            "chain": chain,
            "seq": seq,
            "prev_hash": prev,
            "hash": digest,
            "occurred_at": utc_text(occurred_at),
            "actor_kind": actor_kind,
            "actor_user_id": _id(user_id),
            "actor_source_id": _id(source_id),
            "actor_label": label,
            "action": action,
            "recommendation_id": _id(rec_id),
            "queue_id": _id(queue_id),
            "queue": slugs.get(queue_id) if queue_id is not None else None,
            "model_name": model_name,
            "model_version": model_version,
            "prompt_version": prompt_version,
            "data_text": data_text,
        }
    )
    # The stored JSON goes in as it is: it is JSON already, and parsing it to write it out
    # again would only cost time.
    return f'{head[:-1]},"data":{data_text}}}'


def audit_export_lines(request: AuditExportRequest) -> Iterator[bytes]:
    """The export, streamed (selectors/exports.jsonl_pieces)."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    slugs = dict(Queue.objects.values_list("pk", "slug"))
    return jsonl_pieces(
        lambda: (
            audit_export_queryset(request)
            .annotate(data_text=Cast("data", TextField()))
            .values_list(*_COLUMNS)
            .iterator(chunk_size=CHUNK)
        ),
        lambda row: audit_line(row, slugs, encode),
    )
