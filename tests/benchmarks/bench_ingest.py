"""Ingest benchmark: how fast we store recommendations, against two baselines, in one run.

Run it (from the repository root; it starts a throwaway PostgreSQL and Redis, migrates,
runs this file and stops everything; extra arguments come here, see --help):

    scripts/bench
    scripts/bench --rounds 3 --duration 8 --batches 15
    scripts/bench --profile     # then time ingest's phases in-process (profile_ingest.py)

It is a measurement, not a test: not collected by pytest, and it exits 0 whenever the run
itself worked, whether targets are met or not (1 if a server failed or answered errors).

What it measures, each `--rounds` times (interleaved: A, A', B, 3a, 3b, 3c, then again),
with the median reported:

  A   raw psycopg 3: multi-row INSERT of recommendation-shaped rows, 1,000 rows per statement,
      one transaction each, one connection, into `bench_raw` (LIKE reviewqueue_recommendation
      INCLUDING ALL: same columns, indexes and checks, no foreign keys). A server-side
      prepared statement run through psycopg's libpq layer, the values dumped by psycopg's
      adapters inside the timed loop. Rows/s, and p50/p95 per statement. The target's
      baseline: what the driver and the database can do.
  A'  the same rows through plain cursor.execute() with %s placeholders (half as many rows),
      for context: psycopg re-parses the ~100 kB query text on every call (its parse cache
      skips queries over 4 kB), which is what Django's bulk_create also pays.
  B   a minimal Django view (tests/benchmarks/minimal_app.py: parse JSON, one INSERT into
      `bench_minimal`) under gunicorn with the same settings as the app, driven by wrk with
      8 connections. Requests/s and p50/p95. Also with 1 connection, for context.
  3a  our POST /api/v1/recommendations/batch, 1,000 items per request (unique external_ids),
      one client posting pre-encoded bodies back to back. Items/s (the service's audit
      rows are part of our cost), p50/p95 per batch.
  3b  our POST /api/v1/recommendations, one item per request, wrk with 8 connections.
  3c  the same with 1 connection: sequential latency p50/p95.

Targets: 3a >= 30% of A; 3b >= 60% of B (8 connections); 3c p50 <= 5 ms.

Both servers run `gunicorn --workers 2 --threads 1` (sync workers, no access log; change
with --workers/--threads: Procfile.dev runs --threads 4, i.e. gthread workers) with persistent database connections (CONN_MAX_AGE=600, health
checks on, as in config/settings.py), and REVIEWQUEUE_INGEST_RATE is set far out of reach.
The load generator is wrk (C, event loop; tests/benchmarks/wrk_post.lua makes each body's
external_id unique). Client, servers, PostgreSQL and Redis share the machine's cores, and
scripts/bench's PostgreSQL runs with fsync=off and synchronous_commit=off: the figures are
for ratios, not for durability claims.

Needs DATABASE_URL (PostgreSQL, database migrated) and CELERY_BROKER_URL (Redis), as
scripts/bench exports them, and wrk on PATH.
"""

import argparse
import hashlib
import http.client
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.types.json import Jsonb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from benchlib import (  # noqa: E402
    ACTION_TYPE,
    QUEUE,
    ROOT,
    SOURCE,
    BenchError,
    Gunicorn,
    checks_table,
    log,
    manage,
    pct,
    require_services,
    run_bench,
)

WRK_SCRIPT = HERE / "wrk_post.lua"
HUGE_RATE = "100000000/m"
TARGET_BATCH_VS_RAW = 0.30
TARGET_SINGLE_VS_MINIMAL = 0.60
TARGET_SEQUENTIAL_P50_MS = 5.0


# --- Bodies and rows ---------------------------------------------------------------------


