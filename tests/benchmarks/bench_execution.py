"""Execution benchmark: 2 Celery worker processes carry out approved actions against a local
webhook sink, against the same workers running an empty task, in one run.

Run it (from the repository root; scripts/bench starts a throwaway PostgreSQL and Redis,
migrates, runs this file and stops everything; extra arguments come here, see --help):

    scripts/bench execution
    scripts/bench execution --rounds 3 --items 10000
    scripts/bench execution --items 2000 --rounds 1      # a quicker look
    scripts/bench execution --profile   # then time execution_run's phases in-process and
                                        # EXPLAIN ANALYZE the breaker (profile_execution.py)
    scripts/bench execution --profile --cprofile tests/benchmarks/profiles/execution.txt
                                        # and a cProfile summary of a batch, to that file

It is a measurement, not a test: not collected by pytest. It exits 0 whenever the run itself
worked, whether the speed targets are met or not; 1 if a process failed to start, an
execution did not succeed, or the sink saw an action twice or not at all.

Set-up: a config applied with `manage.py apply_config` (REVIEWQUEUE_OUTBOUND_ALLOWLIST=
127.0.0.1:*): action type refund.issue, executor `webhook` to the sink, signed with
$BENCH_WEBHOOK_SECRET; queue refunds in stage `supervised` (auto when risk < 0.3 and
confidence >= 0.95); source support-agent without a callback_url (see X+cb). The sink
(tests/benchmarks/sink.py) is its own process: asyncio, answers 200 at once, records the
arrival time and Idempotency-Key of each request. The workers are
`celery -A config worker --pool=prefork --concurrency=2 --include tests.benchmarks.worker_tasks`
(2 worker processes; Redis from scripts/bench, the benchmark database), started once and
kept warm; between phases they consume only an idle queue, and Celery's remote control
(add_consumer / cancel_consumer on `celery`) starts and stops their work on the real queue.

What it measures, each `--rounds` times (interleaved E, X, L, then again), median reported:

  E   baseline: --items `bench.empty` tasks (tests/benchmarks/worker_tasks.py: one Redis INCR)
      queued while the workers are paused; then resumed and timed from the first task's
      start (it notes the time) until the counter says all have run (polled every 5 ms).
      Tasks/s.
  X   --items approved items, made the cheapest real way: ingest in this process
      (recommendation_ingest_batch, 1,000 per call, each item routed `auto`, so it is
      stored with its policy decision and execution row and `execute_action` is published
      on commit) while the workers are paused; then resumed and run until every execution
      is `succeeded`, timed from the first attempt's started_at to the last finished_at
      (both from the database). Executions/s. Resuming takes the workers up to a second
      (their Redis poll), which neither E nor X counts.
  L   latency when not backlogged: with the workers running, one item ingested every
      1/--latency-rate s for --latency-duration s (by default a quarter of the warm-up's
      execution rate, at most 20/s); decision (Decision.decided_at) to sink
      arrival, p50/p95, and where it goes: decision -> attempt row (queue, pick-up, claim),
      attempt -> sink (the webhook POST), sink -> finished_at (the rest of the task). Not
      backlogged only while the offered rate is well below X's: the report gives the ratio.

Context, once after the rounds (--callback-items, 0 to skip): X+cb, the same as X with the
source's callback_url at the sink, so each item also delivers decision.made and
execution.succeeded callbacks through the same workers (3 tasks per item).

Targets: X >= 500 executions/s; X >= 50% of E; L decision-to-sink p50 <= 200 ms. Checks: the
sink received every execution's Idempotency-Key exactly once, and no execution ended other
than `succeeded`.

Client (ingest), workers, sink, PostgreSQL and Redis share the machine's cores; per round the
report gives the cores each of them used, and "others": busy cores in none of them (other
people's processes). scripts/bench's PostgreSQL runs with fsync=off and
synchronous_commit=off: the figures are for ratios, not durability claims.

Needs DATABASE_URL (PostgreSQL, migrated, empty) and CELERY_BROKER_URL (Redis), as
scripts/bench exports them.
"""

import argparse
import json
import os
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (
    ACTION_TYPE,
    HERE,
    QUEUE,
    ROOT,
    SOURCE,
    BenchError,
    CpuMeter,
    Table,
    checks_table,
    fmt_cores,
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
    stop_group,
)

