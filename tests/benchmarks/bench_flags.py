"""Flags benchmark: what anomaly flags cost single-item ingest, at 1M history rows, in one run.

Issue 15's "done when": ingest p50 with and without flags configured, measured in the same
run, and ingest within noise of today's at 1M history rows.

Run it (from the repository root; scripts/bench starts a throwaway PostgreSQL and Redis,
migrates, runs this file and stops everything; extra arguments come here, see --help):

    scripts/bench flags
    scripts/bench flags --rounds 3 --duration 5
    scripts/bench flags --history 200000 --clients 0     # a quicker look, no 8-client pass

It is a measurement, not a test: not collected by pytest. It exits 0 whenever the run itself
worked, whatever the ratio; 1 if a server failed, answered errors, or an item of the run was
flagged or not auto-routed (then the two queues did not do the same work and the comparison
says nothing).

Set-up (timed, not measured): alice and bob, demo/reviewqueue.toml, then a second config
file with three queues of the demo's `refund.issue` action type, all created `autonomous`,
and the demo's source `support-agent` allowed to post to them too:

  plain    no flags configured: ingest reads no flag inputs (today's path);
  outlier  anomaly = {fields = ["amount"], z = 4.0, window = 1000}, hard_confidence_floor
           0.1, hard_risk_ceiling 0.99: the baselines come with the routing read;
  flagged  the same and max_per_5min = 100,000,000: the volume counter runs (one upsert per
           request), never flags. Every input the flags read is read.

Then `--history` rows each of `outlier` and `flagged` and `--plain-history` rows of `plain` (refund.issue,
source support-agent, auto-approved, created_at spread over the 30 days before 10 minutes
ago, so outside the 5-minute volume window; amounts normally distributed, mean 100, sd 25)
are loaded with one INSERT ... SELECT generate_series each, as bench_review.py loads its
items, then VACUUM ANALYZE; then the anomaly baselines are refreshed once
(services/anomaly.baselines_refresh, in one `manage.py shell`, timed in-process twice: cold,
then warm).

What it measures, each `--rounds` times, with the median reported: POST
/api/v1/recommendations, one item per request (bench_ingest.py's item with its queue set and
amount 100, near the baselines' mean; confidence 0.91 and risk 0.42, so both queues route
every item to auto: a policy decision, an execution row and its Celery message each), driven
by wrk through bench_ingest.run_wrk (wrk_post.lua: unique external_ids):

  1 connection for `--duration` seconds per queue: sequential latency p50/p95, requests/s;
  `--clients` connections (default 8; 0 or 1 skips): requests/s.

The queues take turns within each round and their order rotates every round (plain,
outlier, flagged; then outlier, flagged, plain; ...), so none always runs first or on a table
a few thousand rows bigger. Reported: per queue the median of the rounds' p50, p95 and
requests/s; outlier / plain and flagged / plain of each, with the range of the per-round p50
ratios (the noise to judge a ratio by); and each round's figures beside the source's recent
volume (the volume counter costs the same whatever it counts: it sums at most 30 rows).

gunicorn runs `config.wsgi --workers 2 --threads 1` (sync; change with --workers/--threads),
CONN_MAX_AGE=600 with health checks, REVIEWQUEUE_INGEST_RATE out of reach, as
bench_ingest.py. No Celery worker runs: the execution and callback messages queue up in
Redis, in both queues alike. Clients, gunicorn, PostgreSQL and Redis share the machine's
cores, and scripts/bench's PostgreSQL runs with fsync=off and synchronous_commit=off: the
figures are for the ratio, not for durability claims.

Needs DATABASE_URL (PostgreSQL, migrated, empty) and CELERY_BROKER_URL (Redis), as
scripts/bench exports them, and wrk on PATH.
"""

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_ingest
from bench_ingest import HUGE_RATE, Sample, Series
from benchlib import (
    ACTION_TYPE,
    ROOT,
    SOURCE,
    BenchError,
    Gunicorn,
    Table,
    gunicorn_flags,
    loadavg,
    log,
    manage,
    ms,
    pct,
    pg_settings,
    require_services,
    run_bench,
    spread,
)

PLAIN, OUTLIER, FLAGGED = "plain", "outlier", "flagged"
QUEUES = (PLAIN, OUTLIER, FLAGGED)
INGEST_PATH = "/api/v1/recommendations"
AMOUNT = 100.0  # what the benchmark posts: the history's mean, never an outlier
DEMO_ENV = {"REVIEWQUEUE_OUTBOUND_ALLOWLIST": "127.0.0.1:9100", "DEMO_WEBHOOK_SECRET": "bench"}

