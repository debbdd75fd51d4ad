"""Ceiling benchmark (issue 20): each hot operation three ways, in one run, interleaved.

Run it (from the repository root; scripts/bench starts a throwaway PostgreSQL and Redis,
migrates, runs this file and stops everything):

    scripts/bench ceiling                       # 3 rounds, 100,000 pending items
    scripts/bench ceiling --items 1000000 --rounds 5
    scripts/bench ceiling --only create,claim   # some operations only

For each operation:

  ours     our endpoint under gunicorn (config.wsgi, every middleware), over HTTP.
  ceiling  a minimal Django view under the same gunicorn flags and database settings
           (tests/benchmarks/ceiling_app.py, no middleware) that sends exactly the SQL our
           endpoint sent: the statements are recorded from our endpoint in this run (through
           Django's execute_wrapper: the SQL and its parameters, with their types) and
           replayed in order, every result read, bound on the server and prepared on reuse as
           ours are (DATABASE_PREPARED_STATEMENTS; 0 runs all three with literal SQL).
           Writes replay in one transaction that is rolled back, so each request does the
           same work; UUIDs a statement returned that a later one names are replaced by this
           run's (a claimed item is the one decided).
  raw      the same statements through one psycopg connection from this process (prepared
           likewise): no HTTP, no Django.

Operations: create (one item), batch (1,000 items), list page 1 and page 100 (a source's
list, 50 per page), the queue's items list page 1, claim next, decide (approve), the
claim-then-decide loop with 1 and with --clients reviewers. Ours decides what it claimed; the
ceiling's decide replays the decision of an item a second reviewer holds (rolled back each
time); its loop is two requests like ours (`GET /hello`, then the claim's and the decision's
statements in one request).

Figures: p50 per request (ms) for one client, decisions/s for the loops; the median of
--rounds rounds. Each round runs ours, the ceiling and raw back to back for one operation
before the next, rotating which goes first. Statements per operation are counted from the
recording (savepoints left out). scripts/bench's PostgreSQL runs with fsync=off and
synchronous_commit=off: figures are for ratios, not durability claims.

Targets: every operation's p50 within 2x of the ceiling (ours / ceiling <= 2); the loop with
--clients clients >= 50% of the ceiling's throughput; batch of 1,000 >= 30% of the raw
multi-row INSERT rate (bench_ingest measures that one: `scripts/bench ingest`).

Exit status 0 when the run worked (targets met or not), 1 when a server failed or answered
an error.
"""

import argparse
import base64
import contextlib
import json
import multiprocessing as mp
import os
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import (
    QUEUE,
    ROOT,
    SOURCE,
    BenchError,
    Gunicorn,
    Table,
    checks_table,
    encode_params,
    gunicorn_flags,
    loadavg,
    log,
    manage,
    median,
    pct,
    pg_settings,
    prepared_statements,
    require_services,
    run_bench,
    run_statements,
)
from benchlib import create_people as create_people_cmd

sys.path.insert(0, str(ROOT))
from config.prepared import MAX_PREPARED_PARAMS

TARGET_P50_RATIO = 2.0
TARGET_LOOP_SHARE = 0.5
SAVEPOINT_PREFIXES = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


# --- Recording our SQL ----------------------------------------------------------------------


@dataclass
class Recording:
    statements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return any(not s["sql"].lstrip().upper().startswith("SELECT") for s in self.statements)

    def as_json(self) -> dict[str, Any]:
        return {"statements": self.statements, "writes": self.writes}