TARGET_EXECUTIONS_PER_S = 500.0
TARGET_VS_EMPTY = 0.50
TARGET_LATENCY_P50_MS = 200.0
SECRET_ENV = "BENCH_WEBHOOK_SECRET"
EMPTY_COUNTER, EMPTY_FIRST = "bench:empty:done", "bench:empty:first"  # as worker_tasks.py

CONFIG_TOML = """
[[action_types]]
name = "{action_type}"
executor = "webhook"
url = "{url}"
signing_secret_env = "{secret_env}"
payload_schema = {{ type = "object", required = ["order_id", "amount"], additionalProperties = false, properties = {{ order_id = {{ type = "string" }}, amount = {{ type = "number", minimum = 0 }}, currency = {{ type = "string", enum = ["EUR", "USD", "GBP"] }}, note = {{ type = "string" }} }} }}
cosmetic_fields = ["note"]

[[queues]]
slug = "{queue}"
name = "Refunds"
stage = "supervised"
action_types = ["{action_type}"]
reason_codes = ["wrong_amount", "policy_violation", "other"]
sla_minutes = 60
routing = {{ auto_max_risk = 0.3, auto_min_confidence = 0.95, escalate_min_risk = 0.7, qa_sample_rate = 0.05 }}

[[sources]]
name = "{source}"
queues = ["{queue}"]
signing_secret_env = "{secret_env}"
"""


def item(external_id: str) -> dict[str, Any]:
    """A recommendation the supervised refunds queue executes without review."""
    return {
        "queue": QUEUE,
        "external_id": external_id,
        "action": {"type": ACTION_TYPE, "payload": {"order_id": "A-1042", "amount": 12.5}},
        "confidence": 0.98,
        "risk_score": 0.05,
        "rationale": "Customer was charged twice for the order.",
        "evidence": [{"title": "Order", "url": "https://crm.example/orders/A-1", "snippet": "..."}],
        "model": {"name": "refund-agent", "version": "2026-10-01"},
        "prompt_version": "refund-v7",
        "metadata": {"customer_tier": "gold"},
    }


# --- Processes ---------------------------------------------------------------------------


