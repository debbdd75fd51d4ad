"""Workbench benchmark: claim a chosen item, assign, and a bulk decision of 100 (issue 17).

    scripts/bench workbench
    scripts/bench workbench --history 1000000 --rounds 5

Targets from issue 17: claim of a chosen item and assignment p50 <= 10 ms; a bulk decision
of 100 items <= 1 s. It is a measurement, not a test: not collected by pytest; it exits 0
when the run worked, whatever the figures.

In process, through Django's test Client: every request runs the whole middleware stack,
personal-token authentication, the view, the service and its SQL on scripts/bench's
PostgreSQL, but no HTTP server and no network (a gunicorn round trip on this machine adds
about 1 ms; bench_review.py measures the claim-decide loop over HTTP). Execution messages go
to scripts/bench's Redis; no worker runs.

Set-up (not measured): demo/reviewqueue.toml, users alice (reviewer) and sam (senior) of
`refunds`, then `--history` decided rows loaded with one INSERT ... SELECT (so the queue's
indexes are as big as a busy queue's) and the waiting items the rounds use, ingested through
the batch path (risk 0.1, under bulk_max_risk). Each round measures, on fresh items:
`--each` claims of a chosen item (then released, so the next claim is not a give-back),
`--each` assignments, and one bulk approve of 100. Reported: p50 and p95 per operation over
all rounds, and the bulk's median wall time, with SQL statements per operation.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib
from benchlib import ROOT, log, pct

sys.path.insert(0, str(ROOT))


def _items(source: Any, n: int, tag: str) -> list[str]:
    from reviewqueue.services.ingest import recommendation_ingest_batch

    ids: list[str] = []
    for start in range(0, n, 1000):
        body = [
            {
                "queue": "refunds",
                "external_id": f"{tag}-{i}",
                "action": {"type": "refund.issue", "payload": {"order_id": f"A-{i}", "amount": 40}},
                "confidence": 0.5,
                "risk_score": 0.1,
                "rationale": "bench",
                "model": {"name": "bench", "version": "1"},
            }
            for i in range(start, min(n, start + 1000))
        ]
        results = recommendation_ingest_batch(source=source, items=body)
        ids += [r.recommendation_id for r in results if r.recommendation_id]
    return ids


def _history(n: int) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO reviewqueue_recommendation
              (id, queue_id, action_type_id, source_id, external_id, content_hash, payload,
               confidence, risk_score, rationale, evidence, model_name, model_version,
               prompt_version, priority, metadata, route, status, created_at, updated_at,
               qa_sampled, flags, closed_at)
            SELECT gen_random_uuid(), q.id, a.id, s.id, 'hist-' || g, md5(g::text),
                   '{"order_id": "H", "amount": 10}', 0.9, 0.1, 'history', '[]', 'bench', '1',
                   '', 0, '{}', 'review', 'decided', now() - interval '1 day',
                   now() - interval '1 day', false, '[]', now() - interval '1 day'
            FROM generate_series(1, %s) g,
                 (SELECT id FROM reviewqueue_queue WHERE slug = 'refunds') q,
                 (SELECT id FROM reviewqueue_actiontype WHERE name = 'refund.issue') a,
                 (SELECT id FROM reviewqueue_source WHERE name = 'support-agent') s
            """,
            [n],
        )
        cur.execute("ANALYZE reviewqueue_recommendation")


def _timed(client: Any, path: str, body: Any, expect: int) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.post(path, body, content_type="application/json")
        elapsed = time.perf_counter() - start
    if response.status_code != expect:
        raise benchlib.BenchError(f"{path}: {response.status_code} {response.content[:300]!r}")
    return elapsed, len(queries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--each", type=int, default=100)
    args = parser.parse_args()
    benchlib.require_services("workbench")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("REVIEWQUEUE_OUTBOUND_ALLOWLIST", "127.0.0.1:9100")
    os.environ.setdefault("DEMO_WEBHOOK_SECRET", "bench")
    for name in ("alice", "bob"):
        benchlib.manage(
            "create_user",
            name,
            "--role",
            "reviewer",
            env={"REVIEWQUEUE_PASSWORD": uuid.uuid4().hex},
        )
    benchlib.manage("apply_config", str(ROOT / "demo" / "reviewqueue.toml"))
    import django

    django.setup()
    from reviewqueue.models import ActionType

    ActionType.objects.filter(name="refund.issue").update(executor="noop")
    from django.test import Client

    from reviewqueue.models import Source, User
    from reviewqueue.services.audit import Actor
    from reviewqueue.services.setup import user_create
    from reviewqueue.services.tokens import personal_token_create

    for name, role in (("alice", "reviewer"), ("sam", "senior")):
        user_create(
            username=name,
            role=role,
            password=uuid.uuid4().hex,
            queues=["refunds"],
            actor=Actor.system("bench"),
        )
    clients = {}
    for name in ("alice", "sam"):
        _, token = personal_token_create(
            user=User.objects.get(username=name), actor=Actor.system("bench")
        )
        clients[name] = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
    log(f"loading {args.history:,} history rows")
    _history(args.history)
    source = Source.objects.get(name="support-agent")
    need = args.rounds * (2 * args.each + 100)
    log(f"ingesting {need:,} waiting items")
    ids = iter(_items(source, need, uuid.uuid4().hex[:8]))
    series: dict[str, list[float]] = {"claim chosen": [], "assign": [], "bulk of 100": []}
    statements: dict[str, int] = {}
    alice, sam = clients["alice"], clients["sam"]
    for round_no in range(args.rounds):
        for _ in range(args.each):
            pk = next(ids)
            t, n = _timed(alice, f"/api/v1/recommendations/{pk}/claim", None, 200)
            series["claim chosen"].append(t)
            statements["claim chosen"] = n
            alice.post(f"/api/v1/recommendations/{pk}/release", HTTP_HOST="127.0.0.1")
        for _ in range(args.each):
            pk = next(ids)
            t, n = _timed(sam, f"/api/v1/recommendations/{pk}/assign", {"user": "alice"}, 200)
            series["assign"].append(t)
            statements["assign"] = n
        batch = [next(ids) for _ in range(100)]
        t, n = _timed(
            alice,
            "/api/v1/queues/refunds/bulk-decision",
            {"ids": batch, "outcome": "approve"},
            200,
        )
        series["bulk of 100"].append(t)
        statements["bulk of 100"] = n
        log(f"round {round_no + 1}: bulk of 100 in {t * 1000:.0f} ms")
    print(
        f"\nworkbench at {args.history:,} history rows, {args.rounds} rounds, load {benchlib.loadavg():.2f}"
    )
    print(f"{'operation':<14} {'p50 ms':>8} {'p95 ms':>8} {'median ms':>10} {'SQL':>5}")
    for name, values in series.items():
        ms = [v * 1000 for v in values]
        print(
            f"{name:<14} {pct(ms, 50):8.1f} {pct(ms, 95):8.1f} "
            f"{statistics.median(ms):10.1f} {statements[name]:5d}"
        )
    return 0


if __name__ == "__main__":
    benchlib.run_bench(main, "bench_workbench")