class Recorder:
    """A connection.execute_wrapper: the literal SQL of each statement and the UUIDs it
    returned, and, for each, which UUIDs returned by earlier statements it names."""

    def __init__(self) -> None:
        self.recording = Recording()

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        cursor = context["cursor"].cursor
        # The literal text (for reading and for finding the UUIDs it names), spelled by a
        # client-binding cursor whatever cursor ours sends it through.
        literal = psycopg.ClientCursor(cursor.connection)
        texts = (
            [literal.mogrify(sql, p) for p in params]
            if many
            else [literal.mogrify(sql, params) if params is not None else sql]
        )
        encoded = None if many else encode_params(params)
        result = execute(sql, params, many, context)
        returns: list[tuple[int, int, str]] = []
        if not many and cursor.description is not None:
            rows = cursor.fetchall()
            if rows:
                cursor.scroll(0, mode="absolute")  # Django reads them next
            returns = [
                (r, c, str(v))
                for r, row in enumerate(rows)
                for c, v in enumerate(row)
                if isinstance(v, uuid.UUID)
            ]
        for text in texts:
            if text.lstrip().upper().startswith(SAVEPOINT_PREFIXES):
                continue
            # Django sends a UUID as 32 hex digits; a raw query may send it with dashes.
            earlier = {old for s in self.recording.statements for _, _, old in s["returns"]}
            uses = sorted(
                [form, old]
                for old in earlier
                for form in (old, old.replace("-", ""))
                if form in text
            )
            statement: dict[str, Any] = {"sql": text, "returns": returns, "uses": uses}
            if encoded is not None:
                statement |= {"template": sql, "params": encoded}
            self.recording.statements.append(statement)
        return result

    @contextlib.contextmanager
    def capturing_copies(self) -> Iterator[None]:
        """COPY ... FROM STDIN does not pass through execute wrappers: record its statement
        and the bytes it streamed from psycopg itself."""
        original = psycopg.Cursor.copy
        statements = self.recording.statements

        @contextlib.contextmanager
        def copy(cursor: Any, statement: Any, params: Any = None, **kwargs: Any) -> Iterator[Any]:
            chunks: list[bytes] = []
            with original(cursor, statement, params, **kwargs) as cp:
                inner = cp._write

                def capture(data: Any) -> None:
                    chunks.append(bytes(data))
                    inner(data)

                cp._write = capture
                yield cp
            sql = statement if isinstance(statement, str) else statement.as_string(cursor)
            data = base64.b64encode(b"".join(chunks)).decode()
            statements.append({"sql": sql, "copy": data, "returns": [], "uses": []})

        psycopg.Cursor.copy = copy  # type: ignore[method-assign]
        try:
            yield
        finally:
            psycopg.Cursor.copy = original  # type: ignore[method-assign]


class Recorders:
    """Our endpoints called in this process through Django's test client, inside a
    transaction that is rolled back (nothing they write stays)."""

    def __init__(self) -> None:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        import logging

        logging.getLogger("django_structlog").setLevel(logging.WARNING)
        from django.test import Client

        self.client = Client(HTTP_HOST="127.0.0.1")

    def call(
        self, method: str, path: str, *, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        if method == "GET":
            response = self.client.get(path, **extra)
        else:
            response = self.client.post(
                path, data=body or b"", content_type="application/json", **extra
            )
        return response.status_code, response.content

    def record(self, steps: list[tuple[str, str, bytes | None, dict[str, str]]]) -> Recording:
        """Run `steps` twice (the first warms per-process caches), each time in a transaction
        that is rolled back; the statements of the second run. "{id}" in a path is the id the
        step before answered."""
        from django.db import connection, transaction

        recorder = Recorder()
        for _ in range(2):
            recorder = Recorder()
            with (
                transaction.atomic(),
                connection.execute_wrapper(recorder),
                recorder.capturing_copies(),
            ):
                previous = ""
                for method, path, body, headers in steps:
                    path = path.replace("{id}", previous)
                    status, content = self.call(method, path, body=body, headers=headers)
                    if status >= 300:
                        raise BenchError(f"recording {method} {path}: {status} {content[:300]!r}")
                    answer = json.loads(content)
                    previous = str(answer.get("id", "")) if isinstance(answer, dict) else ""
                transaction.set_rollback(True)
        return recorder.recording

    def profile(
        self, steps: list[tuple[str, str, bytes | None, dict[str, str]]], times: int, out: Path
    ) -> None:
        """cProfile `times` runs of `steps` (each rolled back); the top functions by own time
        and by cumulative time, as text, in `out`."""
        import cProfile
        import io
        import pstats

        from django.db import transaction

        profiler = cProfile.Profile()
        for _ in range(times):
            with transaction.atomic():
                previous = ""
                for method, path, body, headers in steps:
                    path = path.replace("{id}", previous)
                    profiler.enable()
                    _status, content = self.call(method, path, body=body, headers=headers)
                    profiler.disable()
                    answer = json.loads(content)
                    previous = str(answer.get("id", "")) if isinstance(answer, dict) else ""
                transaction.set_rollback(True)
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).strip_dirs()
        command = " ".join(["scripts/bench ceiling", *sys.argv[1:]])
        text.write(
            f"# {command}\n# {out.stem}: {times} runs through Django's test client, in process\n"
        )
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
        out.write_text("\n".join(line.rstrip() for line in text.getvalue().splitlines()) + "\n")