def item(external_id: str) -> dict[str, Any]:
    """A valid recommendation for the demo config's `refunds` queue (as tests/conftest.py)."""
    return {
        "queue": QUEUE,
        "external_id": external_id,
        "action": {
            "type": ACTION_TYPE,
            "payload": {"order_id": "A-1042", "amount": 12.5},
        },
        "confidence": 0.91,
        "risk_score": 0.42,
        "rationale": "Customer was charged twice for the order.",
        "evidence": [{"title": "Order", "url": "https://crm.example/orders/A-1", "snippet": "..."}],
        "model": {"name": "refund-agent", "version": "2026-10-01"},
        "prompt_version": "refund-v7",
        "priority": 0,
        "expires_at": "2036-11-23T12:00:00Z",
        "metadata": {"customer_tier": "gold"},
    }


def uuid7() -> uuid.UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | ((rand >> 62) & 0xFFF) << 64
    return uuid.UUID(int=value | 0b10 << 62 | rand & ((1 << 62) - 1))


# Every concrete column of reviewqueue_recommendation: what Django's bulk_create writes.
RAW_COLUMNS = (
    "id", "source_id", "queue_id", "action_type_id", "external_id", "content_hash", "payload",
    "confidence", "risk_score", "rationale", "evidence", "model_name", "model_version",
    "prompt_version", "priority", "expires_at", "metadata", "route", "status", "created_at",
    "updated_at", "due_at", "claimed_by_id", "claimed_at", "lease_expires_at", "escalated_at",
    "overdue_at", "closed_at", "qa_sampled",
)  # fmt: skip


def raw_row(data: dict[str, Any], ids: tuple[int, int, int], now: datetime) -> tuple[Any, ...]:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    values = {
        "id": uuid7(),
        "source_id": ids[0],
        "queue_id": ids[1],
        "action_type_id": ids[2],
        "external_id": data["external_id"],
        "content_hash": hashlib.sha256(canonical).hexdigest(),
        "payload": Jsonb(data["action"]["payload"]),
        "confidence": data["confidence"],
        "risk_score": data["risk_score"],
        "rationale": data["rationale"],
        "evidence": Jsonb(data["evidence"]),
        "model_name": data["model"]["name"],
        "model_version": data["model"]["version"],
        "prompt_version": data["prompt_version"],
        "priority": data["priority"],
        "expires_at": datetime.fromisoformat(data["expires_at"]),
        "metadata": Jsonb(data["metadata"]),
        "route": "review",
        "status": "pending",
        "created_at": now,
        "updated_at": now,
        "due_at": now + timedelta(minutes=60),
        "qa_sampled": False,
    }
    return tuple(values.get(column) for column in RAW_COLUMNS)


# --- Results -----------------------------------------------------------------------------


@dataclass
class Sample:
    rate: float  # items (rows) per second
    p50_ms: float
    p95_ms: float
    count: int = 0  # items stored (requests or rows)
    note: str = ""


@dataclass
class Series:
    label: str
    unit: str  # what the latency is of
    samples: list[Sample] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)


# --- Measurements ------------------------------------------------------------------------


def run_wrk(
    port: int, path: str, key: str | None, prefix: str, connections: int, seconds: int
) -> Sample:
    head, tail = json.dumps(item("@@EXT@@")).split("@@EXT@@")
    threads = min(connections, 2)
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}{path}",
        "--", path, key or "-", head, tail, prefix,
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise BenchError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    stats = json.loads(line.removeprefix("BENCH_JSON "))
    errors = {k: v for k, v in stats.items() if k.endswith("_errors") and v}
    if stats["requests"] == 0 or errors.get("status_errors"):
        raise BenchError(f"{path}: non-2xx answers or no requests: {stats}")
    return Sample(
        rate=stats["requests"] / (stats["duration_us"] / 1e6),
        p50_ms=stats["p50_us"] / 1000,
        p95_ms=stats["p95_us"] / 1000,
        count=stats["requests"],
        note=f"{stats['requests']} requests" + (f", socket errors {errors}" if errors else ""),
    )