# Three autonomous queues of the same action type: one without flags, one with the outlier
# and threshold flags, one with every flag input configured; thresholds no item reaches. The source line is the demo's
# source with these queues added (config_apply sets a source's queues to exactly the list).
QUEUES_TOML = """
[[queues]]
slug = "plain"
name = "Bench: no flags"
stage = "autonomous"
action_types = ["refund.issue"]
reason_codes = ["other"]

[[queues]]
slug = "outlier"
name = "Bench: outlier and threshold flags"
stage = "autonomous"
action_types = ["refund.issue"]
reason_codes = ["other"]
routing = { hard_risk_ceiling = 0.99, hard_confidence_floor = 0.1 }
anomaly = { fields = ["amount"], z = 4.0, window = 1000 }

[[queues]]
slug = "flagged"
name = "Bench: every flag configured"
stage = "autonomous"
action_types = ["refund.issue"]
reason_codes = ["other"]
routing = { hard_risk_ceiling = 0.99, hard_confidence_floor = 0.1 }
anomaly = { fields = ["amount"], z = 4.0, window = 1000 }
max_per_5min = 100000000
"""

# History: auto-approved items created over the 30 days before 10 minutes ago, amounts from
# N(100, 25) clamped at 0 (the schema's minimum). Ids are time-ordered like the app's uuid7
# (48-bit milliseconds, then random bits, version 7), so the primary key grows as it does.
LOAD_SQL = """
INSERT INTO reviewqueue_recommendation (
    id, source_id, queue_id, action_type_id, external_id, content_hash, payload, confidence,
    risk_score, rationale, evidence, model_name, model_version, prompt_version, priority,
    expires_at, metadata, flags, route, status, created_at, updated_at, closed_at, qa_sampled)
SELECT encode(set_byte(overlay(uuid_send(gen_random_uuid())
                               PLACING substring(int8send((extract(epoch FROM t) * 1000)::int8)
                                                 FROM 3)
                               FROM 1 FOR 6), 6, 112 + (random() * 15)::int), 'hex')::uuid,
       %(source)s, %(queue)s, %(action_type)s,
       %(prefix)s || i,
       md5(i::text) || md5((i + 1)::text),
       jsonb_build_object('order_id', 'A-' || i,
                          'amount', round(greatest(0, random_normal(100, 25))::numeric, 2)),
       0.91, 0.42,
       'Customer was charged twice for the order.',
       '[{"title": "Order", "url": "https://crm.example/orders/A-1", "snippet": "..."}]',
       'refund-agent', '2026-10-01', 'refund-v7', 0,
       t + interval '90 days', '{"customer_tier": "gold"}', '[]', 'auto', 'auto_approved',
       t, t, t, false
FROM (SELECT i, now() - interval '10 minutes' - interval '30 days'
                + i * (interval '30 days' / %(n)s) AS t
      FROM generate_series(1, %(n)s) AS i) AS s
"""

# Runs inside `manage.py shell -c`: the refresh as the periodic task runs it, timed twice.
REFRESH_SCRIPT = """
import json, time
from reviewqueue.services.anomaly import baselines_refresh
times = []
for _ in range(2):
    t0 = time.perf_counter()
    written = baselines_refresh()
    times.append(time.perf_counter() - t0)
print("BENCH_REFRESH " + json.dumps({"written": written, "seconds": times}))
"""


# --- Set-up ------------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    """A TOML value for the demo source's fields (strings, booleans, lists of strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)  # a JSON string is a TOML basic string


def bench_config() -> str:
    """QUEUES_TOML plus the demo's source, allowed to post to the bench queues as well."""
    demo = tomllib.loads((ROOT / "demo" / "reviewqueue.toml").read_text())
    source = next((s for s in demo.get("sources", []) if s.get("name") == SOURCE), None)
    if source is None:
        raise BenchError(f"demo/reviewqueue.toml has no source '{SOURCE}'")
    source = {**source, "queues": [*source.get("queues", []), *QUEUES]}
    lines = [f"{key} = {toml_value(value)}" for key, value in source.items()]
    return QUEUES_TOML + "\n[[sources]]\n" + "\n".join(lines) + "\n"


