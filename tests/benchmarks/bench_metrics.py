"""Metrics benchmark: the trend API, the reports page and the decisions export at 1M and then
10M decisions, in one run.

Run it from the repository root against a migrated, empty PostgreSQL database (it adds
config rows and millions of decisions to it; use a throwaway one):

    DATABASE_URL=postgres://postgres@127.0.0.1:5433/reviewqueue python tests/benchmarks/bench_metrics.py
    ... bench_metrics.py --sizes 1000000,3000000      # a quicker run
    ... bench_metrics.py --requests 50 --export-days 365

(`scripts/bench metrics` once wired: it starts a throwaway PostgreSQL and Redis, migrates and
runs this file with the same arguments.) It is a measurement, not a test: not collected by
pytest. It exits 0 when the run worked, whether or not the targets are met.

Data (timed, not measured): 10 queues, 1 action type, 1 source, 10 reviewers per queue, and
decisions spread uniformly over the year before now, with one recommendation each, loaded by
INSERT ... SELECT generate_series in transactions of 1M rows. Five model versions follow each
other through the year (about two live at a time), two prompt versions each; 80% approve, 12%
modify (half of them cosmetic), 8% reject; 5% are policy (auto) approvals, which the metrics
ignore; time to decision ~ exponential (mean 10 min), review time ~ exponential (mean 1 min).
The second size adds decisions over the same year (denser history, as after more time of
use). After each load: VACUUM ANALYZE, and the memo of closed trend buckets is emptied (the
load wrote into closed buckets, which the product itself never does).

Measured per size, through gunicorn (2 sync workers, DJANGO_DEBUG off) with a personal token
of an admin, sequentially from one client:

  trend-year-1q  GET /api/v1/metrics/trend?queue=q3&bucket=day, a year to today (366 buckets)
  trend-30d-1q   the same for the last 30 days
  trend-year-all a year of day buckets over every queue
  each: the first request (cold: nothing remembered yet), 4 unmeasured ones (every gunicorn
  worker's first), then --requests requests (p50/p95; every one still computes today's open
  bucket from the decisions).
  metrics_warm   in this process, the beat task that counts the default views ahead: its
                 first run after the load (the backfill) and the next one
  report-1q      GET /reports/?queue=q3 (the last 30 days: trend, reasons, fields, versions,
                 reviewers, backlog, readiness), after metrics_warm: the first and then
                 --page-requests requests
  report-all     GET /reports/ (every queue)
  export         GET /api/v1/exports/decisions.jsonl?queue=q3 over the last --export-days days,
                 read to the end: lines/s, and the gunicorn worker's peak RSS (VmHWM) minus its
                 RSS before (a fresh single-worker gunicorn per export)
  trend-raw      in this process: the year for one queue computed from the decisions alone
                 (no memo), median of 3 — what a request with new filters pays once

Targets (issue 5): trend p95 <= 100 ms at 10M and within 1.5x of the 1M figure; export memory
flat. The PostgreSQL of scripts/bench runs with fsync=off: figures are for ratios.
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from tests.benchmarks.benchlib import (  # noqa: E402
    BenchError,
    Gunicorn,
    Table,
    gunicorn_flags,
    log,
    ms,
    pct,
    pg_settings,
)

QUEUES = 10
REVIEWERS_PER_QUEUE = 10
CHUNK = 1_000_000
WARMUPS = 4  # unmeasured requests after the first, so every gunicorn worker has started up

# One transaction per chunk: %(a)s..%(b)s are row numbers, spread uniformly over
# [%(t0)s, %(t0)s + %(span)s seconds). The recommendation's id is derived from the row number.
GENERATE = """
CREATE TEMP TABLE g ON COMMIT DROP AS
SELECT i, queue_id, t AS decided_at,
       t - make_interval(secs => dur) AS created_at,
       t - make_interval(secs => least(dur, rev)) AS claimed_at,
       CASE WHEN r1 < 0.80 THEN 'approve' WHEN r1 < 0.92 THEN 'modify' ELSE 'reject' END AS outcome,
       r2 < 0.05 AS auto,
       'v' || mv AS model_version,
       'p' || mv || CASE WHEN r4 < 0.5 THEN 'a' ELSE 'b' END AS prompt_version,
       (%(reviewers)s::bigint[])[(i %% {queues}) * {per_queue} + 1 + floor(r5 * {per_queue})::int]
           AS reviewer_id,
       r6