def count_like(conn: psycopg.Connection, table: str, prefix: str) -> int:
    row = conn.execute(
        f"SELECT count(*) FROM {table} WHERE external_id LIKE %s",
        (prefix + "%",),
    ).fetchone()
    return int(row[0]) if row else 0


def bench_raw(
    conn: psycopg.Connection, ids: tuple[int, int, int], prefix: str, rows: int, prepared: bool
) -> Sample:
    """1,000-row INSERTs, one transaction each (autocommit).

    prepared=True (baseline A): a server-side prepared statement with $n parameters, run
    through libpq with the values dumped by psycopg's adapters in the timed loop.
    prepared=False (A', context): cursor.execute() with %s placeholders, as Django does:
    psycopg then re-parses the ~100 kB query text on every call (its parse cache stops at
    4,096 bytes and 50 parameters), which costs more than the insert itself.
    """
    per_statement, ncol = 1000, len(RAW_COLUMNS)
    now = datetime.now(UTC)
    batches = [
        [raw_row(item(f"{prefix}-{b}-{i}"), ids, now) for i in range(per_statement)]
        for b in range(rows // per_statement)
    ]
    params = [[value for row in batch for value in row] for batch in batches]
    times: list[float] = []
    columns = ", ".join(RAW_COLUMNS)
    if prepared:
        values = ", ".join(
            "(" + ", ".join(f"${r * ncol + c + 1}" for c in range(ncol)) + ")"
            for r in range(per_statement)
        )
        name = ("bench_raw_" + prefix.replace("-", "_")).encode()
        tx = Transformer(conn)
        formats = [PyFormat.AUTO] * (ncol * per_statement)
        tx.dump_sequence(params[0], formats)
        types = tx.types
        result = conn.pgconn.prepare(
            name, f"INSERT INTO bench_raw ({columns}) VALUES {values}".encode(), types
        )
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise BenchError(f"PREPARE failed: {result.get_error_message()}")
        start = time.perf_counter()
        for batch_params in params:
            t0 = time.perf_counter()
            dumped = tx.dump_sequence(batch_params, formats)
            if tx.types != types:
                raise BenchError("baseline A: parameter types changed between statements")
            result = conn.pgconn.exec_prepared(name, dumped, tx.formats)
            if result.status != pq.ExecStatus.COMMAND_OK:
                raise BenchError(f"baseline A insert failed: {result.get_error_message()}")
            times.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
        conn.pgconn.exec_(b"DEALLOCATE " + name)
    else:
        placeholders = "(" + ", ".join(["%s"] * ncol) + ")"
        sql = f"INSERT INTO bench_raw ({columns}) VALUES " + ", ".join(
            [placeholders] * per_statement
        )
        with conn.cursor() as cur:
            start = time.perf_counter()
            for batch_params in params:
                t0 = time.perf_counter()
                cur.execute(sql, batch_params)
                times.append(time.perf_counter() - t0)
            elapsed = time.perf_counter() - start
    if count_like(conn, "bench_raw", prefix + "-") != rows:
        raise BenchError("baseline A: row count mismatch")
    return Sample(
        rows / elapsed, pct(times, 50) * 1000, pct(times, 95) * 1000, rows, f"{rows} rows"
    )


def bench_batches(port: int, key: str, prefix: str, batches: int, size: int) -> Sample:
    bodies = [
        json.dumps({"items": [item(f"{prefix}-{b}-{i}") for i in range(size)]}).encode()
        for b in range(batches)
    ]
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times: list[float] = []
    start = time.perf_counter()
    for body in bodies:
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/recommendations/batch", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        times.append(time.perf_counter() - t0)
        if response.status != 200:
            raise BenchError(f"batch answered {response.status}: {payload[:500]!r}")
        results = json.loads(payload)["results"]
        created = sum(1 for r in results if r["status"] == 201)
        if created != size:
            raise BenchError(f"batch created {created} of {size}: {results[:3]}")
    elapsed = time.perf_counter() - start
    conn.close()
    return Sample(
        batches * size / elapsed, pct(times, 50) * 1000, pct(times, 95) * 1000,
        batches * size, f"{batches} batches of {size}",
    )  # fmt: skip


# --- Report ------------------------------------------------------------------------------


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def print_report(series: dict[str, Series], config: list[str]) -> None:
    width = max(len(s.label) for s in series.values())
    print()
    print(f"Ingest benchmark (medians of {len(next(iter(series.values())).samples)} rounds)")
    for line in config:
        print(f"  {line}")
    print()
    header = (
        f"{'measurement':<{width}}  {'items/s':>9}  {'p50 ms':>8}  {'p95 ms':>8}  {'spread':>6}"
        "  latency of"
    )
    print(header)
    print("-" * (len(header) + 12))
    noisy = False
    for s in series.values():
        rates = [x.rate for x in s.samples]
        spread = (max(rates) - min(rates)) / s.median("rate")
        noisy = noisy or spread > 0.25
        print(
            f"{s.label:<{width}}  {fmt_rate(s.median('rate')):>9}  {s.median('p50_ms'):>8.2f}"
            f"  {s.median('p95_ms'):>8.2f}  {spread:>6.0%}  {s.unit}"
        )
    if noisy:
        print("(spread = (max - min) / median of items/s over the rounds; over 25% means the")
        print(" machine was busy with something else: look at the rounds below, or run again)")
    print()
    print("Per round (items/s | p50 ms | p95 ms):")
    for s in series.values():
        cells = "   ".join(
            f"{x.rate:>8,.0f} | {x.p50_ms:6.2f} | {x.p95_ms:6.2f}" for x in s.samples
        )
        print(f"  {s.label:<{width}}  {cells}")
    print()
    raw, minimal = series["A"].median("rate"), series["B8"].median("rate")
    batch, single = series["3a"].median("rate"), series["3b"].median("rate")
    seq_p50 = series["3c"].median("p50_ms")
    checks = [
        ("3a batch items/s vs A raw rows/s", f"{batch / raw:6.1%}",
         f">= {TARGET_BATCH_VS_RAW:.0%}", batch / raw >= TARGET_BATCH_VS_RAW),
        ("3b single items/s (8 clients) vs B", f"{single / minimal:6.1%}",
         f">= {TARGET_SINGLE_VS_MINIMAL:.0%}", single / minimal >= TARGET_SINGLE_VS_MINIMAL),
        ("3c sequential p50", f"{seq_p50:.2f} ms",
         f"<= {TARGET_SEQUENTIAL_P50_MS:g} ms", seq_p50 <= TARGET_SEQUENTIAL_P50_MS),
    ]  # fmt: skip
    print(checks_table(checks))
    plain = series["A'"].median("rate")
    print(
        f"\n3a is {batch / raw:.1%} of A and {batch / plain:.1%} of A'; "
        f"3b is {single / minimal:.1%} of B; "
        f"3c p50 is {seq_p50 / series['B1'].median('p50_ms'):.1f}x B's 1-client p50."
    )


# --- Main --------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--duration", type=int, default=8, help="seconds per 8-client wrk run")
    parser.add_argument("--seq-duration", type=int, default=5, help="seconds per 1-client run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per server")
    parser.add_argument("--raw-rows", type=int, default=20_000, help="rows per baseline A round")
    parser.add_argument("--batches", type=int, default=15, help="1,000-item batches per round")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for B and 3b")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both apps)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads; >1 is gthread")
    parser.add_argument("--keep-logs", action="store_true", help="keep the gunicorn logs")
    parser.add_argument(
        "--profile", action="store_true", help="then time ingest's phases in-process (~15 s)"
    )
    args = parser.parse_args()
    if args.raw_rows < 2000 or args.raw_rows % 2000:
        # A inserts raw_rows and A' half of them, 1,000 rows per statement.
        parser.error("--raw-rows must be a multiple of 2000")
    return args