# --- Driving HTTP ----------------------------------------------------------------------------


def http_call(
    conn: Any, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def sequential(
    port: int, requests: list[tuple[str, str, bytes | None, dict[str, str]]]
) -> list[float]:
    """Send the requests one after another; each one's time in ms."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    times = []
    for method, path, body, headers in requests:
        t0 = time.perf_counter()
        status, content = http_call(conn, method, path, body, headers)
        times.append((time.perf_counter() - t0) * 1000)
        if status >= 300:
            raise BenchError(f"{method} {path} answered {status}: {content[:300]!r}")
    conn.close()
    return times


def loop_client(
    port: int, token: str, ceiling: bool, seconds: float, barrier: Any, results: Any, index: int
) -> None:
    """One reviewer: claim, then approve what was claimed, until the deadline (ours), or the
    ceiling's two requests per round. Puts (rounds, claim ms, decide ms, elapsed, errors)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    auth = {"Authorization": f"Token {token}"}
    decide_headers = {**auth, "Content-Type": "application/json"}
    claims: list[float] = []
    decides: list[float] = []
    errors: list[str] = []
    barrier.wait(timeout=120)
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline and len(errors) < 5:
        t0 = time.perf_counter()
        if ceiling:
            status, content = http_call(conn, "GET", "/hello", None, {})
        else:
            status, content = http_call(conn, "POST", f"/api/v1/queues/{QUEUE}/claim", None, auth)
        t1 = time.perf_counter()
        if status != 200:
            errors.append(f"claim answered {status}: {content[:200]!r}")
            continue
        if ceiling:
            status, content = http_call(conn, "POST", "/replay/loop", None, {})
        else:
            item = json.loads(content)["id"]
            path = f"/api/v1/recommendations/{item}/decision"
            status, content = http_call(
                conn, "POST", path, b'{"outcome": "approve"}', decide_headers
            )
        t2 = time.perf_counter()
        if status != 200:
            errors.append(f"decision answered {status}: {content[:200]!r}")
            continue
        claims.append((t1 - t0) * 1000)
        decides.append((t2 - t1) * 1000)
    results.put((index, claims, decides, time.perf_counter() - start, errors))
    conn.close()


def run_loop(
    port: int, tokens: list[str], ceiling: bool, seconds: float
) -> tuple[float, list[float], list[float]]:
    """Decisions/s of len(tokens) reviewer processes, with claim and decision times (ms)."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(tokens) + 1)
    queue = ctx.Queue()
    procs = [
        ctx.Process(
            target=loop_client, args=(port, t, ceiling, seconds, barrier, queue, i), daemon=True
        )
        for i, t in enumerate(tokens)
    ]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(timeout=120)
        results = [queue.get(timeout=seconds + 120) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    errors = [e for r in results for e in r[4]]
    if errors:
        raise BenchError(f"{len(errors)} errors in the loop, e.g. {errors[:2]}")
    rate = sum(len(r[2]) / r[3] for r in results if r[3] > 0)
    return rate, [x for r in results for x in r[1]], [x for r in results for x in r[2]]


# --- Raw psycopg ----------------------------------------------------------------------------


def raw_connect(dsn: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A connection that binds and prepares as our app's does (prepared_statements())."""
    conn = psycopg.connect(dsn, autocommit=autocommit)
    conn.prepare_threshold = 2 if prepared_statements() else None
    return conn


def raw_replay(conn: psycopg.Connection, recording: dict[str, Any]) -> None:
    def execute(
        sql: str, params: list[Any] | dict[str, Any] | None, copy_data: bytes | None
    ) -> Any:
        if copy_data is not None:
            with conn.cursor().copy(sql) as copy:
                copy.write(copy_data)
            return None
        # As our app's cursor does (config/prepared.py): batch-shaped statements unprepared.
        prepare = False if params is not None and len(params) > MAX_PREPARED_PARAMS else None
        cursor = conn.execute(sql if params is not None else sql.encode(), params, prepare=prepare)
        return cursor.fetchall() if cursor.description is not None else None

    run_statements(recording["statements"], execute)
    conn.rollback()


def raw_sequential(dsn: str, recording: dict[str, Any], n: int) -> list[float]:
    times = []
    with raw_connect(dsn, autocommit=not recording["writes"]) as conn:
        for _ in range(n):
            t0 = time.perf_counter()
            raw_replay(conn, recording)
            times.append((time.perf_counter() - t0) * 1000)
    return times


def raw_loop(dsn: str, recording: dict[str, Any], clients: int, seconds: float) -> float:
    """Rounds/s of `clients` threads, each replaying the loop's statements on its own
    connection (psycopg releases the GIL while it waits for the server)."""
    counts = [0] * clients
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            with raw_connect(dsn) as conn:
                barrier.wait(timeout=60)
                deadline = time.perf_counter() + seconds
                while time.perf_counter() < deadline:
                    raw_replay(conn, recording)
                    counts[i] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait(timeout=60)
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout=seconds + 60)
    elapsed = time.perf_counter() - t0
    if errors:
        raise BenchError(f"raw loop failed: {errors[0]!r}")
    return sum(counts) / elapsed


