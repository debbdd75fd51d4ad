"""Where an ingest request spends its time: wall-clock per phase, in-process.

Run by `scripts/bench --profile` after the measurements (or by hand, with the app's
environment and an API key of the demo source: `python tests/benchmarks/profile_ingest.py
KEY`). Posts through Django's test client (the whole middleware and DRF stack, no HTTP
server), wraps the service's steps with timers and times every SQL statement. Timers nest:
an indented line is part of the line above it. Wall-clock, not CPU: SQL lines include the
round trip and PostgreSQL's planning and execution.
"""

import json
import os
import secrets
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

import psycopg._queries  # noqa: E402
from bench_ingest import item  # noqa: E402
from benchlib import PhaseTimers  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models.sql import compiler  # noqa: E402
from django.test import Client  # noqa: E402
from rest_framework import parsers, renderers  # noqa: E402

import reviewqueue.api.auth as auth  # noqa: E402
import reviewqueue.api.ingest as api  # noqa: E402
import reviewqueue.api.throttling as throttling  # noqa: E402
import reviewqueue.services.ingest as service  # noqa: E402

timers = PhaseTimers(sql_key=lambda sql: " ".join(sql.split()[:4])[:70])
timed, sql_timer = timers.wrap, timers.sql
totals, calls, order, sql_times = timers.totals, timers.calls, timers.order, timers.sql_times


def report(title: str, n: int, per: str, elapsed: float, items: int) -> None:
    print(f"\n{title}: {elapsed / n * 1000:.2f} ms per {per} ({items / elapsed:,.0f} items/s)")
    for label in order:
        if calls[label]:
            per_call = calls[label] / n
            print(f"  {label:<50} {totals[label] / n * 1000:8.3f} ms  ({per_call:g} calls/{per})")
    for sql, times in sql_times.items():
        print(
            f"  SQL x{len(times) / n:g}/{per}: {sum(times) / n * 1000:7.3f} ms"
            f"  (avg {sum(times) / len(times) * 1000:.3f} ms)  {sql}"
        )
    totals.clear()
    calls.clear()
    sql_times.clear()


def main() -> None:
    key = sys.argv[1]
    singles, batches, size = 400, 6, 1000
    timed(auth.ApiKeyAuthentication, "authenticate", "auth: ApiKeyAuthentication")
    timed(throttling.ApiKeyRateThrottle, "allow_request", "throttle: rate limit (Redis)")
    timed(api, "recommendation_ingest", "service: recommendation_ingest")
    timed(api, "recommendation_ingest_batch", "service: recommendation_ingest_batch")
    timed(service, "targets_for", "  targets_for (cached names and schemas)")
    timed(service, "_check", "  _check (per item: envelope, payload schema, hash)")
    timed(service, "content_hash", "    content_hash")
    timed(service, "_build", "  _build (routing, flags, rows)")
    timed(service, "_store", "  _store (INSERT recommendations + audit)")
    timed(service, "audit_event", "    audit_event() objects")
    timed(compiler.SQLInsertCompiler, "as_sql", "    Django SQLInsertCompiler.as_sql")
    timed(api, "recommendation_repr", "view: recommendation_repr")
    timed(parsers.JSONParser, "parse", "DRF: JSON parse")
    timed(renderers.JSONRenderer, "render", "DRF: JSON render")
    # Django's psycopg cursors bind client-side: psycopg parses each query for %s and
    # quotes every parameter into it (its parse cache skips queries over 4 kB).
    timed(psycopg._queries.PostgresClientQuery, "convert", "psycopg: parse+quote (all SQL)")

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {key}")
    run = "prof-" + secrets.token_hex(3)

    def post(url: str, body: Any) -> None:
        data = body if isinstance(body, str) else json.dumps(body)
        response = client.post(url, data=data, content_type="application/json")
        if response.status_code not in (200, 201):
            raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")

    single_url, batch_url = "/api/v1/recommendations", "/api/v1/recommendations/batch"
    for i in range(50):  # warm up
        post(single_url, item(f"{run}-w-{i}"))
    post(batch_url, {"items": [item(f"{run}-wb-{i}") for i in range(size)]})
    totals.clear()
    calls.clear()

    with connection.execute_wrapper(sql_timer):
        start = time.perf_counter()
        for i in range(singles):
            post(single_url, item(f"{run}-s-{i}"))
        elapsed = time.perf_counter() - start
        report("single item, in-process", singles, "request", elapsed, singles)

        bodies = [
            json.dumps({"items": [item(f"{run}-b{b}-{i}") for i in range(size)]})
            for b in range(batches)
        ]
        start = time.perf_counter()
        for body in bodies:
            post(batch_url, body)
        elapsed = time.perf_counter() - start
        report(f"batch of {size:,}, in-process", batches, "batch", elapsed, batches * size)


if __name__ == "__main__":
    main()
