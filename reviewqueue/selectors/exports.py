"""What the streamed JSON Lines exports (decisions, audit trail) share: their time window
parameters and the streaming itself."""

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from reviewqueue.lib.dates import date_param, local_midnight

log = logging.getLogger(__name__)

CHUNK = 2000  # rows per fetch from the server-side cursor
SEND_BYTES = 64 * 1024  # bytes per piece handed to the server: one write, not one per line
# A stalled client must not hold a transaction (and its snapshot, which keeps VACUUM from
# cleaning up) open: while the server waits for the client to take the next piece, the
# export's transaction is idle, and PostgreSQL ends the session after this long; the export
# then ends too. One fetch of CHUNK rows may take at most the statement timeout.
EXPORT_IDLE_SECONDS = 60
EXPORT_STATEMENT_SECONDS = 60


def _seconds(name: str, default: int) -> int:
    return max(1, int(getattr(settings, name, default)))


class _Stalled(Exception):
    """The client took longer than the idle timeout to take a piece."""


def _close(source: Iterator[Any]) -> None:
    """Close the server-side cursor now rather than when the iterator is collected. If the
    session is gone (a statement timeout ended it), closing it can only fail: nothing is
    left to free."""
    close = getattr(source, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:  # the driver's own error class, raised past Django's wrapper
        log.debug("export cursor already gone", exc_info=True)


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
    nothing for a query that streams along an index).

    Bounded (issue 14 #9): each fetch by REVIEWQUEUE_EXPORT_STATEMENT_SECONDS (statement
    timeout), and the wait for the client between pieces by REVIEWQUEUE_EXPORT_IDLE_SECONDS
    (idle-in-transaction timeout: PostgreSQL ends the session of a stalled export, which
    frees its snapshot even while this process is still blocked writing to the client).
    A client that comes back after that gets the stream's end, without the rest."""
    idle = _seconds("REVIEWQUEUE_EXPORT_IDLE_SECONDS", EXPORT_IDLE_SECONDS)
    statement = _seconds("REVIEWQUEUE_EXPORT_STATEMENT_SECONDS", EXPORT_STATEMENT_SECONDS)
    started = False
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('jit', 'off', true),"
                    " set_config('statement_timeout', %s, true),"
                    " set_config('idle_in_transaction_session_timeout', %s, true)",
                    [f"{statement}s", f"{idle}s"],
                )
            pending: list[str] = []
            size = 0
            source = iter(rows())
            try:
                for row in source:
                    text = line(row)
                    pending.append(text)
                    size += len(text) + 1
                    if size >= SEND_BYTES:
                        sent = time.monotonic()
                        started = True
                        yield ("\n".join(pending) + "\n").encode()
                        if time.monotonic() - sent > idle:
                            # PostgreSQL has ended (or is about to end) the session: drop
                            # the connection first, so nothing tries to use it again.
                            connection.close()
                            raise _Stalled
                        pending, size = [], 0
            finally:
                _close(source)
            if pending:
                yield ("\n".join(pending) + "\n").encode()
    except (_Stalled, DatabaseError) as exc:
        if not started:
            raise  # nothing sent yet: the view answers with an error
        # The 200 and part of the body are out: end the stream. After a stall the session
        # was ended by PostgreSQL (or is rolled back now); Django drops the connection and
        # opens a new one for the next query. (PostgreSQL counts idle time from the last
        # fetch, which may be a few pieces back: a client far slower than CHUNK rows per
        # idle timeout is ended as well.)
        log.warning(
            "export ended early: the client took more than %s s to read (%s)",
            idle,
            type(exc).__name__,
            exc_info=isinstance(exc, DatabaseError),
        )
