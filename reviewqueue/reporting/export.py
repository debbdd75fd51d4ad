"""Decisions as a dataset: one JSON line per decision, with the input the AI saw, what it
proposed, what people made of it and why. Streamed: rows come through a server-side cursor
(PostgreSQL) in chunks, so memory stays flat whatever the range."""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from reviewqueue import access
from reviewqueue.exceptions import Forbidden, ValidationFailed
from reviewqueue.models import Decision, Queue, User
from reviewqueue.representations import iso
from reviewqueue.selectors.exports import CHUNK, export_window, jsonl_pieces
from reviewqueue.states import DecisionKind

KINDS = [k.value for k in DecisionKind]


@dataclass(frozen=True)
class ExportRequest:
    queue_ids: tuple[int, ...]
    lo: datetime
    hi: datetime
    kind: str | None  # None: every kind


def parse_export_request(
    *, user: User, params: Mapping[str, Any], now: datetime | None = None
) -> ExportRequest:
    """Admins and auditors only (403). from/to are dates in `tz` (default UTC), `to`
    exclusive; without them, the last 30 days. `kind`: human, policy or external."""
    if not access.reads_every_queue(user):
        raise Forbidden("Only admins and auditors may export decisions.")
    errors: dict[str, str] = {}
    window = export_window(params, errors, now)
    kind = params.get("kind") or None
    if kind is not None and kind not in KINDS:
        errors["kind"] = "Must be human, policy or external."
    slug = params.get("queue") or None
    queue = Queue.objects.filter(slug=slug).first() if slug else None
    if slug and queue is None:
        errors["queue"] = f"Unknown queue '{slug}'."
    if errors or window is None:
        raise ValidationFailed("The export parameters are not valid.", errors=errors)
    queue_ids = (
        (queue.pk,) if queue else tuple(Queue.objects.order_by("pk").values_list("pk", flat=True))
    )
    return ExportRequest(
        queue_ids=queue_ids,
        lo=window[0],
        hi=window[1],
        kind=str(kind) if kind else None,
    )


_FIELDS = (
    "id",
    "recommendation_id",
    "recommendation__external_id",
    "queue__slug",
    "source__name",
    "kind",
    "recommendation__rationale",
    "recommendation__evidence",
    "recommendation__metadata",
    "recommendation__confidence",
    "recommendation__risk_score",
    "action_type__name",
    "recommendation__payload",
    "payload",
    "outcome",
    "reason_code",
    "comment",
    "diff",
    "is_cosmetic",
    "bulk",
    "model_name",
    "model_version",
    "prompt_version",
    "reviewer__username",
    "created_at",
    "claimed_at",
    "decided_at",
)


def export_queryset(request: ExportRequest) -> QuerySet[Decision]:
    qs = Decision.objects.filter(
        queue_id__in=request.queue_ids, decided_at__gte=request.lo, decided_at__lt=request.hi
    )
    if request.kind:
        qs = qs.filter(kind=request.kind)
    # Queue by queue, oldest first: the order of the (queue, decided_at) index, so PostgreSQL
    # streams rows straight from it (only equal decided_at are sorted, by id) rather than
    # sorting the whole range before the first row.
    return qs.order_by("queue_id", "decided_at", "id")


def decision_line(row: Mapping[str, Any]) -> dict[str, Any]:
    """One decision as an export line, from a values() row of _FIELDS."""
    return {
        "id": str(row["id"]),
        "recommendation_id": str(row["recommendation_id"]),
        "external_id": row["recommendation__external_id"],
        "queue": row["queue__slug"],
        "source": row["source__name"],
        "kind": row["kind"],
        "input": {
            "rationale": row["recommendation__rationale"],
            "evidence": row["recommendation__evidence"],
            "metadata": row["recommendation__metadata"],
            "confidence": row["recommendation__confidence"],
            "risk_score": row["recommendation__risk_score"],
        },
        "proposal": {"type": row["action_type__name"], "payload": row["recommendation__payload"]},
        "final_payload": row["payload"],
        "outcome": row["outcome"],
        "reason_code": row["reason_code"],
        "comment": row["comment"],
        "diff": row["diff"],
        "is_cosmetic": row["is_cosmetic"],
        "bulk": row["bulk"],
        "model": {"name": row["model_name"], "version": row["model_version"]},
        "prompt_version": row["prompt_version"],
        "reviewer": row["reviewer__username"],
        "created_at": iso(row["created_at"]),
        "claimed_at": iso(row["claimed_at"]),
        "decided_at": iso(row["decided_at"]),
    }


def export_lines(request: ExportRequest) -> Iterator[bytes]:
    """The export, streamed (selectors/exports.jsonl_pieces)."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return jsonl_pieces(
        lambda: export_queryset(request).values(*_FIELDS).iterator(chunk_size=CHUNK),
        lambda row: encode(decision_line(row)),
    )
