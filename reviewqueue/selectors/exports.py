"""What the streamed JSON Lines exports (decisions, audit trail) share: their time window
parameters and the streaming itself."""

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection, transaction
from django.utils import timezone

from reviewqueue.selectors.metrics import date_param, local_midnight

CHUNK = 2000  # rows per fetch from the server-side cursor
SEND_BYTES = 64 * 1024  # bytes per piece handed to the server: one write, not one per line


def export_window(
    params: Mapping[str, Any], errors: dict[str, str], now: datetime | None = None
) -> tuple[datetime, datetime] | None:
    """`from` and `to` are dates in `tz` (default UTC), `to` exclusive; without them, the
    last 30 days. Problems go into `errors` (keyed by parameter) and give None."""
    tz = ZoneInfo("UTC")
    found = len(errors)
    try:
        tz = ZoneInfo(str(params.get("tz") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        errors["tz"] = "Must be an IANA time zone name, e.g. Europe/Amsterdam."
    start, end = date_param(params, "from", errors), date_param(params, "to", errors)
    if len(errors) > found:
        return None
    end = end or (now or timezone.now()).astimezone(tz).date() + timedelta(days=1)
    start = start or end - timedelta(days=30)
    if start >= end:
        errors["to"] = "Must be after `from` (`to` is exclusive)."
        return None
    assert isinstance(start, date) and isinstance(end, date)
    return local_midnight(start, tz), local_midnight(end, tz)


def jsonl_pieces[T](rows: Callable[[], Iterable[T]], line: Callable[[T], str]) -> Iterator[bytes]:
    """Lines in pieces of about SEND_BYTES. Lazy: nothing is read before the first piece is
    asked for. `rows` should iterate a server-side cursor (`.iterator(chunk_size=CHUNK)`);
    it runs inside a transaction so that PostgreSQL streams it (in autocommit Django declares
    the cursor WITH HOLD, which makes PostgreSQL copy the whole result before the first
    row), with JIT off (compiling such a plan costs ~0.5 s before the first row and buys
    nothing for a query that streams along an index)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        pending: list[str] = []
        size = 0
        for row in rows():
            text = line(row)
            pending.append(text)
            size += len(text) + 1
            if size >= SEND_BYTES:
                yield ("\n".join(pending) + "\n").encode()
                pending, size = [], 0
        if pending:
            yield ("\n".join(pending) + "\n").encode()
