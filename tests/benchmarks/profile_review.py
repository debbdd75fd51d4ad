"""Where a claim and a decision spend their time: wall-clock per phase, in-process.

Run by `scripts/bench review --profile` after the measurements, or by hand with the app's
environment and a reviewer's personal token of the refunds queue (items pending):

    python tests/benchmarks/profile_review.py TOKEN [PAIRS]

Posts claim + approve pairs through Django's test client (the whole middleware and DRF
stack, no HTTP server), wraps the service's steps with timers and times every SQL
statement. Timers nest: an indented line is part of the line above it. Wall-clock, not CPU:
SQL lines include the round trip and PostgreSQL's planning and execution. Each claimed
item is decided, so the queue is left as it was found, minus PAIRS items.
"""

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from benchlib import PhaseTimers  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from rest_framework import renderers  # noqa: E402

import reviewqueue.api.auth as auth  # noqa: E402
import reviewqueue.api.review as api  # noqa: E402
import reviewqueue.services.outbox as outbox  # noqa: E402
import reviewqueue.services.review as service  # noqa: E402

phase = ["-"]


def _sql_key(sql: str) -> str:
    words = " ".join(sql.split())
    if words.startswith("WITH m AS"):
        words = "WITH m AS ... (the claim: pick FOR UPDATE SKIP LOCKED, UPDATE, audit)"
    return f"[{phase[0]}] {words[:78]}"


timers = PhaseTimers(sql_key=_sql_key)
timed, sql_timer = timers.wrap, timers.sql
totals, calls, order, sql_times = timers.totals, timers.calls, timers.order, timers.sql_times


def report(title: str, n: int, elapsed: float) -> None:
    print(f"\n{title}: {elapsed / n * 1000:.2f} ms per claim + decision ({n} pairs)")
    for label in order:
        if calls[label]:
            print(
                f"  {label:<52} {totals[label] / n * 1000:8.3f} ms"
                f"  ({calls[label] / n:g} calls/pair)"
            )
    for sql, times in sql_times.items():
        print(
            f"  SQL x{len(times) / n:g}/pair: {sum(times) / n * 1000:8.3f} ms"
            f"  (avg {sum(times) / len(times) * 1000:.3f} ms)  {sql}"
        )


_PENDING_JOIN = (
    "SELECT r.id FROM reviewqueue_recommendation r, m\n"
    "    WHERE r.queue_id = m.queue_id AND r.status = 'pending'"
)
_PENDING_SCALAR = (
    "SELECT r.id FROM reviewqueue_recommendation r\n"
    "    WHERE r.queue_id = (SELECT queue_id FROM m) AND r.status = 'pending'"
)


def explain_claim(user: Any) -> None:
    """EXPLAIN ANALYZE the app's claim statement (rolled back), and for comparison the same
    statement with the queue id as a scalar subquery: the plan nodes and their times."""
    from django.db import transaction
    from django.utils import timezone

    sql = getattr(service, "_CLAIM_SQL_POSTGRES", None)
    if sql is None:
        print("(no _CLAIM_SQL_POSTGRES to explain)")
        return
    params = {"user": user.pk, "slug": "refunds", "now": timezone.now(), "username": user.username}
    variants = [("the app's claim statement", sql)]
    if _PENDING_JOIN in sql:
        variants.append(
            ("the same, pending pick with queue_id = (SELECT queue_id FROM m)",
             sql.replace(_PENDING_JOIN, _PENDING_SCALAR))
        )  # fmt: skip
    for title, text in variants:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) " + text, params)
                lines = [row[0] for row in cur.fetchall()]
            transaction.set_rollback(True)
        print(f"\nEXPLAIN ANALYZE, {title} (rolled back):")
        keep = ("CTE ", "Scan", "Sort", "LockRows", "Execution Time", "Planning Time")
        for line in lines:
            if any(k in line for k in keep) and "CTE Scan" not in line:
                print("  " + line.strip()[:150])


def main() -> None:
    token = sys.argv[1]
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    timed(auth.PersonalTokenAuthentication, "authenticate", "auth: PersonalTokenAuthentication")
    timed(api.review, "recommendation_claim", "service: recommendation_claim")
    timed(api.review, "recommendation_decide", "service: recommendation_decide")
    timed(service, "_load", "  _load (item + membership, one query)")
    timed(service, "_checked", "  _checked (decision_input.decision_check)")
    timed(service, "callback_event", "  callback_event (row for the source)")
    timed(outbox, "publish", "  outbox.publish (Celery message to Redis, on commit)")
    timed(api, "recommendation_repr", "view: recommendation_repr")
    timed(renderers.JSONRenderer, "render", "DRF: JSON render")

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")

    def pair() -> None:
        phase[0] = "claim"
        response = client.post("/api/v1/queues/refunds/claim")
        if response.status_code != 200:
            raise SystemExit(f"claim answered {response.status_code}: {response.content[:300]!r}")
        rec_id = json.loads(response.content)["id"]
        phase[0] = "decision"
        response = client.post(
            f"/api/v1/recommendations/{rec_id}/decision",
            data='{"outcome": "approve"}',
            content_type="application/json",
        )
        if response.status_code != 200:
            raise SystemExit(
                f"decision answered {response.status_code}: {response.content[:300]!r}"
            )

    for _ in range(3):  # warm up: imports, connections, caches
        pair()
    totals.clear()
    calls.clear()
    with connection.execute_wrapper(sql_timer):
        start = time.perf_counter()
        for _ in range(pairs):
            pair()
        elapsed = time.perf_counter() - start
    report("claim + approve, in-process", pairs, elapsed)
    from reviewqueue.models import PersonalToken

    prefix = token.split("_")[1]
    explain_claim(PersonalToken.objects.select_related("user").get(prefix=prefix).user)


if __name__ == "__main__":
    main()
