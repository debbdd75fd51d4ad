"""Reviewer benchmark: claim + decide over HTTP from a 1M-item queue, against raw SKIP LOCKED
claims from psycopg, in one run.

Run it (from the repository root; scripts/bench starts a throwaway PostgreSQL and Redis,
migrates, runs this file and stops everything; extra arguments come here, see --help):

    scripts/bench review
    scripts/bench review --rounds 3 --duration 30 --clients 16
    scripts/bench review --items 200000 --duration 10      # a quicker look
    scripts/bench review --profile   # then time claim/decision phases in-process and
                                     # EXPLAIN ANALYZE the claim (profile_review.py)

It is a measurement, not a test: not collected by pytest. It exits 0 whenever the run itself
worked, whether the speed targets are met or not; 1 if a server failed, answered errors, or
an item was ever held by two reviewers (a correctness failure, not a speed miss).

Set-up (timed, not measured): users through the management commands (create_user alice and
bob, apply_config demo/reviewqueue.toml, then 16 reviewers of the refunds queue with
create_user --queues refunds and create_token, all through call_command in one `manage.py
shell` process), and `--items` pending recommendations of refunds / refund.issue / source
support-agent loaded with one INSERT ... SELECT generate_series (route review, unique
external_ids, created_at spread over 30 days, confidence/risk in [0, 1], expires_at 90
days after creation), then VACUUM ANALYZE. The action type's executor is set to `noop`;
approvals still write their execution row and publish `execute_action` to Redis (no worker
runs: the messages queue up), and because the demo source has a callback_url each decision
also writes a callback row and publishes `deliver_callback`.

What it measures, each `--rounds` times (interleaved R1, R16, H16, H1, then again), with
the median reported:

  R1  raw psycopg 3 (autocommit, one connection, psycopg's automatic prepared statements):
      UPDATE reviewqueue_recommendation SET status='in_review', claimed_by_id=..,
      claimed_at=now(), lease_expires_at=now()+10 min WHERE id = (SELECT id ... WHERE
      queue_id=.. AND status='pending' ORDER BY priority DESC, created_at, id LIMIT 1
      FOR UPDATE SKIP LOCKED) RETURNING id, in a loop for --raw-duration seconds.
      Claims/s and p50/p95 per statement.
  R16 the same with --clients connections, one process each: the target's baseline.
  H16 --clients reviewer clients (one process each, one http.client connection each, which
      reconnects per request: gunicorn's sync workers close after each answer), each
      looping POST /api/v1/queues/refunds/claim, then POST
      /api/v1/recommendations/<id>/decision {"outcome": "approve"} with its own personal
      token, for --duration seconds. Decisions/s; p50/p95 of claim and of decision
      separately.
  H1  the same with one client: sequential latency.

After each raw phase its claimed items are closed (status 'expired'), so they neither come
back nor sit in the in_review lease index the app's held-item check reads, and the table is
vacuumed (untimed), so no round runs on the dead index entries of the one before; every
phase takes fresh items from the head of the same queue.

Targets: H16 decisions/s >= 20% of R16 claims/s; H1 claim p50 <= 8 ms and decision p50
<= 8 ms; no item ever held twice (checked at the end: at most one `recommendation.claimed`
audit event per item, no id handed to two clients or twice to one, raw claims disjoint
from the app's, one Decision per successful decision, decided by the reviewer who held it).

gunicorn runs `config.wsgi --workers 2 --threads 1` (sync; change with --workers/--threads),
DJANGO_DEBUG off, CONN_MAX_AGE at the settings default (600 s, health checks on). Clients,
gunicorn, PostgreSQL and Redis share the machine's cores; per round, the report says how
many cores the clients, gunicorn, PostgreSQL and Redis used, and how busy the whole machine
was (everything on it, other people's processes too). scripts/bench's PostgreSQL runs with
fsync=off and synchronous_commit=off: figures are for ratios, not durability claims.

Needs DATABASE_URL (PostgreSQL, migrated, empty) and CELERY_BROKER_URL (Redis), as
scripts/bench exports them.
"""

