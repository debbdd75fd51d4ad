"""Where an execution spends its time: wall-clock per phase, in-process, no Celery.

Run by `scripts/bench execution --profile` after the measurements (the workers stopped, the
sink still up), or by hand with the app's environment, REVIEWQUEUE_OUTBOUND_ALLOWLIST=
127.0.0.1:*, the action type's signing secret variable set, a sink answering at the refunds
action type's URL and the refunds queue in a stage that auto-approves:

    python tests/benchmarks/profile_execution.py [COUNT] [--cprofile PATH]

Makes COUNT auto-approved items through the ingest service (their execute_action messages
go to the broker and are left there), then calls the task's service function,
execution_run(), for each in this process, with the service's steps wrapped in timers and
every SQL statement timed. Timers nest: an indented line is part of the line above it.
Wall-clock, not CPU: SQL lines include the round trip and PostgreSQL's work. Then EXPLAIN
ANALYZE of the circuit breaker's query, which runs after every auto-approved execution.

With --cprofile PATH (scripts/bench execution --profile --cprofile PATH): another COUNT
executions, the same way but without the timers, under cProfile; PATH gets the command and
the top 40 functions by cumulative and by own time.
"""

import argparse
import collections
import cProfile
import io
import os
import pstats
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from bench_execution import item  # noqa: E402
from benchlib import SOURCE, PhaseTimers  # noqa: E402
from django.db import connection  # noqa: E402

import reviewqueue.executors.http as http  # noqa: E402
import reviewqueue.executors.webhook as webhook  # noqa: E402
import reviewqueue.services.execution as execution  # noqa: E402
from reviewqueue.models import Execution, Queue, Source  # noqa: E402
from reviewqueue.services.breaker import _LAST_FINISHED_SQL  # noqa: E402
from reviewqueue.services.ingest import recommendation_ingest_batch  # noqa: E402

timers = PhaseTimers(sql_key=lambda sql: " ".join(sql.split())[:88])
timed, sql_timer = timers.wrap, timers.sql
totals, calls, order, sql_times = timers.totals, timers.calls, timers.order, timers.sql_times


def make_executions(count: int) -> list[int]:
    """COUNT + 5 auto-approved items' executions, made through the ingest service."""
    source = Source.objects.get(name=SOURCE)
    run = "prof-" + secrets.token_hex(3)
    ids = []
    for start in range(0, count + 5, 1000):
        results = recommendation_ingest_batch(
            source=source,
            items=[item(f"{run}-{i}") for i in range(start, min(count + 5, start + 1000))],
        )
        ids += [r.recommendation_id for r in results if r.route == "auto"]
    if len(ids) != count + 5:
        raise SystemExit(f"only {len(ids)} of {count + 5} items were auto-approved")
    return list(
        Execution.objects.filter(recommendation_id__in=ids)
        .order_by("id")
        .values_list("id", flat=True)
    )


def analyze() -> None:
    """Fresh planner statistics, as autovacuum keeps them in a running system: the benchmark's
    database is minutes old, and the statistics of its first minute are stale."""
    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def cprofile(count: int, path: str, command: str) -> None:
    executions = make_executions(count)
    analyze()
    for pk in executions[:5]:  # warm up: imports, connection, prepared statements
        execution.execution_run(execution_id=pk)
    todo = executions[5:]
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    statuses = collections.Counter(execution.execution_run(execution_id=pk) for pk in todo)
    profiler.disable()
    elapsed = time.perf_counter() - start
    out = io.StringIO()
    out.write(
        f"# {command}\n"
        f"# cProfile of execution_run (the execute_action task's body), {len(todo)} executions"
        f" in one process against the benchmark's sink: {elapsed / len(todo) * 1000:.2f} ms"
        f" each under the profiler ({dict(statuses)}). Celery's own per-task cost is not"
        " in it (see the benchmark's E).\n"
    )
    for key in ("cumulative", "tottime"):
        out.write(f"\n## top 40 by {key}\n")
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(key).print_stats(40)
    Path(path).write_text(out.getvalue())
    print(f"cProfile summary written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", type=int, nargs="?", default=100)
    parser.add_argument("--cprofile", metavar="PATH")
    parser.add_argument("--command", default="python tests/benchmarks/profile_execution.py")
    args = parser.parse_args()
    count = args.count
    if args.cprofile:
        cprofile(count, args.cprofile, args.command)
    executions = make_executions(count)
    analyze()

    timed(execution, "execution_run", "service: execution_run")
    timed(execution, "_claim", "  _claim (conditional UPDATE)")
    timed(webhook, "execute", "  executor: webhook.execute")
    timed(http, "post_signed", "    post_signed")
    timed(httpx.Client, "__init__", "      httpx.Client() (SSL context, per call)")
    timed(httpx.Client, "send", "      httpx.Client.send (the POST)")
    timed(execution, "_finish", "  _finish (status, attempt, audit, callback, breaker)")
    timed(execution, "audit_record", "    audit_record")
    timed(execution, "callback_event", "    callback_event")
    timed(execution, "breaker_evaluate", "    breaker_evaluate")

    for pk in executions[:5]:  # warm up: imports, connection, caches
        execution.execution_run(execution_id=pk)
    totals.clear()
    calls.clear()
    todo = executions[5:]
    with connection.execute_wrapper(sql_timer):
        start = time.perf_counter()
        statuses = collections.Counter(execution.execution_run(execution_id=pk) for pk in todo)
        elapsed = time.perf_counter() - start
    n = len(todo)
    print(
        f"\nexecution_run, in-process: {elapsed / n * 1000:.2f} ms per execution"
        f" ({n} executions: {dict(statuses)}; one process, so {n / elapsed:,.0f}/s)"
    )
    for label in order:
        if calls[label]:
            print(f"  {label:<54} {totals[label] / n * 1000:8.3f} ms  ({calls[label] / n:g}/exec)")
    for sql, times in sql_times.items():
        print(
            f"  SQL x{len(times) / n:g}/exec: {sum(times) / n * 1000:7.3f} ms"
            f"  (avg {sum(times) / len(times) * 1000:.3f} ms)  {sql}"
        )

    queue = Queue.objects.get(slug="refunds")
    finished = Execution.objects.filter(finished_at__isnull=False).count()
    with connection.cursor() as cur:
        cur.execute(
            "EXPLAIN (ANALYZE, COSTS OFF) " + _LAST_FINISHED_SQL,
            [queue.pk, queue.pk, queue.breaker_window],
        )
        lines = [row[0] for row in cur.fetchall()]
    print(f"\nEXPLAIN ANALYZE, the breaker's query ({finished:,} finished executions so far):")
    for line in lines:
        if any(k in line for k in ("Scan", "Join", "Sort", "Limit", "Time")):
            print("  " + line.strip()[:150])


if __name__ == "__main__":
    main()