def setup(conn: psycopg.Connection, args: argparse.Namespace, logdir: Path) -> dict[str, Any]:
    """Users, configs, API key, history and baselines; returns the key and set-up figures."""
    password = {"REVIEWQUEUE_PASSWORD": secrets.token_urlsafe(16)}
    log("users alice and bob, demo/reviewqueue.toml, the bench queues")
    manage("create_user", "alice", "--role", "senior", env=password)
    manage("create_user", "bob", "--role", "reviewer", env=password)
    manage("apply_config", "demo/reviewqueue.toml", env=DEMO_ENV)
    config_path = logdir / "bench-flags.toml"
    config_path.write_text(bench_config())
    manage("apply_config", str(config_path), env=DEMO_ENV)
    key = manage("create_api_key", SOURCE).strip().splitlines()[-1].strip()

    rows = conn.execute(
        "SELECT q.slug, q.stage, s.id, q.id, a.id FROM reviewqueue_queue q,"
        " reviewqueue_source s, reviewqueue_actiontype a"
        " WHERE q.slug = ANY(%s) AND s.name = %s AND a.name = %s",
        (list(QUEUES), SOURCE, ACTION_TYPE),
    ).fetchall()
    stages = {slug: stage for slug, stage, *_ in rows}
    if stages != dict.fromkeys(QUEUES, "autonomous"):
        raise BenchError(f"expected every bench queue autonomous, found {stages}")
    ids = {slug: {"source": s, "queue": q, "action_type": a} for slug, _, s, q, a in rows}

    loaded: dict[str, float] = {}
    for slug, n in ((OUTLIER, args.history), (FLAGGED, args.history), (PLAIN, args.plain_history)):
        if n <= 0:
            continue
        log(f"loading {n:,} history rows of '{slug}' (INSERT ... SELECT generate_series)")
        t0 = time.perf_counter()
        conn.execute(LOAD_SQL, {**ids[slug], "prefix": f"hist-{slug}-", "n": n})
        loaded[slug] = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute("VACUUM ANALYZE reviewqueue_recommendation")
    vacuum = time.perf_counter() - t0
    log(
        "loaded in "
        + ", ".join(f"{slug} {seconds:.1f} s" for slug, seconds in loaded.items())
        + f"; VACUUM ANALYZE {vacuum:.1f} s"
    )

    log("refreshing the anomaly baselines (services/anomaly.baselines_refresh, twice)")
    out = manage("shell", "-c", REFRESH_SCRIPT, timeout=600)
    line = next((x for x in out.splitlines() if x.startswith("BENCH_REFRESH ")), None)
    if line is None:
        raise BenchError(f"the baseline refresh printed nothing:\n{out[-2000:]}")
    refresh = json.loads(line.removeprefix("BENCH_REFRESH "))
    baseline = conn.execute(
        "SELECT count, mean, stddev FROM reviewqueue_anomalybaseline"
        " WHERE queue_id = %s AND action_type_id = %s AND field = 'amount'",
        (ids[FLAGGED]["queue"], ids[FLAGGED]["action_type"]),
    ).fetchone()
    if baseline is None or baseline[0] < 10:
        raise BenchError(f"no usable baseline for '{FLAGGED}' after the refresh: {baseline}")
    log(
        f"refresh wrote {refresh['written']} baselines in {refresh['seconds'][0] * 1000:.1f} ms"
        f" (again: {refresh['seconds'][1] * 1000:.1f} ms); '{FLAGGED}' amount: n={baseline[0]},"
        f" mean {baseline[1]:.1f}, sd {baseline[2]:.1f}"
    )
    return {
        "key": key,
        "ids": ids,
        "loaded": loaded,
        "vacuum": vacuum,
        "refresh": refresh,
        "baseline": baseline,
    }


# --- Measurements ------------------------------------------------------------------------


def post_queue(port: int, key: str, slug: str, prefix: str, clients: int, seconds: int) -> Sample:
    """bench_ingest.run_wrk with its body aimed at `slug` (run_wrk builds the body from
    bench_ingest.item, which names the refunds queue) and amount AMOUNT."""
    demo_item = bench_ingest.item

    def item(external_id: str) -> dict[str, Any]:
        body = demo_item(external_id)
        body["queue"] = slug
        body["action"]["payload"]["amount"] = AMOUNT
        return body

    with mock.patch.object(bench_ingest, "item", item):
        return bench_ingest.run_wrk(port, INGEST_PATH, key, prefix, clients, seconds)