import argparse
import json
import multiprocessing as mp
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (
    ACTION_TYPE,
    HERE,
    QUEUE,
    ROOT,
    SOURCE,
    BenchError,
    CpuMeter,
    Gunicorn,
    Table,
    checks_table,
    fmt_cores,
    gunicorn_flags,
    loadavg,
    log,
    manage,
    median,
    ms,
    pct,
    pg_settings,
    postgres_pid,
    redis_pid,
    require_services,
    run_bench,
    spread,
)
from benchlib import create_people as create_people_cmd

TARGET_HTTP_VS_RAW = 0.20
TARGET_CLAIM_P50_MS = 8.0
TARGET_DECISION_P50_MS = 8.0

RAW_CLAIM_SQL = """
UPDATE reviewqueue_recommendation
SET status = 'in_review', claimed_by_id = %(user)s, claimed_at = now(),
    lease_expires_at = now() + interval '10 min'
WHERE id = (
    SELECT id FROM reviewqueue_recommendation
    WHERE queue_id = %(queue)s AND status = 'pending'
    ORDER BY priority DESC, created_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING id
"""

LOAD_SQL = """
INSERT INTO reviewqueue_recommendation (
    id, source_id, queue_id, action_type_id, external_id, content_hash, payload, confidence,
    risk_score, rationale, evidence, model_name, model_version, prompt_version, priority,
    expires_at, metadata, route, status, created_at, updated_at, due_at, qa_sampled)
SELECT gen_random_uuid(), %(source)s, %(queue)s, %(action_type)s,
       %(prefix)s || i,
       md5(i::text) || md5((i + 1)::text),
       jsonb_build_object('order_id', 'A-' || i, 'amount', 12.5 + (i %% 100)),
       0.5 + (i %% 50) / 100.0,
       0.3 + (i %% 40) / 100.0,
       'Customer was charged twice for the order.',
       '[{"title": "Order", "url": "https://crm.example/orders/A-1", "snippet": "..."}]',
       'refund-agent', '2026-10-01', 'refund-v7', 0,
       t + interval '90 days', '{"customer_tier": "gold"}', 'review', 'pending',
       t, t, t + interval '60 minutes', false
FROM (SELECT i, now() - interval '30 days' + i * (interval '30 days' / %(n)s) AS t
      FROM generate_series(1, %(n)s) AS i) AS s
"""