FROM (
    SELECT i, (%(queues)s::bigint[])[(i %% {queues}) + 1] AS queue_id, t, r1, r2, r4, r5, r6,
           least(4, floor(extract(epoch FROM t - %(t0)s::timestamptz) / %(span)s * 5 + r3 * 0.6))::int AS mv,
           -600 * ln(1 - r6) + 5 AS dur,
           -60 * ln(1 - r7) + 2 AS rev
    FROM (
        SELECT i, %(t0)s::timestamptz + make_interval(secs => random() * %(span)s) AS t,
               random() r1, random() r2, random() r3, random() r4, random() r5, random() r6,
               random() r7
        FROM generate_series(%(a)s::bigint, %(b)s::bigint) i
    ) s
) s2
ORDER BY t;

INSERT INTO reviewqueue_recommendation (
    id, external_id, content_hash, payload, confidence, risk_score, rationale, evidence,
    model_name, model_version, prompt_version, priority, expires_at, metadata, route, status,
    created_at, updated_at, due_at, claimed_at, lease_expires_at, escalated_at, overdue_at,
    closed_at, qa_sampled, action_type_id, claimed_by_id, queue_id, source_id)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'bench-' || i,
       md5(i::text), jsonb_build_object('order_id', 'A-' || i, 'amount', 40),
       0.9, 0.4, 'Customer was charged twice for order A-' || i,
       '[{"title": "Order", "url": "https://crm.example/orders"}]', 'refund-agent',
       model_version, prompt_version, 0, NULL, '{"customer_tier": "gold"}',
       CASE WHEN auto THEN 'auto' ELSE 'review' END,
       CASE WHEN auto THEN 'auto_approved' ELSE 'decided' END,
       created_at, decided_at, created_at + interval '60 minutes',
       CASE WHEN auto THEN NULL ELSE claimed_at END, NULL, NULL, NULL, decided_at, false,
       %(action_type)s, CASE WHEN auto THEN NULL ELSE reviewer_id END, queue_id, %(source)s
FROM g;

INSERT INTO reviewqueue_decision (
    kind, outcome, payload, payload_hash, diff, is_cosmetic, reason_code, comment, model_name,
    model_version, prompt_version, created_at, claimed_at, decided_at, action_type_id,
    reviewer_id, queue_id, recommendation_id, source_id)
SELECT CASE WHEN auto THEN 'policy' ELSE 'human' END,
       CASE WHEN auto THEN 'approve' ELSE outcome END,
       CASE WHEN NOT auto AND outcome = 'reject' THEN NULL
            WHEN NOT auto AND outcome = 'modify'
                THEN jsonb_build_object('order_id', 'A-' || i, 'amount', 35)
            ELSE jsonb_build_object('order_id', 'A-' || i, 'amount', 40) END,
       md5(i::text),
       CASE WHEN NOT auto AND outcome = 'modify' THEN
           CASE WHEN r6 < 0.5
                THEN '[{"op": "replace", "new": 35, "old": 40, "path": "amount"}]'
                ELSE '[{"op": "add", "new": "checked", "old": null, "path": "note"}]' END::jsonb
       ELSE '[]'::jsonb END,
       CASE WHEN NOT auto AND outcome = 'modify' THEN r6 >= 0.5 END,
       CASE WHEN auto OR outcome = 'approve' THEN ''
            WHEN outcome = 'modify' THEN (CASE WHEN r6 < 0.5 THEN 'wrong_amount' ELSE 'other' END)
            WHEN r6 < 0.6 THEN 'policy_violation' ELSE 'insufficient_evidence' END,
       '', 'refund-agent', model_version, prompt_version, created_at,
       CASE WHEN auto THEN NULL ELSE claimed_at END, decided_at, %(action_type)s,
       CASE WHEN auto THEN NULL ELSE reviewer_id END, queue_id,
       ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, %(source)s