def recent_volume(conn: psycopg.Connection, source_id: int) -> int:
    """The source's items over the last 5 minutes, all queues (for the report)."""
    row = conn.execute(
        "SELECT count(*) FROM reviewqueue_recommendation"
        " WHERE source_id = %s AND created_at > now() - interval '5 minutes'",
        (source_id,),
    ).fetchone()
    return int(row[0]) if row else 0


def check_stored(conn: psycopg.Connection, run: str, series: dict[str, Series]) -> str:
    """Every item of the run stored, auto-routed and unflagged, in the queue it was sent to."""
    time.sleep(0.5)  # requests in flight when wrk stopped
    rows = conn.execute(
        "SELECT q.slug, count(*), count(*) FILTER (WHERE r.route = 'auto' AND r.flags = '[]'),"
        " count(e.id)"
        " FROM reviewqueue_recommendation r JOIN reviewqueue_queue q ON q.id = r.queue_id"
        " LEFT JOIN reviewqueue_execution e ON e.recommendation_id = r.id"
        " WHERE r.external_id LIKE %s GROUP BY q.slug ORDER BY q.slug",
        (f"{run}-%",),
    ).fetchall()
    stored = {slug: (int(n), int(auto), int(execs)) for slug, n, auto, execs in rows}
    for slug in QUEUES:
        answered = sum(
            x.count for (name, _), s in series.items() if name == slug for x in s.samples
        )
        n, auto, execs = stored.get(slug, (0, 0, 0))
        if n < answered:
            raise BenchError(f"'{slug}': {n} items stored, fewer than {answered} answered")
        if auto != n or execs != n:
            raise BenchError(
                f"'{slug}': of {n} items, {auto} auto-routed without flags and {execs} with an"
                " execution row; the queues must do the same work for a ratio to mean anything"
            )
    return ", ".join(f"{slug} {n:,}" for slug, (n, _, _) in stored.items())


# --- Report ------------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def print_report(
    series: dict[tuple[str, int], Series], args: argparse.Namespace, config: list[str]
) -> None:
    print()
    print(
        "Flags benchmark: single-item ingest, plain vs outlier vs flagged"
        f" (medians of {args.rounds} rounds)"
    )
    for line in config:
        print(f"  {line}")
    print()
    table = Table(["queue", "conns", "req/s", "p50 ms", "p95 ms", "p50 spread", "req/s spread"])
    for (slug, clients), s in series.items():
        p50s, rates = [x.p50_ms for x in s.samples], [x.rate for x in s.samples]
        table.add(
            slug, str(clients), f"{s.median('rate'):,.0f}", ms(s.median("p50_ms")),
            ms(s.median("p95_ms")), f"{spread(p50s):.0%}", f"{spread(rates):.0%}",
        )  # fmt: skip
    print(table.render())
    print("(spread = (max - min) / median over the rounds)")
    print()
    for clients in sorted({c for _, c in series}):
        plain = series[(PLAIN, clients)]
        for slug in (OUTLIER, FLAGGED):
            other = series[(slug, clients)]
            per_round = [
                o.p50_ms / p.p50_ms for p, o in zip(plain.samples, other.samples, strict=True)
            ]
            print(
                f"{slug} / plain, {clients} conn: "
                + ", ".join(
                    f"{name} {ratio(other.median(attr), plain.median(attr))}"
                    for name, attr in (("p50", "p50_ms"), ("p95", "p95_ms"), ("req/s", "rate"))
                )
                + f" (per-round p50 ratios {min(per_round):.2f}-{max(per_round):.2f})"
            )
    print()
    print("Per round (volume: the source's items in the last 5 minutes, all queues, before")
    print("the round's plain run):")
    table = Table(
        ["round", "conns", "first", "plain p50", "outlier p50", "flagged p50", "outlier/plain",
         "flagged/plain", "volume"]
    )  # fmt: skip
    for clients in sorted({c for _, c in series}):
        rows = zip(*(series[(slug, clients)].samples for slug in QUEUES), strict=True)
        for n, (p, o, f) in enumerate(rows, 1):
            table.add(
                str(n), str(clients), rotation(n)[0], ms(p.p50_ms), ms(o.p50_ms), ms(f.p50_ms),
                f"{o.p50_ms / p.p50_ms:.2f}", f"{f.p50_ms / p.p50_ms:.2f}", p.note,
            )  # fmt: skip
    print(table.render())


def rotation(round_no: int) -> tuple[str, ...]:
    """The queues' order in a round: rotated by one each round."""
    k = (round_no - 1) % len(QUEUES)
    return QUEUES[k:] + QUEUES[:k]