# --- Client processes (spawned: no state shared with the parent but what is passed) -----


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def http_client(
    port: int, token: str, duration: float, barrier: Any, results: Any, done: Any, index: int
) -> None:
    """Claim, then approve what was claimed, until the deadline; the last pair completes."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    auth = {"Authorization": f"Token {token}"}
    decide_headers = {**auth, "Content-Type": "application/json"}
    body = b'{"outcome": "approve"}'
    claim_ms: list[float] = []
    decide_ms: list[float] = []
    ids: list[str] = []
    errors: list[str] = []
    cpu0 = _cpu_seconds()
    try:
        barrier.wait(timeout=120)
        start = time.perf_counter()
        deadline = start + duration
        last = start
        while time.perf_counter() < deadline and len(errors) < 20:
            t0 = time.perf_counter()
            conn.request("POST", f"/api/v1/queues/{QUEUE}/claim", headers=auth)
            response = conn.getresponse()
            data = response.read()
            t1 = time.perf_counter()
            if response.status != 200:
                errors.append(f"claim answered {response.status}: {data[:300]!r}")
                last = t1
                continue
            rec_id = json.loads(data)["id"]
            claim_ms.append((t1 - t0) * 1000)
            ids.append(rec_id)
            t2 = time.perf_counter()
            conn.request(
                "POST", f"/api/v1/recommendations/{rec_id}/decision", body=body,
                headers=decide_headers,
            )  # fmt: skip
            response = conn.getresponse()
            data = response.read()
            t3 = time.perf_counter()
            last = t3
            if response.status != 200:
                errors.append(f"decision answered {response.status}: {data[:300]!r}")
                continue
            decide_ms.append((t3 - t2) * 1000)
        elapsed = last - start
    except Exception as exc:  # reported to the parent, which fails the run
        errors.append(f"client {index} crashed: {exc!r}")
        elapsed = 0.0
    results.put(
        {
            "index": index, "claim_ms": claim_ms, "decide_ms": decide_ms, "ids": ids,
            "errors": errors, "elapsed": elapsed, "cpu": _cpu_seconds() - cpu0,
        }
    )  # fmt: skip
    done.wait(timeout=60)
    conn.close()


def raw_client(
    dsn: str,
    queue_id: int,
    user_id: int,
    duration: float,
    barrier: Any,
    results: Any,
    done: Any,
    index: int,
) -> None:
    """The raw SKIP LOCKED claim in a loop, autocommit, until the deadline."""
    times: list[float] = []
    ids: list[str] = []
    errors: list[str] = []
    elapsed = 0.0
    cpu0 = _cpu_seconds()
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            cur = conn.cursor()
            params = {"user": user_id, "queue": queue_id}
            for _ in range(6):  # past psycopg's prepare threshold (5): prepared from here on
                cur.execute(RAW_CLAIM_SQL, params)
                row = cur.fetchone()
                if row is not None:
                    ids.append(str(row[0]))
            barrier.wait(timeout=120)
            start = time.perf_counter()
            deadline = start + duration
            now = start
            while now < deadline and len(errors) < 20:
                t0 = time.perf_counter()
                cur.execute(RAW_CLAIM_SQL, params)
                row = cur.fetchone()
                now = time.perf_counter()
                if row is None:
                    errors.append("raw claim found nothing pending")
                    continue
                times.append((now - t0) * 1000)
                ids.append(str(row[0]))
            elapsed = now - start
            # Report, then keep the connection (its server process) until the parent has
            # measured the CPU used: a process that exits first is not counted.
            results.put(
                {
                    "index": index, "claim_ms": times, "decide_ms": [], "ids": ids,
                    "errors": errors, "elapsed": elapsed, "cpu": _cpu_seconds() - cpu0,
                }
            )  # fmt: skip
            done.wait(timeout=60)
            return
    except Exception as exc:
        errors.append(f"raw client {index} crashed: {exc!r}")
    results.put(
        {
            "index": index, "claim_ms": times, "decide_ms": [], "ids": ids, "errors": errors,
            "elapsed": elapsed, "cpu": _cpu_seconds() - cpu0,
        }
    )  # fmt: skip


# --- Results -----------------------------------------------------------------------------


@dataclass
class Sample:
    rate: float  # decisions/s (H) or claims/s (R)
    claim_p50: float
    claim_p95: float
    decide_p50: float
    decide_p95: float
    count: int
    client_cores: float  # CPU the client processes used, in cores
    cores: dict[str, float]  # CPU used per process group while the phase ran, in cores


@dataclass
class Series:
    label: str
    unit: str
    samples: list[Sample] = field(default_factory=list)

    def med(self, attr: str) -> float:
        return median([getattr(s, attr) for s in self.samples])


def run_clients(
    target: Any, arg_sets: list[tuple[Any, ...]], duration: float, meter: CpuMeter
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Start one spawned process per argument tuple, release them together, collect results.
    Returns (results, CPU used per process group while they ran)."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(arg_sets) + 1)
    queue = ctx.Queue()
    done = ctx.Event()  # set once the CPU used is measured: clients may go
    procs = [
        ctx.Process(target=target, args=(*args, barrier, queue, done, i), daemon=True)
        for i, args in enumerate(arg_sets)
    ]
    for proc in procs:
        proc.start()
    try:
        try:
            barrier.wait(timeout=120)
        except threading.BrokenBarrierError:
            raise BenchError("client processes did not start") from None
        cpu0 = meter.snapshot()
        results = []
        for _ in procs:
            try:
                results.append(queue.get(timeout=duration + 120))
            except Exception:
                raise BenchError("a client process gave no result") from None
        cpu1 = meter.snapshot()
        done.set()
        for proc in procs:
            proc.join(timeout=30)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
    errors = [e for r in results for e in r["errors"]]
    if errors:
        raise BenchError(f"{len(errors)} errors, e.g.: {errors[:3]}")
    return results, meter.cores(cpu0, cpu1)


def summarise(results: list[dict[str, Any]], cores: dict[str, float]) -> Sample:
    claims = [x for r in results for x in r["claim_ms"]]
    decisions = [x for r in results for x in r["decide_ms"]]
    count = len(decisions) if decisions else len(claims)
    per_client = [
        (len(r["decide_ms"]) if decisions else len(r["claim_ms"])) / r["elapsed"]
        for r in results
        if r["elapsed"] > 0
    ]
    wall = max(r["elapsed"] for r in results)
    return Sample(
        rate=sum(per_client),
        claim_p50=pct(claims, 50), claim_p95=pct(claims, 95),
        decide_p50=pct(decisions, 50), decide_p95=pct(decisions, 95),
        count=count,
        client_cores=sum(r["cpu"] for r in results) / wall if wall else 0.0,
        cores=cores,
    )  # fmt: skip


# --- Set-up ------------------------------------------------------------------------------


def setup(
    conn: psycopg.Connection, args: argparse.Namespace, reviewers: list[str], prefix: str
) -> tuple[dict[str, str], dict[str, int]]:
    password = secrets.token_urlsafe(16)
    log("users alice and bob, demo/reviewqueue.toml")
    manage("create_user", "alice", "--role", "senior", env={"REVIEWQUEUE_PASSWORD": password})
    manage("create_user", "bob", "--role", "reviewer", env={"REVIEWQUEUE_PASSWORD": password})
    manage(
        "apply_config",
        "demo/reviewqueue.toml",
        env={"REVIEWQUEUE_OUTBOUND_ALLOWLIST": "127.0.0.1:9100", "DEMO_WEBHOOK_SECRET": "bench"},
    )
    row = conn.execute(
        "SELECT s.id, q.id, a.id FROM reviewqueue_source s, reviewqueue_queue q,"
        " reviewqueue_actiontype a WHERE s.name = %s AND q.slug = %s AND a.name = %s",
        (SOURCE, QUEUE, ACTION_TYPE),
    ).fetchone()
    if row is None:
        raise BenchError("the demo config did not create the source, queue and action type")
    ids = {"source": int(row[0]), "queue": int(row[1]), "action_type": int(row[2])}
    conn.execute("UPDATE reviewqueue_actiontype SET executor = 'noop' WHERE id = %s", (row[2],))

    # The load is PostgreSQL's work, creating people is Python's: run them side by side.
    load_error: list[BaseException] = []

    def load() -> None:
        try:
            with psycopg.connect(conn.info.dsn, autocommit=True) as loader:
                t0 = time.perf_counter()
                loader.execute(LOAD_SQL, {**ids, "prefix": prefix, "n": args.items})
                t1 = time.perf_counter()
                loader.execute("VACUUM ANALYZE reviewqueue_recommendation")
                log(
                    f"loaded {args.items:,} pending items in {t1 - t0:.1f} s "
                    f"(VACUUM ANALYZE {time.perf_counter() - t1:.1f} s)"
                )
        except BaseException as exc:  # re-raised in the main thread
            load_error.append(exc)

    log(f"loading {args.items:,} pending items (INSERT ... SELECT generate_series)")
    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    log(f"creating {len(reviewers)} reviewers of '{QUEUE}' and their personal tokens")
    people = [(name, "reviewer", QUEUE) for name in reviewers] + [("bench-raw", "reviewer", "")]
    tokens = create_people_cmd(people, password)
    loader.join(timeout=600)
    if loader.is_alive():
        raise BenchError("loading the items took over 10 minutes")
    if load_error:
        raise BenchError(f"loading the items failed: {load_error[0]!r}")
    user_row = conn.execute(
        "SELECT id FROM reviewqueue_user WHERE username = 'bench-raw'"
    ).fetchone()
    ids["raw_user"] = int(user_row[0]) if user_row else 0
    return tokens, ids


def close_raw_claims(conn: psycopg.Connection, raw_user: int) -> int:
    """Retire what the raw baseline claimed: out of the queue and out of the lease index."""
    cur = conn.execute(
        "UPDATE reviewqueue_recommendation SET status = 'expired', lease_expires_at = NULL,"
        " closed_at = now() WHERE claimed_by_id = %s AND status = 'in_review'",
        (raw_user,),
    )
    return cur.rowcount


# --- Report ------------------------------------------------------------------------------


def print_report(
    series: dict[str, Series], config: list[str], checks: list[tuple[str, str, str, bool]]
) -> None:
    rounds = len(next(iter(series.values())).samples)
    print()
    print(f"Reviewer benchmark (medians of {rounds} rounds)")
    for line in config:
        print(f"  {line}")
    print()
    table = Table(
        ["measurement", "rate/s", "claim p50", "claim p95", "dec. p50", "dec. p95", "spread",
         "rate of"]
    )  # fmt: skip
    noisy = False
    for s in series.values():
        rates = [x.rate for x in s.samples]
        noisy = noisy or spread(rates) > 0.25
        table.add(
            s.label, f"{s.med('rate'):,.0f}", ms(s.med("claim_p50")), ms(s.med("claim_p95")),
            ms(s.med("decide_p50")), ms(s.med("decide_p95")), f"{spread(rates):.0%}", s.unit,
        )  # fmt: skip
    print(table.render())
    print("(latencies in ms: claim = the claim request or the raw claim statement; dec. = the")
    print(" decision request; spread = (max - min) / median of rate/s over the rounds)")
    if noisy:
        print("(a spread over 25% means the machine was busy with something else: look at the")
        print(" rounds below, or run again)")
    print()
    print("Per round (rate/s | claim p50 | dec. p50 | CPU used, in cores):")
    width = max(len(s.label) for s in series.values())
    for s in series.values():
        for n, x in enumerate(s.samples, 1):
            label = s.label if n == 1 else ""
            print(
                f"  {label:<{width}}  {x.rate:>6,.0f} | {ms(x.claim_p50):>7} |"
                f" {ms(x.decide_p50):>7} | {fmt_cores(x.cores)}"
            )
    print()
    print(checks_table(checks))


# --- Main --------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--items", type=int, default=1_000_000, help="pending items loaded")
    parser.add_argument("--clients", type=int, default=16, help="concurrent reviewers (H, R)")
    parser.add_argument("--duration", type=float, default=30, help="seconds per H16 run")
    parser.add_argument("--seq-duration", type=float, default=8, help="seconds per H1 run")
    parser.add_argument("--raw-duration", type=float, default=8, help="seconds per R run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of HTTP warm-up")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads; >1 is gthread")
    parser.add_argument("--keep-logs", action="store_true", help="keep the gunicorn log")
    parser.add_argument(
        "--profile", action="store_true",
        help="then time claim and decision phases in-process and EXPLAIN the claim",
    )  # fmt: skip
    parser.add_argument("--profile-pairs", type=int, default=20, help="claim+decide pairs")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    database_url = require_services("review")

    load_before = loadavg()
    run = secrets.token_hex(3)
    reviewers = [f"reviewer{i:02d}" for i in range(1, args.clients + 1)]
    conn = psycopg.connect(database_url, autocommit=True)
    started = time.perf_counter()
    tokens, ids = setup(conn, args, reviewers, f"bench-{run}-")
    setup_seconds = time.perf_counter() - started
    pg_line = pg_settings(conn)

    flags = gunicorn_flags(args.workers, args.threads)
    server_env = {"DJANGO_DEBUG": "0"}
    os.environ.pop("DJANGO_CONN_MAX_AGE", None)  # the settings default (600 s)
    logdir = Path(tempfile.mkdtemp(prefix="reviewqueue-bench-review-"))
    series = {
        "R1": Series("R1  raw SKIP LOCKED claim, psycopg, 1 conn", "claims"),
        "R16": Series(f"R16 raw SKIP LOCKED claim, {args.clients} conns", "claims"),
        "H16": Series(f"H16 claim + approve over HTTP, {args.clients} clients", "decisions"),
        "H1": Series("H1  claim + approve over HTTP, 1 client", "decisions"),
    }
    http_ids: list[str] = []
    raw_ids: list[str] = []
    decisions_ok = 0
    raw_closed = 0
    app = Gunicorn("app", "config.wsgi", flags, server_env, logdir)
    pg, rd = postgres_pid(), redis_pid()
    meter = CpuMeter(
        {
            "gunicorn": app.proc.pid,
            "postgres": ("tree", pg) if pg else None,
            "redis": ("pid", rd) if rd else None,
            "clients": ("children", os.getpid()),
            "bench": "self",
        }
    )
    try:
        app.wait_ready("/healthz")

        def http_phase(clients: int, duration: float) -> Sample:
            nonlocal decisions_ok
            arg_sets = [(app.port, tokens[name], duration) for name in reviewers[:clients]]
            results, cores = run_clients(http_client, arg_sets, duration, meter)
            for r in results:
                http_ids.extend(r["ids"])
                decisions_ok += len(r["decide_ms"])
            return summarise(results, cores)

        def raw_phase(connections: int, duration: float) -> Sample:
            nonlocal raw_closed
            arg_sets = [
                (database_url, ids["queue"], ids["raw_user"], duration) for _ in range(connections)
            ]
            results, cores = run_clients(raw_client, arg_sets, duration, meter)
            for r in results:
                raw_ids.extend(r["ids"])
            raw_closed += close_raw_claims(conn, ids["raw_user"])
            # A clean start for every phase: without it each round runs on the dead index
            # entries of the last (autovacuum would only come at 20% of the table).
            conn.execute("VACUUM reviewqueue_recommendation")
            return summarise(results, cores)

        log("warming up (HTTP and raw)")
        http_phase(args.clients, args.warmup)
        raw_phase(2, 1)

        steps = [
            ("R1", lambda: raw_phase(1, args.raw_duration)),
            ("R16", lambda: raw_phase(args.clients, args.raw_duration)),
            ("H16", lambda: http_phase(args.clients, args.duration)),
            ("H1", lambda: http_phase(1, args.seq_duration)),
        ]
        for round_no in range(1, args.rounds + 1):
            for name, step in steps:
                sample = step()
                series[name].samples.append(sample)
                log(
                    f"round {round_no} {name}: {sample.rate:,.0f} {series[name].unit}/s, "
                    f"claim p50 {ms(sample.claim_p50)} p95 {ms(sample.claim_p95)} ms, "
                    f"decision p50 {ms(sample.decide_p50)} p95 {ms(sample.decide_p95)} ms "
                    f"({sample.count:,}; CPU {fmt_cores(sample.cores)})"
                )
    except BenchError:
        log(f"gunicorn log (last lines):\n{app.tail_log()}")
        raise
    finally:
        app.stop()
        if not args.keep_logs:
            shutil.rmtree(logdir, ignore_errors=True)

    # --- Was any item ever held twice? --------------------------------------------------
    log("checking that no item was held twice")
    http_counts, raw_counts = Counter(http_ids), Counter(raw_ids)
    http_dupes = sum(1 for c in http_counts.values() if c > 1)
    raw_dupes = sum(1 for c in raw_counts.values() if c > 1)
    overlap = len(http_counts.keys() & raw_counts.keys())
    row = conn.execute(
        "SELECT"
        " (SELECT count(*) FROM (SELECT recommendation_id FROM reviewqueue_auditevent"
        "   WHERE action = 'recommendation.claimed' GROUP BY recommendation_id"
        "   HAVING count(*) > 1) AS d),"
        " (SELECT count(*) FROM reviewqueue_auditevent WHERE action = 'recommendation.claimed'),"
        " (SELECT count(*) FROM reviewqueue_decision),"
        " (SELECT count(*) FROM reviewqueue_decision d JOIN reviewqueue_recommendation r"
        "   ON r.id = d.recommendation_id WHERE r.claimed_by_id IS DISTINCT FROM d.reviewer_id),"
        " (SELECT count(*) FROM reviewqueue_recommendation WHERE claimed_by_id = %s),"
        " (SELECT count(*) FROM reviewqueue_recommendation WHERE status = 'in_review')",
        (ids["raw_user"],),
    ).fetchone()
    assert row is not None
    audit_dupes, audit_claims, decision_rows, wrong_reviewer, raw_rows, still_held = row
    import redis  # the broker: what the approvals published

    broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    queued = int(broker.llen("celery"))
    broker.flushdb()
    conn.close()
    problems = []
    if http_dupes or raw_dupes or overlap or audit_dupes:
        problems.append(
            f"items held twice: {http_dupes} ids handed out twice over HTTP, {raw_dupes} twice"
            f" by the raw claim, {overlap} by both, {audit_dupes} with two claim audit events"
        )
    if audit_claims != len(http_ids):
        problems.append(f"{audit_claims} claim audit events for {len(http_ids)} claims answered")
    if decision_rows != decisions_ok or wrong_reviewer:
        problems.append(
            f"{decision_rows} decisions stored for {decisions_ok} answered, {wrong_reviewer} "
            "decided by someone other than the holder"
        )
    if raw_rows != len(raw_ids):
        problems.append(f"the raw claim returned {len(raw_ids)} ids for {raw_rows} rows")
    if still_held:
        problems.append(f"{still_held} items still in review after the run")
    log(
        f"{len(http_ids):,} claims and {decisions_ok:,} decisions over HTTP "
        f"({audit_claims:,} claim audit events, {decision_rows:,} decisions stored), "
        f"{len(raw_ids):,} raw claims ({raw_rows:,} rows, closed after each phase); "
        f"{queued:,} Celery messages were waiting in Redis (flushed)"
    )

    raw16, h16 = series["R16"].med("rate"), series["H16"].med("rate")
    h1_claim, h1_decide = series["H1"].med("claim_p50"), series["H1"].med("decide_p50")
    held_twice = http_dupes + raw_dupes + overlap + audit_dupes
    checks = [
        ("H16 decisions/s vs R16 raw claims/s", f"{h16 / raw16:.1%}",
         f">= {TARGET_HTTP_VS_RAW:.0%}", h16 / raw16 >= TARGET_HTTP_VS_RAW),
        ("H1 claim p50 (1 client)", f"{h1_claim:.2f} ms", f"<= {TARGET_CLAIM_P50_MS:g} ms",
         h1_claim <= TARGET_CLAIM_P50_MS),
        ("H1 decision p50 (1 client)", f"{h1_decide:.2f} ms",
         f"<= {TARGET_DECISION_P50_MS:g} ms", h1_decide <= TARGET_DECISION_P50_MS),
        ("items held twice (all phases)", f"{held_twice}", "0", held_twice == 0),
    ]  # fmt: skip
    h16_cores = series["H16"].med("client_cores")
    print_report(
        series,
        [
            f"gunicorn config.wsgi {' '.join(flags)} (no access log), DJANGO_DEBUG off,"
            " CONN_MAX_AGE=600 (default), health checks on",
            f"PostgreSQL: {pg_line}",
            f"queue: {args.items:,} pending items loaded in {setup_seconds:.0f} s (with the"
            f" users); executor noop; {QUEUE}'s source has a callback_url (callback rows too)",
            f"load: H16 {args.clients} client processes x {args.duration:g} s, H1"
            f" {args.seq_duration:g} s, R {args.raw_duration:g} s per round; HTTP clients are"
            f" Python (http.client) and used {h16_cores:.2f} cores during H16",
            f"machine: {os.cpu_count()} cores shared by clients, gunicorn, PostgreSQL and Redis;"
            f" 1-min load average {load_before:.2f} before, {loadavg():.2f} after"
            " (anything else running skews the figures)",
        ],
        checks,
    )
    print(
        f"\nH16 is {h16 / raw16:.1%} of R16 and {h16 / series['R1'].med('rate'):.1%} of R1"
        f" ({2 * h16:,.0f} HTTP requests/s); H1 takes {h1_claim + h1_decide:.2f} ms per"
        f" claim + decision (p50s), {series['H1'].med('rate'):,.0f} decisions/s."
    )
    if problems:
        print("\nCORRECTNESS PROBLEMS:\n  " + "\n  ".join(problems))
        return 1
    if args.profile:
        log("profiling claim + decision in-process (tests/benchmarks/profile_review.py)")
        result = subprocess.run(
            [sys.executable, str(HERE / "profile_review.py"), tokens[reviewers[0]],
             str(args.profile_pairs)],
            cwd=ROOT, env={**os.environ, **server_env}, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
        print(result.stdout)
        if result.returncode != 0:
            raise BenchError(f"profile_review.py failed:\n{result.stderr[-3000:]}")
    return 0


if __name__ == "__main__":
    run_bench(main, "bench_review")