FROM g;
""".replace("{queues}", str(QUEUES)).replace("{per_queue}", str(REVIEWERS_PER_QUEUE))


def setup_django() -> None:
    import django

    django.setup()


def create_config() -> dict[str, Any]:
    """Queues q0..q9, an action type, a source, reviewers and an admin with a token."""
    from reviewqueue.models import ActionType, Membership, Queue, QueueActionType, Source, User
    from reviewqueue.services.audit import Actor
    from reviewqueue.services.tokens import personal_token_create

    action_type, _ = ActionType.objects.get_or_create(
        name="refund.issue",
        defaults={
            "executor": "noop",
            "payload_schema": {"type": "object"},
            "cosmetic_fields": ["note"],
        },
    )
    source, _ = Source.objects.get_or_create(name="bench-bot")
    queues = []
    for n in range(QUEUES):
        queue, _ = Queue.objects.get_or_create(
            slug=f"q{n}",
            defaults={
                "name": f"Queue {n}",
                "reason_codes": [
                    "wrong_amount",
                    "policy_violation",
                    "insufficient_evidence",
                    "other",
                ],
                "sla_minutes": 60,
            },
        )
        QueueActionType.objects.get_or_create(queue=queue, action_type=action_type)
        source.queues.add(queue)
        queues.append(queue)
    reviewers = []
    for n, queue in enumerate(queues):
        for r in range(REVIEWERS_PER_QUEUE):
            user, _ = User.objects.get_or_create(
                username=f"rev{n}-{r}", defaults={"role": "reviewer"}
            )
            Membership.objects.get_or_create(user=user, queue=queue)
            reviewers.append(user.pk)
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"role": "admin"})
    _, token = personal_token_create(user=admin, actor=Actor.system("bench"))
    return {
        "action_type": action_type.pk,
        "source": source.pk,
        "queues": [q.pk for q in queues],
        "reviewers": reviewers,
        "token": token,
    }


def load(conn: Any, config: dict[str, Any], start: int, end: int, t0: Any, span: float) -> float:
    """Rows start..end (1-based, inclusive) in chunks; returns the seconds it took."""
    began = time.perf_counter()
    a = start
    while a <= end:
        b = min(a + CHUNK - 1, end)
        with conn.transaction():
            for statement in GENERATE.split(";\n\n"):
                conn.execute(
                    statement,
                    {
                        "a": a,
                        "b": b,
                        "t0": t0,
                        "span": span,
                        "queues": config["queues"],
                        "reviewers": config["reviewers"],
                        "action_type": config["action_type"],
                        "source": config["source"],
                    },
                )
        log(f"  loaded rows {a:,}..{b:,} ({time.perf_counter() - began:.0f} s)")
        a = b + 1
    conn.execute("TRUNCATE reviewqueue_metricsbucket")
    conn.execute("VACUUM ANALYZE reviewqueue_recommendation")
    conn.execute("VACUUM ANALYZE reviewqueue_decision")
    return time.perf_counter() - began


def get(port: int, path: str, token: str, read_all: bool = True) -> tuple[int, float, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    began = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Token {token}"})
    response = conn.getresponse()
    body = response.read() if read_all else b""
    elapsed = time.perf_counter() - began
    conn.close()
    return response.status, elapsed, body


def timed_series(port: int, path: str, token: str, n: int) -> dict[str, float]:
    status, cold, body = get(port, path, token)
    if status != 200:
        raise BenchError(f"GET {path}: {status} {body[:500]!r}")
    for _ in range(WARMUPS):  # each gunicorn worker's first request (imports, templates)
        get(port, path, token)
    warm = []
    for _ in range(n):
        status, elapsed, body = get(port, path, token)
        if status != 200:
            raise BenchError(f"GET {path}: {status} {body[:500]!r}")
        warm.append(elapsed * 1000)
    return {"cold": cold * 1000, "p50": pct(warm, 50), "p95": pct(warm, 95), "max": max(warm)}


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {field} for {pid}")


def worker_pid(master: int) -> int:
    for _ in range(50):
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:  # the parent pid
                return int(stat.parent.name)
        time.sleep(0.1)
    raise BenchError("gunicorn has no worker")


def measure_export(token: str, path: str, env: dict[str, str], logdir: Path) -> dict[str, float]:
    """A fresh one-worker gunicorn, so the worker's peak RSS belongs to this export."""
    server = Gunicorn("export", "config.wsgi", ["--workers", "1", "--timeout", "1800"], env, logdir)
    try:
        server.wait_ready("/healthz")
        # Warm the worker (imports, first queries) before taking its baseline.
        get(server.port, path.replace("decisions.jsonl?", "decisions.jsonl?kind=external&"), token)
        pid = worker_pid(server.proc.pid)
        before = rss_kb(pid, "VmRSS")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1800)
        began = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Token {token}"})
        response = conn.getresponse()
        if response.status != 200:
            raise BenchError(f"export: {response.status} {response.read()[:500]!r}")
        lines = size = 0
        first_byte = None
        while chunk := response.read(1 << 16):
            if first_byte is None:
                first_byte = time.perf_counter() - began
            lines += chunk.count(b"\n")
            size += len(chunk)
        elapsed = time.perf_counter() - began
        peak = rss_kb(pid, "VmHWM")
        conn.close()
        return {
            "lines": lines,
            "mb": size / 1e6,
            "seconds": elapsed,
            "rate": lines / elapsed if elapsed else 0,
            "first_byte_ms": (first_byte or 0) * 1000,
            "rss_before_mb": before / 1024,
            "peak_growth_mb": (peak - before) / 1024,
        }
    finally:
        server.stop()