# --- The run ---------------------------------------------------------------------------------


def item(external_id: str) -> dict[str, Any]:
    from bench_ingest import item as ingest_item

    return ingest_item(external_id)


@dataclass
class Figures:
    ours: list[float] = field(default_factory=list)
    ceiling: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--items", type=int, default=100_000, help="pending items loaded")
    parser.add_argument("--requests", type=int, default=150, help="requests per single-op run")
    parser.add_argument("--batches", type=int, default=8, help="batches of 1,000 per run")
    parser.add_argument("--seconds", type=float, default=6, help="seconds per loop run")
    parser.add_argument("--clients", type=int, default=8, help="reviewers in the busy loop")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads; >1 is gthread")
    parser.add_argument("--only", default="", help="comma-separated operations to run")
    parser.add_argument("--profile", default="", help="also write cProfile summaries here")
    parser.add_argument("--save", default="", help="also write the figures as JSON here")
    return parser.parse_args()


OPS = ("create", "batch", "list_p1", "list_p100", "items_p1", "claim", "decide", "loop_1", "loop_n")


def main() -> int:
    args = parse_args()
    dsn = require_services("ceiling")
    ops = [o for o in OPS if not args.only or o in args.only.split(",")]
    load_before = loadavg()
    run = secrets.token_hex(3)
    conn = psycopg.connect(dsn, autocommit=True)

    log("people, demo/reviewqueue.toml, an API key")
    password = secrets.token_urlsafe(16)
    manage("create_user", "alice", "--role", "senior", env={"REVIEWQUEUE_PASSWORD": password})
    manage("create_user", "bob", "--role", "reviewer", env={"REVIEWQUEUE_PASSWORD": password})
    manage(
        "apply_config",
        "demo/reviewqueue.toml",
        env={"REVIEWQUEUE_OUTBOUND_ALLOWLIST": "127.0.0.1:9100", "DEMO_WEBHOOK_SECRET": "bench"},
    )
    key = manage("create_api_key", SOURCE).strip().splitlines()[-1].strip()
    reviewers = [f"rev{i:02d}" for i in range(1, args.clients + 1)]
    tokens = create_people_cmd(
        [(name, "reviewer", QUEUE) for name in [*reviewers, "holder"]], password
    )
    row = conn.execute(
        "SELECT s.id, q.id, a.id FROM reviewqueue_source s, reviewqueue_queue q,"
        " reviewqueue_actiontype a WHERE s.name = %s AND q.slug = %s AND a.name = 'refund.issue'",
        (SOURCE, QUEUE),
    ).fetchone()
    assert row is not None
    conn.execute("UPDATE reviewqueue_actiontype SET executor = 'noop' WHERE id = %s", (row[2],))
    from bench_review import LOAD_SQL

    log(f"loading {args.items:,} pending items")
    conn.execute(
        LOAD_SQL,
        {
            "source": row[0],
            "queue": row[1],
            "action_type": row[2],
            "prefix": f"c{run}-",
            "n": args.items,
        },
    )
    conn.execute("VACUUM ANALYZE reviewqueue_recommendation")

    source = {"Authorization": f"Bearer {key}"}
    source_json = {**source, "Content-Type": "application/json"}
    bob = {"Authorization": f"Token {tokens[reviewers[0]]}"}
    holder = {"Authorization": f"Token {tokens['holder']}", "Content-Type": "application/json"}
    approve = b'{"outcome": "approve"}'

    flags = gunicorn_flags(args.workers, args.threads)
    server_env = {"DJANGO_DEBUG": "0", "REVIEWQUEUE_INGEST_RATE": "1000000/s"}
    logdir = Path(tempfile.mkdtemp(prefix="reviewqueue-bench-ceiling-"))
    app = Gunicorn("app", "config.wsgi", flags, server_env, logdir)
    servers = [app]
    try:
        app.wait_ready("/healthz")
        # The page-100 cursor and the item the holder keeps claimed (for the decide replay).
        cursor = None
        for _ in range(99):
            path = "/api/v1/recommendations?limit=50" + (f"&cursor={cursor}" if cursor else "")
            _, content = sequential_one(app.port, "GET", path, None, source)
            cursor = json.loads(content)["next"]
        p100 = f"/api/v1/recommendations?limit=50&cursor={cursor}"
        _, content = sequential_one(app.port, "POST", f"/api/v1/queues/{QUEUE}/claim", None, holder)
        held = json.loads(content)["id"]
        # Each token's first use in a minute writes its last_used_at: spend it here, so the
        # recordings hold what every other request runs.
        sequential_one(app.port, "GET", f"/api/v1/queues/{QUEUE}/items", None, bob)

        log("recording our SQL per operation (in this process, rolled back)")
        rec = Recorders()
        batch_body = json.dumps({"items": [item(f"r{run}-b-{i}") for i in range(1000)]}).encode()
        steps = {
            "create": (
                [
                    (
                        "POST",
                        "/api/v1/recommendations",
                        json.dumps(item(f"r{run}-1")).encode(),
                        source_json,
                    )
                ]
            ),
            "batch": [("POST", "/api/v1/recommendations/batch", batch_body, source_json)],
            "list_p1": [("GET", "/api/v1/recommendations?limit=50", None, source)],
            "list_p100": [("GET", p100, None, source)],
            "items_p1": [("GET", f"/api/v1/queues/{QUEUE}/items", None, bob)],
            "claim": [("POST", f"/api/v1/queues/{QUEUE}/claim", None, bob)],
            "decide": ([("POST", f"/api/v1/recommendations/{held}/decision", approve, holder)]),
            "loop": (
                [
                    ("POST", f"/api/v1/queues/{QUEUE}/claim", None, bob),
                    (
                        "POST",
                        "/api/v1/recommendations/{id}/decision",
                        approve,
                        {**bob, "Content-Type": "application/json"},
                    ),
                ]
            ),
        }
        recordings = {name: rec.record(list(s)) for name, s in steps.items()}
        if args.profile:
            out = Path(args.profile)
            out.mkdir(parents=True, exist_ok=True)
            for name, s in steps.items():
                log(f"profiling {name}")
                rec.profile(list(s), 5 if name == "batch" else 200, out / f"{name}.txt")
        from django.db import connection as django_connection

        django_connection.close()
        replay = {name: r.as_json() for name, r in recordings.items()}
        recordings_path = logdir / "recordings.json"
        recordings_path.write_text(json.dumps(replay))
        ceiling = Gunicorn(
            "ceiling", "tests.benchmarks.ceiling_app:application", flags,
            {**server_env, "CEILING_RECORDINGS": str(recordings_path)}, logdir,
        )  # fmt: skip
        servers.append(ceiling)
        ceiling.wait_ready("/hello")

        figures = {op: Figures() for op in ops}
        counter = [0]

        def bodies(kind: str, n: int) -> list[bytes]:
            counter[0] += 1
            if kind == "create":
                return [json.dumps(item(f"m{run}-{counter[0]}-{i}")).encode() for i in range(n)]
            return [
                json.dumps(
                    {"items": [item(f"m{run}-{counter[0]}-{b}-{i}") for i in range(1000)]}
                ).encode()
                for b in range(n)
            ]

        def single(op: str, round_no: int) -> None:
            n = args.batches if op == "batch" else args.requests
            if op in ("create", "batch"):
                path = "/api/v1/recommendations" + ("/batch" if op == "batch" else "")
                ours = [("POST", path, b, source_json) for b in bodies(op, n)]
                theirs = [("POST", f"/replay/{op}", b, source_json) for b in bodies(op, n)]
            elif op in ("list_p1", "list_p100", "items_p1"):
                path = {
                    "list_p1": "/api/v1/recommendations?limit=50",
                    "list_p100": p100,
                    "items_p1": f"/api/v1/queues/{QUEUE}/items",
                }[op]
                auth = bob if op == "items_p1" else source
                ours = [("GET", path, None, auth)] * n
                theirs = [("GET", f"/replay/{op}", None, {})] * n
            else:
                raise AssertionError(op)
            runs: list[tuple[str, Callable[[], list[float]]]] = [
                ("ours", lambda: sequential(app.port, ours)),
                ("ceiling", lambda: sequential(ceiling.port, theirs)),
                ("raw", lambda: raw_sequential(dsn, replay[op], n)),
            ]
            for which, fn in rotate(runs, round_no):
                getattr(figures[op], which).append(pct(fn(), 50))

        def review_ops(round_no: int) -> None:
            """claim, decide and loop_1 from one loop run each; loop_n from the busy loop."""
            runs: list[tuple[str, Callable[[], None]]] = []
            if any(o in ops for o in ("claim", "decide", "loop_1")):

                def ours1() -> None:
                    rate, claims, decides = run_loop(
                        app.port, [tokens[reviewers[0]]], False, args.seconds
                    )
                    for op, value in (
                        ("claim", pct(claims, 50)),
                        ("decide", pct(decides, 50)),
                        ("loop_1", rate),
                    ):
                        if op in ops:
                            figures[op].ours.append(value)

                def ceiling1() -> None:
                    n = args.requests
                    for op in ("claim", "decide"):
                        if op in ops:
                            times = sequential(
                                ceiling.port, [("POST", f"/replay/{op}", approve, {})] * n
                            )
                            figures[op].ceiling.append(pct(times, 50))
                    if "loop_1" in ops:
                        rate, _, _ = run_loop(ceiling.port, ["-"], True, args.seconds)
                        figures["loop_1"].ceiling.append(rate)

                def raw1() -> None:
                    for op in ("claim", "decide"):
                        if op in ops:
                            figures[op].raw.append(
                                pct(raw_sequential(dsn, replay[op], args.requests), 50)
                            )
                    if "loop_1" in ops:
                        figures["loop_1"].raw.append(raw_loop(dsn, replay["loop"], 1, args.seconds))

                runs += [("ours", ours1), ("ceiling", ceiling1), ("raw", raw1)]
            for _, fn in rotate(runs, round_no):
                fn()
            if "loop_n" in ops:
                busy: list[tuple[str, Callable[[], float]]] = [
                    (
                        "ours",
                        lambda: run_loop(
                            app.port, [tokens[r] for r in reviewers], False, args.seconds
                        )[0],
                    ),
                    (
                        "ceiling",
                        lambda: run_loop(ceiling.port, ["-"] * args.clients, True, args.seconds)[0],
                    ),
                    ("raw", lambda: raw_loop(dsn, replay["loop"], args.clients, args.seconds)),
                ]
                for which, fn in rotate(busy, round_no):
                    getattr(figures["loop_n"], which).append(fn())

        for round_no in range(args.rounds):
            log(f"round {round_no + 1} of {args.rounds} (load {loadavg():.2f})")
            for op in ops:
                if op in ("create", "batch", "list_p1", "list_p100", "items_p1"):
                    single(op, round_no)
            review_ops(round_no)
    finally:
        for server in servers:
            server.stop()

    counts = {op: len(recordings["loop" if op.startswith("loop") else op].statements) for op in ops}
    report(args, figures, counts, pg_settings(conn), load_before)
    if args.save:
        Path(args.save).write_text(
            json.dumps(
                {op: vars(f) for op, f in figures.items()} | {"statements": counts}, indent=1
            )
        )
    return 0