class Sink:
    """tests/benchmarks/sink.py in its own process group."""

    def __init__(self, logdir: Path):
        with open(logdir / "sink.log", "w") as errors:
            self.proc = subprocess.Popen(
                [sys.executable, str(HERE / "sink.py"), "0"],
                cwd=ROOT, start_new_session=True, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=errors, text=True,
            )  # fmt: skip
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline() if ready else ""  # type: ignore[union-attr]
        if not line.startswith("sink listening on "):
            stop_group(self.proc, "sink")
            raise BenchError(f"the sink did not start: {line!r}")
        self.port = int(line.split()[-1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.seen = 0  # records already fetched

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return bytes(response.read())

    def count(self) -> int:
        return int(self.get("/count"))

    def new_records(self) -> list[tuple[float, str, str]]:
        """Records that arrived since the last call."""
        rows = json.loads(self.get(f"/records?from={self.seen}"))
        self.seen += len(rows)
        return [(float(t), str(p), str(k)) for t, p, k in rows]

    def stop(self) -> None:
        stop_group(self.proc, "sink", grace=5)


class Workers:
    """One `celery worker --pool=prefork` (its processes in one process group), consuming an
    idle queue until resume()."""

    def __init__(self, app: Any, concurrency: int, env: dict[str, str], logdir: Path):
        self.app = app
        self.name = f"bench-{secrets.token_hex(3)}@%h"
        self.log_path = logdir / "celery-worker.log"
        cmd = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork",
            f"--concurrency={concurrency}", "-Q", "bench-idle",
            "--include", "tests.benchmarks.worker_tasks", "-n", self.name, "--loglevel=WARNING",
        ]  # fmt: skip
        log(f"starting workers: {' '.join(cmd[2:])}")
        with open(self.log_path, "w") as output:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            replies = app.control.ping(timeout=0.5)
            names = [name for reply in replies for name in reply]
            mine = [n for n in names if n.startswith(self.name.split("@")[0] + "@")]
            if mine:
                self.node = mine[0]
                return
        self.stop()
        raise BenchError(f"the workers did not start; their log:\n{self.tail_log()}")

    def _control(self, method: str) -> None:
        replies = getattr(self.app.control, method)(
            "celery", destination=[self.node], reply=True, timeout=5, limit=1
        )
        if not replies:
            raise BenchError(f"the workers did not answer {method}")

    def resume(self) -> None:
        self._control("add_consumer")

    def pause(self) -> None:
        self._control("cancel_consumer")

    def tail_log(self) -> str:
        try:
            return "".join(self.log_path.read_text().splitlines(keepends=True)[-30:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        stop_group(self.proc, "celery worker", grace=20)


# --- Results -----------------------------------------------------------------------------


@dataclass
class Sample:
    rate: float = float("nan")  # tasks/s, executions/s, or items/s offered (L)
    p50_ms: float = float("nan")
    p95_ms: float = float("nan")
    count: int = 0
    parts: dict[str, tuple[float, float]] = field(default_factory=dict)  # L: (p50, p95)
    cores: dict[str, float] = field(default_factory=dict)  # CPU used while it ran
    note: str = ""


@dataclass
class Series:
    label: str
    unit: str
    samples: list[Sample] = field(default_factory=list)

    def med(self, attr: str) -> float:
        return median([getattr(s, attr) for s in self.samples])

    def part(self, name: str, which: int) -> float:
        return median([s.parts[name][which] for s in self.samples if name in s.parts])

    def cores(self) -> dict[str, float]:
        names = self.samples[0].cores.keys() if self.samples else []
        return {n: median([s.cores.get(n, 0.0) for s in self.samples]) for n in names}


# --- Phases ------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, sink: Sink, workers: Workers, meter: CpuMeter):
        import redis
        from django.db import connection

        from config.celery import app
        from reviewqueue.models import Source

        self.args, self.sink, self.workers, self.meter = args, sink, workers, meter
        self.app = app
        self.source = Source.objects.get(name=SOURCE)
        self.redis = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
        self.connection = connection
        self.run = secrets.token_hex(3)
        self.keys_done: list[str] = []  # every execution's key that must reach the sink once
        self.arrivals: dict[str, list[float]] = {}  # key -> arrival times at the sink
        self.callbacks_seen = 0

    def set_callback_url(self, url: str) -> None:
        from reviewqueue.models import Source

        Source.objects.filter(pk=self.source.pk).update(callback_url=url)
        self.source = Source.objects.get(pk=self.source.pk)

    def refresh_arrivals(self) -> None:
        for arrived, path, key in self.sink.new_records():
            if path.startswith("/actions/"):
                self.arrivals.setdefault(key, []).append(arrived)
            else:
                self.callbacks_seen += 1

    @staticmethod
    def wait(what: str, done: Any, timeout: float, every: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(every)

    def queued(self) -> int:
        return int(self.redis.llen("celery"))

    # E: the empty task -------------------------------------------------------------------
    def empty(self, n: int) -> Sample:
        self.redis.delete(EMPTY_COUNTER, EMPTY_FIRST)
        with self.app.producer_or_acquire() as producer:
            for _ in range(n):
                self.app.send_task("bench.empty", producer=producer)
        if self.queued() != n:
            raise BenchError(f"{self.queued()} messages queued for {n} empty tasks")
        self.workers.resume()
        self.wait("the first empty task", lambda: self.redis.exists(EMPTY_FIRST), 60, 0.005)
        cpu0 = self.meter.snapshot()
        self.wait(
            "the empty tasks",
            lambda: int(self.redis.get(EMPTY_COUNTER) or 0) >= n,
            timeout=max(60, n / 20),
            every=0.005,
        )
        end = time.time()
        cores = self.meter.cores(cpu0, self.meter.snapshot())
        elapsed = end - float(self.redis.get(EMPTY_FIRST) or "nan")
        self.workers.pause()
        return Sample(rate=n / elapsed, count=n, cores=cores, note=f"{n:,} in {elapsed:.2f} s")

    # X: approved items executed -------------------------------------------------------------
    def ingest(self, prefix: str, n: int) -> list[str]:
        """n auto-approved items through the ingest service, 1,000 per call; their ids."""
        from reviewqueue.services.ingest import recommendation_ingest_batch

        ids: list[str] = []
        for start in range(0, n, 1000):
            items = [item(f"{prefix}-{i}") for i in range(start, min(n, start + 1000))]
            results = recommendation_ingest_batch(source=self.source, items=items)
            bad = [r for r in results if r.status != 201 or r.route != "auto"]
            if bad:
                raise BenchError(f"ingest did not auto-approve: {bad[:3]}")
            ids.extend(str(r.recommendation_id) for r in results)
        return ids

    def execution_counts(self, first: int, last: int) -> tuple[int, int]:
        with self.connection.cursor() as cur:
            cur.execute(
                "SELECT count(*) FILTER (WHERE status = 'succeeded'),"
                " count(*) FILTER (WHERE status IN ('dead', 'refused', 'retrying'))"
                " FROM reviewqueue_execution WHERE id BETWEEN %s AND %s",
                [first, last],
            )
            row = cur.fetchone()
        return int(row[0]), int(row[1])

    def executions(self, n: int, label: str, callbacks: bool = False) -> tuple[Sample, float]:
        """n items approved while the workers are paused, then run: executions/s from the
        resume to the last finished_at. With callbacks, also waits for their 2n deliveries
        and returns all tasks/s (3n) to the last delivery as the second value."""
        from django.db.models import Count

        from reviewqueue.models import CallbackDelivery, Execution

        t0 = time.perf_counter()
        ids = self.ingest(f"{self.run}-x{label}", n)
        made = time.perf_counter() - t0
        keys = [f"rq-{i}" for i in ids]
        rows = list(Execution.objects.filter(idempotency_key__in=keys).values_list("id", flat=True))
        first, last = (min(rows), max(rows)) if rows else (0, -1)
        if len(rows) != n or last - first + 1 != n:
            raise BenchError(f"{len(rows)} execution rows (ids {first}..{last}) for {n} items")
        expected = 2 * n if callbacks else n  # decision.made callbacks are queued too
        if self.queued() != expected:
            deliveries = dict(
                CallbackDelivery.objects.filter(recommendation_id__in=ids)
                .values_list("status")
                .annotate(n=Count("id"))
            )
            raise BenchError(
                f"{self.queued()} messages queued; expected {expected} (callback rows:"
                f" {deliveries}, sink callbacks so far {self.sink.count() - self.sink.seen})"
            )
        self.workers.resume()
        cpu0 = self.meter.snapshot()

        def finished() -> bool:
            ok, failed = self.execution_counts(first, last)
            if failed:
                raise BenchError(f"{failed} executions failed or are retrying; see the log")
            return ok == n

        self.wait("the executions", finished, timeout=max(300, n / 5), every=0.1)
        cores = self.meter.cores(cpu0, self.meter.snapshot())
        last_delivery = None
        if callbacks:
            deliveries = CallbackDelivery.objects.filter(recommendation_id__in=ids)
            self.wait(
                "the callbacks",
                lambda: deliveries.filter(status="delivered").count() >= 2 * n,
                timeout=max(120, n / 10),
                every=0.2,
            )
            last_delivery = max(deliveries.values_list("delivered_at", flat=True))
        self.wait("an empty queue", lambda: self.queued() == 0, timeout=60, every=0.05)
        self.workers.pause()
        with self.connection.cursor() as cur:
            cur.execute(
                "SELECT extract(epoch FROM min(a.started_at)), extract(epoch FROM max(e.finished_at))"
                " FROM reviewqueue_execution e JOIN reviewqueue_executionattempt a"
                " ON a.execution_id = e.id WHERE e.id BETWEEN %s AND %s",
                [first, last],
            )
            row = cur.fetchone()
        elapsed = float(row[1]) - float(row[0])  # first attempt's start to the last finish
        all_rate = 3 * n / (last_delivery.timestamp() - float(row[0])) if last_delivery else 0.0
        self.keys_done.extend(keys)
        note = f"{n:,} in {elapsed:.2f} s (made in {made:.1f} s)"
        return Sample(rate=n / elapsed, count=n, cores=cores, note=note), all_rate

    # L: latency when not backlogged --------------------------------------------------------
    def latency(self, rate: float, duration: float, label: str) -> Sample:
        from reviewqueue.models import Execution, ExecutionAttempt
        from reviewqueue.services.ingest import recommendation_ingest

        n = max(1, int(rate * duration))
        self.workers.resume()
        cpu0 = self.meter.snapshot()
        ids: list[str] = []
        start = time.perf_counter()
        for i in range(n):
            pause = start + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            rec, created = recommendation_ingest(
                source=self.source, data=item(f"{self.run}-l{label}-{i}")
            )
            if not created or rec.route != "auto":
                raise BenchError(f"latency item {i} was not auto-approved ({rec.route})")
            ids.append(str(rec.pk))
        keys = [f"rq-{i}" for i in ids]
        done = Execution.objects.filter(idempotency_key__in=keys, status="succeeded")
        self.wait("the latency items", lambda: done.count() == n, timeout=120, every=0.05)
        cores = self.meter.cores(cpu0, self.meter.snapshot())
        self.workers.pause()
        self.keys_done.extend(keys)
        self.refresh_arrivals()
        rows = Execution.objects.filter(idempotency_key__in=keys).values_list(
            "id", "idempotency_key", "recommendation__decision__decided_at", "finished_at"
        )
        attempts = dict(
            ExecutionAttempt.objects.filter(execution__idempotency_key__in=keys, number=1)
            .values_list("execution_id", "started_at")
        )  # fmt: skip
        to_sink, to_attempt, attempt_to_sink, sink_to_done = [], [], [], []
        for pk, key, decided_at, finished_at in rows:
            if not self.arrivals.get(key):
                raise BenchError(f"{key} never reached the sink")
            arrived, decided = self.arrivals[key][0], decided_at.timestamp()
            attempt = attempts[pk].timestamp()
            to_sink.append((arrived - decided) * 1000)
            to_attempt.append((attempt - decided) * 1000)
            attempt_to_sink.append((arrived - attempt) * 1000)
            sink_to_done.append((finished_at.timestamp() - arrived) * 1000)
        parts = {
            "decision -> attempt row (queue, pick-up, claim)": to_attempt,
            "attempt row -> sink (the webhook POST)": attempt_to_sink,
            "sink -> finished_at (recording the result)": sink_to_done,
        }
        return Sample(
            rate=n / duration, p50_ms=pct(to_sink, 50), p95_ms=pct(to_sink, 95), count=n,
            parts={k: (pct(v, 50), pct(v, 95)) for k, v in parts.items()}, cores=cores,
            note=f"{n} items at {rate:g}/s",
        )  # fmt: skip


# --- Report ------------------------------------------------------------------------------


def print_report(
    series: dict[str, Series],
    context: list[str],
    config: list[str],
    checks: list[tuple[str, str, str, bool]],
) -> None:
    rounds = len(series["X"].samples)
    print()
    print(f"Execution benchmark (medians of {rounds} rounds)")
    for line in config:
        print(f"  {line}")
    print()
    table = Table(["measurement", "rate/s", "p50 ms", "p95 ms", "spread", "rate of"])
    noisy = False
    for key, s in series.items():
        rates = [x.rate for x in s.samples]
        if key != "L":
            noisy = noisy or spread(rates) > 0.25
        table.add(
            s.label, f"{s.med('rate'):,.0f}", ms(s.med("p50_ms")), ms(s.med("p95_ms")),
            "-" if key == "L" else f"{spread(rates):.0%}", s.unit,
        )  # fmt: skip
        for name in s.samples[0].parts if s.samples else []:
            table.add(f"      {name}", "", ms(s.part(name, 0)), ms(s.part(name, 1)), "", "")
    print(table.render())
    print("(spread = (max - min) / median of rate/s over the rounds; L's rate is what was offered)")
    if noisy:
        print("(a spread over 25% means the machine was busy with something else: look at the")
        print(" rounds below, or run again)")
    print()
    print("Per round (rate/s | p50 ms | CPU used, in cores):")
    width = max(len(s.label) for s in series.values())
    for s in series.values():
        for n, x in enumerate(s.samples, 1):
            label = s.label if n == 1 else ""
            print(f"  {label:<{width}}  {x.rate:>7,.0f} | {ms(x.p50_ms):>6} | {fmt_cores(x.cores)}")
    if context:
        print()
        for line in context:
            print(line)
    print()
    print(checks_table(checks))


# --- Main --------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--items", type=int, default=10_000, help="items per E and X round")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--latency-rate", type=float, default=0,
        help="L: items per second (default: a quarter of the warm-up's executions/s, <= 20)",
    )  # fmt: skip
    parser.add_argument("--latency-duration", type=float, default=10, help="L: seconds/round")
    parser.add_argument("--warmup", type=int, default=300, help="E and X items to warm up")
    parser.add_argument(
        "--callback-items", type=int, default=1000, help="X+cb items (context; 0 skips it)"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the worker/sink logs")
    parser.add_argument(
        "--profile", action="store_true", help="then time an execution's phases in-process"
    )
    parser.add_argument("--profile-count", type=int, default=200, help="executions profiled")
    parser.add_argument(
        "--cprofile",
        metavar="PATH",
        help="with --profile: also write a cProfile summary of --profile-count executions",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    require_services("execution")
    load_before = loadavg()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    from config.celery import app

    logdir = Path(tempfile.mkdtemp(prefix="reviewqueue-bench-execution-"))
    series = {
        "E": Series(f"E  empty Celery task, {args.concurrency} worker processes", "tasks"),
        "X": Series(f"X  {args.items:,} approved items executed -> sink", "executions"),
        "L": Series("L  decision -> sink (not backlogged)", "offered"),
    }
    context: list[str] = []
    sink = workers = None
    profile_output = ""
    try:
        sink = Sink(logdir)
        config = logdir / "bench.toml"
        config.write_text(
            CONFIG_TOML.format(
                action_type=ACTION_TYPE, queue=QUEUE, source=SOURCE, secret_env=SECRET_ENV,
                url=f"{sink.url}/actions/refund",
            )
        )  # fmt: skip
        log(f"config: {ACTION_TYPE} -> webhook {sink.url}/actions/refund, {QUEUE} supervised")
        # apply_config checks that the signing secret's variable is set, as the workers need.
        worker_env = {
            "REVIEWQUEUE_OUTBOUND_ALLOWLIST": "127.0.0.1:*",
            SECRET_ENV: secrets.token_urlsafe(24),
            "DJANGO_DEBUG": "0",
        }
        manage("apply_config", str(config), env=worker_env)
        workers = Workers(app, args.concurrency, worker_env, logdir)
        pg, rd = postgres_pid(), redis_pid()
        meter = CpuMeter(
            {
                "workers": workers.proc.pid,
                "postgres": ("tree", pg) if pg else None,
                "redis": ("pid", rd) if rd else None,
                "sink": sink.proc.pid,
                "bench": "self",
            }
        )
        bench = Bench(args, sink, workers, meter)

        log("warming up the workers (empty tasks, executions, latency items)")
        bench.empty(args.warmup)
        warm, _ = bench.executions(args.warmup, "warm")
        if not args.latency_rate:
            args.latency_rate = round(min(20.0, warm.rate / 4), 1)
        series["L"].label = f"L  decision -> sink, {args.latency_rate:g} items/s (not backlogged)"
        bench.latency(args.latency_rate, 2, "warm")
        log(
            f"warm-up ran {warm.rate:,.0f} executions/s: each X round of {args.items:,} should"
            f" take about {args.items / warm.rate:,.0f} s"
        )

        steps = [
            ("E", lambda r: bench.empty(args.items)),
            ("X", lambda r: bench.executions(args.items, f"r{r}")[0]),
            ("L", lambda r: bench.latency(args.latency_rate, args.latency_duration, f"l{r}")),
        ]
        for round_no in range(1, args.rounds + 1):
            for name, step in steps:
                sample = step(round_no)
                series[name].samples.append(sample)
                extra = (
                    f", p50 {ms(sample.p50_ms)} p95 {ms(sample.p95_ms)} ms" if name == "L" else ""
                )
                log(
                    f"round {round_no} {name}: {sample.rate:,.0f} {series[name].unit}/s{extra}"
                    f" ({sample.note}; CPU {fmt_cores(sample.cores)})"
                )
        if args.callback_items:
            log(f"context: {args.callback_items:,} items with callbacks to the sink")
            bench.set_callback_url(f"{sink.url}/callbacks")
            try:
                sample, all_rate = bench.executions(args.callback_items, "cb", callbacks=True)
            finally:
                bench.set_callback_url("")
            context.append(
                f"Context, X+cb ({args.callback_items:,} items, once): with the source's"
                f" callbacks at the sink, {sample.rate:,.0f} executions/s and {all_rate:,.0f}"
                f" tasks/s (execution + decision.made + execution.succeeded);"
                f" CPU {fmt_cores(sample.cores)}"
            )
            log(context[-1])

        # Did every action reach the sink exactly once?
        time.sleep(0.2)
        bench.refresh_arrivals()
        expected = set(bench.keys_done)
        missing = [k for k in expected if not bench.arrivals.get(k)]
        repeated = [k for k, times in bench.arrivals.items() if len(times) > 1]
        stray = [k for k in bench.arrivals if k not in expected]
        log(
            f"sink: {sum(len(v) for v in bench.arrivals.values()):,} webhook requests for"
            f" {len(expected):,} executions, {bench.callbacks_seen:,} callbacks"
        )
        if missing or repeated or stray:
            raise BenchError(
                f"the sink saw {len(missing)} executions never, {len(repeated)} more than once,"
                f" {len(stray)} it should not have (e.g. {(missing + repeated + stray)[:3]})"
            )
        with connection.cursor() as cur:
            cur.execute("SELECT status, count(*) FROM reviewqueue_execution GROUP BY status")
            statuses = dict(cur.fetchall())
            settings_line = pg_settings(connection.connection)
        if set(statuses) != {"succeeded"}:
            raise BenchError(f"executions not all succeeded: {statuses}")
        if args.profile:
            workers.stop()
            log("profiling execution_run in-process (tests/benchmarks/profile_execution.py)")
            result = subprocess.run(
                [sys.executable, str(HERE / "profile_execution.py"), str(args.profile_count),
                 *(["--cprofile", str(Path(args.cprofile).resolve()),
                    "--command", "scripts/bench execution " + " ".join(sys.argv[1:])]
                   if args.cprofile else [])],
                cwd=ROOT, env={**os.environ, **worker_env}, capture_output=True, text=True,
                timeout=600, check=False,
            )  # fmt: skip
            profile_output = result.stdout
            if result.returncode != 0:
                raise BenchError(f"profile_execution.py failed:\n{result.stderr[-3000:]}")
    except BenchError:
        if workers is not None:
            log(f"worker log (last lines):\n{workers.tail_log()}")
        raise
    finally:
        if workers is not None:
            workers.stop()
        if sink is not None:
            sink.stop()
        if not args.keep_logs:
            shutil.rmtree(logdir, ignore_errors=True)

    x, e = series["X"].med("rate"), series["E"].med("rate")
    l50 = series["L"].med("p50_ms")
    checks = [
        ("X executions/s", f"{x:,.0f}", f">= {TARGET_EXECUTIONS_PER_S:,.0f}",
         x >= TARGET_EXECUTIONS_PER_S),
        ("X vs E (empty task rate)", f"{x / e:.1%}", f">= {TARGET_VS_EMPTY:.0%}",
         x / e >= TARGET_VS_EMPTY),
        ("L decision -> sink p50", f"{l50:.1f} ms", f"<= {TARGET_LATENCY_P50_MS:g} ms",
         l50 <= TARGET_LATENCY_P50_MS),
        ("sink saw each execution exactly once", "yes", "yes", True),
    ]  # fmt: skip
    print_report(
        series,
        context,
        [
            f"workers: celery -A config worker --pool=prefork --concurrency={args.concurrency}"
            " (acks_late, prefetch multiplier 1, as config/settings.py), Redis broker",
            "webhook executor (httpx, signed, Idempotency-Key) to tests/benchmarks/sink.py"
            " (asyncio, answers 200 at once); source without callbacks except in X+cb",
            f"PostgreSQL: {settings_line}",
            f"items made by ingest in this process (1,000 per batch for X, one by one for L);"
            f" X waits for {args.items:,} executions per round",
            f"machine: {os.cpu_count()} cores shared by workers, sink, PostgreSQL, Redis and"
            f" this process; 1-min load average {load_before:.2f} before, {loadavg():.2f} after"
            " (anything else running skews the figures)",
        ],
        checks,
    )
    load = args.latency_rate / x
    print(
        f"\nX is {x / e:.1%} of E: each of the {args.concurrency} worker processes finished an"
        f" execution every {args.concurrency * 1000 / x:.2f} ms, an empty task every"
        f" {args.concurrency * 1000 / e:.2f} ms. L offered {args.latency_rate:g} items/s,"
        f" {load:.0%} of X's rate"
        + (" (not backlogged)." if load < 0.5 else ": near capacity, so L includes queueing.")
    )
    if profile_output:
        print(profile_output)
    return 0


if __name__ == "__main__":
    run_bench(main, "bench_execution")