# --- Main --------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="repetitions (median reported)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per queue")
    parser.add_argument("--clients", type=int, default=8, help="connections of the throughput "
                        "pass (0 or 1: none)")  # fmt: skip
    parser.add_argument(
        "--history", type=int, default=1_000_000, help="history rows, outlier and flagged each"
    )
    parser.add_argument("--plain-history", type=int, default=100_000, help="history rows, plain")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads; >1 is gthread")
    parser.add_argument("--keep-logs", action="store_true", help="keep the gunicorn log")
    args = parser.parse_args()
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    database_url = require_services("flags", wrk=True)

    load_before = loadavg()
    run = secrets.token_hex(3)
    conn = psycopg.connect(database_url, autocommit=True)
    logdir = Path(tempfile.mkdtemp(prefix="reviewqueue-bench-"))
    flags = gunicorn_flags(args.workers, args.threads)
    passes = [1] + ([args.clients] if args.clients > 1 else [])
    series = {
        (slug, clients): Series(f"{slug}, {clients} conn", "one request")
        for clients in passes
        for slug in QUEUES
    }
    loads: list[float] = []
    server: Gunicorn | None = None
    try:
        prepared = setup(conn, args, logdir)
        key, source_id = prepared["key"], prepared["ids"][PLAIN]["source"]
        env = {"REVIEWQUEUE_INGEST_RATE": HUGE_RATE, "DJANGO_CONN_MAX_AGE": "600"}
        server = Gunicorn("app", "config.wsgi", flags, env, logdir)
        server.wait_ready("/healthz")
        log("warming up")
        for slug in QUEUES:
            post_queue(server.port, key, slug, f"{run}-w-{slug}", 1, args.warmup)

        for round_no in range(1, args.rounds + 1):
            order = rotation(round_no)
            for clients in passes:
                for slug in order:
                    volume = recent_volume(conn, source_id)
                    loads.append(loadavg())
                    prefix = f"{run}-r{round_no}-{slug}-c{clients}"
                    sample = post_queue(server.port, key, slug, prefix, clients, args.duration)
                    sample.note = f"{volume:,}"
                    series[(slug, clients)].samples.append(sample)
                    log(
                        f"round {round_no} {slug:<7} {clients} conn: {sample.rate:,.0f} req/s,"
                        f" p50 {sample.p50_ms:.2f} ms, p95 {sample.p95_ms:.2f} ms"
                        f" (source's last 5 min before: {volume:,} items;"
                        f" load {loads[-1]:.2f})"
                    )
        stored = check_stored(conn, run, series)
        log(f"stored and auto-routed without flags: {stored} (warm-up included)")
        settings = pg_settings(conn)
    except BenchError:
        if server is not None:
            log(f"gunicorn log (last lines):\n{server.tail_log()}")
        raise
    finally:
        if server is not None:
            server.stop()
        if not args.keep_logs:
            shutil.rmtree(logdir, ignore_errors=True)
        conn.close()

    refresh, (n, mean, sd) = prepared["refresh"], prepared["baseline"]
    print_report(
        series,
        args,
        [
            f"history: {args.history:,} rows each of '{OUTLIER}' and '{FLAGGED}',"
            f" {args.plain_history:,} of '{PLAIN}'"
            " (refund.issue, 30 days, amount ~ N(100, 25)); loaded in "
            + ", ".join(f"{k} {v:.1f} s" for k, v in prepared["loaded"].items())
            + f"; VACUUM ANALYZE {prepared['vacuum']:.1f} s",
            f"baseline refresh: {refresh['written']} baselines in"
            f" {refresh['seconds'][0] * 1000:.1f} ms (again {refresh['seconds'][1] * 1000:.1f}"
            f" ms); '{FLAGGED}' amount n={n}, mean {mean:.1f}, sd {sd:.1f}",
            f"wrk {args.duration} s per run, the queues taking turns, order rotated each"
            f" round; gunicorn {' '.join(flags)}, CONN_MAX_AGE=600",
            f"PostgreSQL: {settings}",
            f"machine: {os.cpu_count()} cores shared by wrk, gunicorn, PostgreSQL and Redis;"
            f" 1-min load average {load_before:.2f} before, {loadavg():.2f} after,"
            f" {min(loads):.2f}-{max(loads):.2f} at the runs' starts, p50 {pct(loads, 50):.2f}",
        ],
    )
    return 0


if __name__ == "__main__":
    run_bench(main, "bench_flags")