def warm_twice() -> tuple[float, float]:
    """metrics_warm() as the beat task runs it: the first run after the load, then again."""
    from reviewqueue.reporting.warm import metrics_warm

    times = []
    for _ in range(2):
        began = time.perf_counter()
        metrics_warm()
        times.append(time.perf_counter() - began)
    return times[0], times[1]


def raw_trend_ms(queue_pk: int, days: int) -> float:
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from reviewqueue.reporting.buckets import buckets_for
    from reviewqueue.reporting.parameters import TrendRequest
    from reviewqueue.reporting.scope import TrendFilters
    from reviewqueue.reporting.trend import trend_points

    today = timezone.now().date()
    request = TrendRequest(
        start=today - timedelta(days=days - 1), end=today + timedelta(days=1), tz=ZoneInfo("UTC")
    )
    times = []
    for _ in range(3):
        began = time.perf_counter()
        trend_points(
            filters=TrendFilters(queue_ids=(queue_pk,)), buckets=buckets_for(request), memo=False
        )
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="decision counts, ascending")
    parser.add_argument("--requests", type=int, default=50, help="trend requests per series")
    parser.add_argument("--page-requests", type=int, default=10)
    parser.add_argument("--export-days", type=int, default=365)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise BenchError("set DATABASE_URL to a migrated, throwaway PostgreSQL database")

    import psycopg

    setup_django()
    from django.utils import timezone

    logdir = Path(os.environ.get("REVIEWQUEUE_VAR_DIR") or tempfile.mkdtemp()) / "bench-metrics"
    logdir.mkdir(parents=True, exist_ok=True)
    conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    existing = conn.execute("SELECT count(*) FROM reviewqueue_decision").fetchone()[0]
    if existing:
        raise BenchError(f"the database already has {existing} decisions; use an empty one")
    log(f"PostgreSQL: {pg_settings(conn)}")
    config = create_config()
    now = timezone.now()
    span = 365 * 86400.0
    t0 = now - timedelta(seconds=span + 60)
    today = now.date()
    env = {"DJANGO_DEBUG": "0"}
    year = f"from={today - timedelta(days=365)}&to={today + timedelta(days=1)}"
    month = f"from={today - timedelta(days=29)}&to={today + timedelta(days=1)}"
    export_range = (
        f"from={today - timedelta(days=args.export_days - 1)}&to={today + timedelta(days=1)}"
    )
    paths = {
        "trend-year-1q": f"/api/v1/metrics/trend?queue=q3&bucket=day&{year}",
        "trend-30d-1q": f"/api/v1/metrics/trend?queue=q3&bucket=day&{month}",
        "trend-year-all": f"/api/v1/metrics/trend?bucket=day&{year}",
    }
    results: dict[int, dict[str, Any]] = {}
    loaded = 0
    for size in sizes:
        log(f"loading decisions {loaded + 1:,}..{size:,}")
        load_s = load(conn, config, loaded + 1, size, t0, span)
        loaded = size
        human = conn.execute(
            "SELECT count(*) FROM reviewqueue_decision WHERE kind = 'human'"
        ).fetchone()[0]
        index_mb = conn.execute("SELECT pg_relation_size('decision_metrics_idx') / 1e6").fetchone()[
            0
        ]
        out: dict[str, Any] = {"load_s": load_s, "human": human, "index_mb": float(index_mb)}
        server = Gunicorn("web", "config.wsgi", gunicorn_flags(args.workers, 1), env, logdir)
        try:
            server.wait_ready("/healthz")
            for name, path in paths.items():
                log(f"{size:,}: {name}")
                out[name] = timed_series(server.port, path, config["token"], args.requests)
            log(f"{size:,}: metrics_warm (the beat task), twice")
            out["warm-first-s"], out["warm-again-s"] = warm_twice()
            for name, path in {
                "report-1q": "/reports/?queue=q3",
                "report-all": "/reports/",
            }.items():
                log(f"{size:,}: {name}")
                # The page takes the session of a browser; the token works for the API only.
                out[name] = timed_page(server.port, path, args.page_requests)
        finally:
            server.stop()
        log(f"{size:,}: trend-raw")
        out["trend-raw"] = raw_trend_ms(config["queues"][3], 366)
        log(f"{size:,}: export")
        out["export"] = measure_export(
            config["token"], f"/api/v1/exports/decisions.jsonl?queue=q3&{export_range}", env, logdir
        )
        results[size] = out
        print(json.dumps({str(size): out}, default=str), flush=True)
    conn.close()
    report(results, args)
    return 0