def sequential_one(
    port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    status, content = http_call(conn, method, path, body, headers)
    conn.close()
    if status >= 300:
        raise BenchError(f"{method} {path} answered {status}: {content[:300]!r}")
    return status, content


def rotate(items: list[Any], n: int) -> list[Any]:
    return items[n % len(items) :] + items[: n % len(items)] if items else items


LABELS = {
    "create": "create, 1 item (p50 ms)",
    "batch": "batch of 1,000 (p50 ms)",
    "list_p1": "source list, page 1 (p50 ms)",
    "list_p100": "source list, page 100 (p50 ms)",
    "items_p1": "queue items, page 1 (p50 ms)",
    "claim": "claim next (p50 ms)",
    "decide": "decide, approve (p50 ms)",
    "loop_1": "claim+decide loop, 1 client (/s)",
    "loop_n": "claim+decide loop, N clients (/s)",
}


def report(
    args: argparse.Namespace,
    figures: dict[str, Figures],
    counts: dict[str, int],
    pg: str,
    load_before: float,
) -> None:
    print()
    print(f"Ceiling benchmark: {args.items:,} pending items, {args.rounds} rounds (median),")
    print(f"gunicorn {args.workers} workers x {args.threads} threads; {pg}")
    print(f"load average before {load_before:.2f}, after {loadavg():.2f}")
    table = Table(["operation", "stmts", "ours", "ceiling", "raw", "ours/ceiling", "ours/raw"])
    checks = []
    for op, f in figures.items():
        o, c, r = median(f.ours), median(f.ceiling), median(f.raw)
        label = LABELS[op].replace("N clients", f"{args.clients} clients")
        if op.startswith("loop"):
            table.add(
                label,
                str(counts[op]),
                f"{o:.0f}",
                f"{c:.0f}",
                f"{r:.0f}",
                f"{o / c:.0%}",
                f"{o / r:.0%}",
            )
            if op == "loop_n":
                checks.append(
                    (
                        f"loop, {args.clients} clients vs ceiling",
                        f"{o / c:.0%}",
                        ">= 50%",
                        o / c >= TARGET_LOOP_SHARE,
                    )
                )
            else:
                checks.append(
                    (
                        "loop, 1 client vs ceiling",
                        f"{o / c:.0%}",
                        ">= 50%",
                        o / c >= TARGET_LOOP_SHARE,
                    )
                )
        else:
            table.add(
                label,
                str(counts[op]),
                f"{o:.2f}",
                f"{c:.2f}",
                f"{r:.2f}",
                f"{o / c:.2f}x",
                f"{o / r:.1f}x",
            )
            checks.append(
                (f"{op} p50 vs ceiling", f"{o / c:.2f}x", "<= 2x", o / c <= TARGET_P50_RATIO)
            )
    print(table.render())
    print()
    print(checks_table(checks))
    print()
    print("rounds (ours | ceiling | raw):")
    for op, f in figures.items():
        fmt = (lambda v: f"{v:.0f}") if op.startswith("loop") else (lambda v: f"{v:.2f}")
        print(
            f"  {op:10} {' '.join(map(fmt, f.ours))} | {' '.join(map(fmt, f.ceiling))} | {' '.join(map(fmt, f.raw))}"
        )


if __name__ == "__main__":
    run_bench(main, "bench_ceiling")