def main() -> int:
    args = parse_args()
    database_url = require_services("ingest", wrk=True)

    load_before = os.getloadavg()[0]
    log("setting up users, config and an API key")
    password = {"REVIEWQUEUE_PASSWORD": secrets.token_urlsafe(16)}
    manage("create_user", "alice", "--role", "senior", env=password)
    manage("create_user", "bob", "--role", "reviewer", env=password)
    # The demo config points its webhook and callback at a loopback demo target (never
    # called here: the refunds queue routes every item to review).
    manage(
        "apply_config",
        "demo/reviewqueue.toml",
        env={"REVIEWQUEUE_OUTBOUND_ALLOWLIST": "127.0.0.1:9100", "DEMO_WEBHOOK_SECRET": "bench"},
    )
    key = manage("create_api_key", SOURCE).strip().splitlines()[-1].strip()

    conn = psycopg.connect(database_url, autocommit=True)
    ids_row = conn.execute(
        "SELECT s.id, q.id, a.id FROM reviewqueue_source s, reviewqueue_queue q,"
        " reviewqueue_actiontype a WHERE s.name = %s AND q.slug = %s AND a.name = %s",
        (SOURCE, QUEUE, ACTION_TYPE),
    ).fetchone()
    if ids_row is None:
        raise BenchError("the demo config did not create the source, queue and action type")
    ids = (int(ids_row[0]), int(ids_row[1]), int(ids_row[2]))
    for table in ("bench_raw", "bench_minimal"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (LIKE reviewqueue_recommendation INCLUDING ALL)")
    pg_settings = ", ".join(
        f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}"  # type: ignore[index]
        for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes")
    )

    worker_class = "sync" if args.threads == 1 else "gthread"
    flags = [
        "--workers", str(args.workers), "--threads", str(args.threads),
        "--worker-class", worker_class, "--graceful-timeout", "5", "--timeout", "120",
    ]  # fmt: skip
    server_env = {"REVIEWQUEUE_INGEST_RATE": HUGE_RATE, "DJANGO_CONN_MAX_AGE": "600"}
    logdir = Path(tempfile.mkdtemp(prefix="reviewqueue-bench-"))
    servers: list[Gunicorn] = []
    run = secrets.token_hex(3)
    series = {
        "A": Series("A  raw psycopg INSERT, 1,000 rows/stmt, prepared", "one statement"),
        "A'": Series("A' same via cursor.execute (context)", "one statement"),
        "B8": Series(f"B  minimal Django view, {args.clients} clients", "one request"),
        "B1": Series("B  minimal Django view, 1 client (context)", "one request"),
        "3a": Series(f"3a ingest batch of {args.batch_size:,}, 1 client", "one batch"),
        "3b": Series(f"3b ingest single, {args.clients} clients", "one request"),
        "3c": Series("3c ingest single, 1 client (sequential)", "one request"),
    }
    try:
        minimal = Gunicorn(
            "minimal", "tests.benchmarks.minimal_app:application", flags, server_env, logdir
        )
        servers.append(minimal)
        app = Gunicorn("app", "config.wsgi", flags, server_env, logdir)
        servers.append(app)
        minimal.wait_ready("/hello")
        app.wait_ready("/healthz")

        log("warming up both servers")
        run_wrk(minimal.port, "/ingest", None, f"{run}-wm", args.clients, args.warmup)
        run_wrk(app.port, "/api/v1/recommendations", key, f"{run}-wa", args.clients, args.warmup)
        bench_batches(app.port, key, f"{run}-wb", 1, args.batch_size)
        bench_raw(conn, ids, f"{run}-wr", 2000, prepared=True)

        steps: list[tuple[str, Callable[[str], Sample]]] = [
            ("A", lambda p: bench_raw(conn, ids, p, args.raw_rows, prepared=True)),
            ("A'", lambda p: bench_raw(conn, ids, p, args.raw_rows // 2, prepared=False)),
            ("B8", lambda p: run_wrk(minimal.port, "/ingest", None, p, args.clients, args.duration)),
            ("B1", lambda p: run_wrk(minimal.port, "/ingest", None, p, 1, args.seq_duration)),
            ("3a", lambda p: bench_batches(app.port, key, p, args.batches, args.batch_size)),
            ("3b", lambda p: run_wrk(app.port, "/api/v1/recommendations", key, p, args.clients,
                                     args.duration)),
            ("3c", lambda p: run_wrk(app.port, "/api/v1/recommendations", key, p, 1,
                                     args.seq_duration)),
        ]  # fmt: skip
        for round_no in range(1, args.rounds + 1):
            for name, step in steps:
                prefix = f"{run}-r{round_no}-{name}"
                sample = step(prefix)
                series[name].samples.append(sample)
                log(
                    f"round {round_no} {name}: {sample.rate:,.0f} items/s, "
                    f"p50 {sample.p50_ms:.2f} ms, p95 {sample.p95_ms:.2f} ms ({sample.note})"
                )
        # Every completed request must have stored its row (in-flight ones at wrk's stop
        # may add a few more).
        time.sleep(0.5)  # let requests still in flight when wrk stopped finish
        # One statement, one snapshot: an item and its audit event commit together.
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM reviewqueue_recommendation WHERE external_id LIKE %s),"
            " (SELECT count(*) FROM reviewqueue_auditevent WHERE action = 'recommendation.created'"
            "  AND data->>'external_id' LIKE %s),"
            " (SELECT count(*) FROM bench_minimal WHERE external_id LIKE %s)",
            (f"{run}-r%",) * 3,
        ).fetchone()
        stored_app, audits, stored_min = counts if counts else (0, -1, 0)
        log(
            f"stored: {stored_app:,} recommendations ({audits:,} audit events) through the "
            f"app, {stored_min:,} rows through the minimal view"
        )
        if audits != stored_app:
            raise BenchError("the app stored recommendations without their audit events")
        answered_app = sum(s.count for k in ("3a", "3b", "3c") for s in series[k].samples)
        answered_min = sum(s.count for k in ("B8", "B1") for s in series[k].samples)
        if stored_app < answered_app or stored_min < answered_min:
            raise BenchError(
                f"fewer rows than successful answers: app {stored_app} < {answered_app} or "
                f"minimal {stored_min} < {answered_min}"
            )
    except BenchError:
        for server in servers:
            log(f"gunicorn {server.name} log (last lines):\n{server.tail_log()}")
        raise
    finally:
        for server in servers:
            server.stop()
        if not args.keep_logs:
            shutil.rmtree(logdir, ignore_errors=True)
        conn.close()

    print_report(
        series,
        [
            f"gunicorn {' '.join(flags)} (no access log), CONN_MAX_AGE=600, health checks on",
            f"PostgreSQL: {pg_settings}",
            f"load: wrk ({args.clients}-client runs {args.duration:g} s, 1-client runs "
            f"{args.seq_duration:g} s); A: {args.raw_rows:,} rows per round; "
            f"3a: {args.batches} batches per round",
            f"machine: {os.cpu_count()} cores shared by client, servers, PostgreSQL and Redis;"
            f" 1-min load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
            " (anything else running skews the figures)",
        ],
    )
    if args.profile:
        log("profiling ingest in-process (tests/benchmarks/profile_ingest.py)")
        result = subprocess.run(
            [sys.executable, str(HERE / "profile_ingest.py"), key],
            cwd=ROOT,
            env={**os.environ, **server_env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        print(result.stdout)
        if result.returncode != 0:
            raise BenchError(f"profile_ingest.py failed:\n{result.stderr[-3000:]}")
    return 0


if __name__ == "__main__":
    run_bench(main, "bench_ingest")