_SESSION: dict[str, str] = {}


def timed_page(port: int, path: str, n: int) -> dict[str, float]:
    """GET a page as the admin through a session cookie made in this process."""
    if not _SESSION:
        from django.conf import settings
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.contrib.sessions.backends.cached_db import SessionStore

        from reviewqueue.models import User

        admin = User.objects.get(username="bench-admin")
        session = SessionStore()
        session[SESSION_KEY] = str(admin.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = admin.get_session_auth_hash()
        session.save()
        _SESSION["cookie"] = f"{settings.SESSION_COOKIE_NAME}={session.session_key}"

    def one() -> float:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        began = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": _SESSION["cookie"]})
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - began
        conn.close()
        if response.status != 200:
            raise BenchError(f"GET {path}: {response.status} {body[:300]!r}")
        return elapsed * 1000

    cold = one()
    for _ in range(WARMUPS):
        one()
    warm = [one() for _ in range(n)]
    return {"cold": cold, "p50": pct(warm, 50), "p95": pct(warm, 95), "max": max(warm)}


def report(results: dict[int, dict[str, Any]], args: argparse.Namespace) -> None:
    sizes = sorted(results)
    table = Table(["ms", *(f"{s:,}" for s in sizes)])
    for name in ("trend-year-1q", "trend-30d-1q", "trend-year-all", "report-1q", "report-all"):
        for stat in ("cold", "p50", "p95"):
            table.add(f"{name} {stat}", *(ms(results[s][name][stat]) for s in sizes))
    table.add("trend-raw (year, 1 queue, no memo)", *(ms(results[s]["trend-raw"]) for s in sizes))
    print()
    print(
        f"Trend ({args.requests} requests per series after the first) and reports page ({args.page_requests}):"
    )
    print(table.render())
    exports = Table(["export", *(f"{s:,}" for s in sizes)])
    for key, label in (
        ("lines", "lines"),
        ("rate", "lines/s"),
        ("mb", "MB"),
        ("first_byte_ms", "first byte ms"),
        ("rss_before_mb", "worker RSS before MB"),
        ("peak_growth_mb", "peak RSS growth MB"),
    ):
        exports.add(label, *(f"{results[s]['export'][key]:,.1f}" for s in sizes))
    print()
    print(exports.render())
    other = Table(["data", *(f"{s:,}" for s in sizes)])
    other.add("load seconds", *(f"{results[s]['load_s']:.0f}" for s in sizes))
    other.add("metrics_warm first run s", *(f"{results[s]['warm-first-s']:.1f}" for s in sizes))
    other.add("metrics_warm next run s", *(f"{results[s]['warm-again-s']:.2f}" for s in sizes))
    other.add("human decisions", *(f"{results[s]['human']:,}" for s in sizes))
    other.add("decision_metrics_idx MB", *(f"{results[s]['index_mb']:.0f}" for s in sizes))
    print()
    print(other.render())
    if len(sizes) >= 2:
        small, big = results[sizes[0]], results[sizes[-1]]
        for name in ("trend-year-1q", "trend-30d-1q", "trend-year-all"):
            p95, base = big[name]["p95"], small[name]["p95"]
            verdict = "met" if p95 <= 100 and p95 <= 1.5 * base else "NOT met"
            print(
                f"target {name}: p95 {p95:.1f} ms at {sizes[-1]:,} (<= 100), {p95 / base:.2f}x of {sizes[0]:,} (<= 1.5x): {verdict}"
            )
        growth = big["export"]["peak_growth_mb"] - small["export"]["peak_growth_mb"]
        print(
            f"export peak RSS growth: {small['export']['peak_growth_mb']:.1f} MB -> {big['export']['peak_growth_mb']:.1f} MB ({growth:+.1f} MB)"
        )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench_metrics: {exc}", file=sys.stderr)
        sys.exit(1)
