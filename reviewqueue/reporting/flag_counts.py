"""Anomaly flags counted for people: per queue, the items that arrived flagged in a range and
how many carried each kind (the reports page and its CSV, the queue page).

One grouped query over the flagged items only: `flags <> '[]'` with the queue and the
creation time is the partial index rec_flagged_idx, so the cost follows the flagged part of
the history, however many items were not flagged. Items are counted by `created_at` (the
flag is set on arrival), whatever happened to them since and whoever decided them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Q

from reviewqueue.models import Queue, Recommendation
from reviewqueue.reporting.scope import TrendFilters
from reviewqueue.states import FlagKind

FLAG_KINDS: tuple[FlagKind, ...] = tuple(FlagKind)


@dataclass(frozen=True)
class FlagCounts:
    queue: Queue
    flagged: int  # items with at least one flag
    by_kind: dict[str, int]  # items carrying each kind: one with two kinds counts for both

    @property
    def kinds(self) -> list[tuple[str, int]]:
        """(kind, items) for every kind, in FlagKind's order, zeros included."""
        return [(kind.value, self.by_kind.get(kind.value, 0)) for kind in FLAG_KINDS]


def flag_counts(
    *,
    queues: Sequence[Queue],
    lo: datetime,
    hi: datetime,
    filters: TrendFilters | None = None,
) -> list[FlagCounts]:
    """One row per queue of `queues` (the caller's scope: who may see which queue is decided
    there), counting items created in [lo, hi). `filters` narrows by action type, source,
    model and prompt version as the rest of a report does; its queues are `queues` and its
    reviewer does not apply (a flag belongs to the item, not to a decision)."""
    qs = Recommendation.objects.filter(
        queue__in=list(queues), created_at__gte=lo, created_at__lt=hi
    ).exclude(flags=[])
    if filters is not None:
        narrow = {
            "action_type_id": filters.action_type_id,
            "source_id": filters.source_id,
            "model_name": filters.model_name,
            "model_version": filters.model_version,
            "prompt_version": filters.prompt_version,
        }
        qs = qs.filter(**{k: v for k, v in narrow.items() if v is not None})
    # jsonb containment (@>) per kind: an item with two outlier fields counts once.
    per_kind = {
        f"n_{kind.value}": Count("id", filter=Q(flags__contains=[{"kind": kind.value}]))
        for kind in FLAG_KINDS
    }
    rows: dict[int, Any] = {
        row["queue"]: row
        for row in qs.values("queue").annotate(n=Count("id"), **per_kind).order_by()
    }
    out = []
    for queue in queues:
        row = rows.get(queue.pk, {})
        out.append(
            FlagCounts(
                queue=queue,
                flagged=row.get("n", 0),
                by_kind={kind.value: row.get(f"n_{kind.value}", 0) for kind in FLAG_KINDS},
            )
        )
    return out
