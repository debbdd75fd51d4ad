"""Helpers shared by the benchmarks in this folder (not a benchmark itself).

Processes are started in their own process groups and stopped by group, so a run that ends
(normally, by an error or by Ctrl-C) leaves nothing behind.
"""

import base64
import collections
import contextlib
import functools
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
QUEUE, ACTION_TYPE, SOURCE = "refunds", "refund.issue", "support-agent"


class BenchError(RuntimeError):
    pass


def log(message: str) -> None:
    print(f"--- {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> float:
    """(max - min) / median: how much the rounds disagree."""
    mid = median(values)
    return (max(values) - min(values)) / mid if values and mid else float("nan")


def loadavg() -> float:
    return os.getloadavg()[0]


def manage(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


# Runs inside `manage.py shell -c`: the management commands themselves (create_user,
# create_token) through call_command, in one process instead of two Django start-ups per user.
_PEOPLE_SCRIPT = """
import io, json
from django.core.management import call_command
spec = json.loads(__SPEC__)
tokens = {}
for name, role, queues in spec:
    call_command("create_user", name, "--role", role, "--queues", queues, stdout=io.StringIO())
    out = io.StringIO()
    call_command("create_token", name, stdout=out, stderr=io.StringIO())
    tokens[name] = out.getvalue().strip().splitlines()[-1].strip()
print("BENCH_TOKENS " + json.dumps(tokens))
"""


def create_people(people: list[tuple[str, str, str]], password: str) -> dict[str, str]:
    """create_user + create_token for each (name, role, comma-separated queues); returns
    {name: personal token}. One Django process for all of them (the same commands)."""
    code = _PEOPLE_SCRIPT.replace("__SPEC__", repr(json.dumps(people)))
    out = manage("shell", "-c", code, env={"REVIEWQUEUE_PASSWORD": password}, timeout=300)
    line = next((x for x in out.splitlines() if x.startswith("BENCH_TOKENS ")), None)
    if line is None:
        raise BenchError(f"creating users printed no tokens:\n{out[-2000:]}")
    return dict(json.loads(line.removeprefix("BENCH_TOKENS ")))


def stop_group(proc: subprocess.Popen, name: str, grace: float = 15) -> None:
    """SIGTERM the process, then SIGKILL whatever is left in its process group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop within {grace:g} s; killing it")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(timeout=5)


class Gunicorn:
    """One gunicorn master in its own process group; stop() ends it and its workers."""

    def __init__(self, name: str, app: str, flags: list[str], env: dict[str, str], logdir: Path):
        self.name, self.port = name, free_port()
        self.log_path = logdir / f"gunicorn-{name}.log"
        cmd = [
            sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{self.port}",
            *flags, "--error-logfile", str(self.log_path), "--log-level", "warning",
        ]  # fmt: skip
        log(f"starting {name}: {' '.join(cmd[2:])}")
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def wait_ready(self, path: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", path)
                status = conn.getresponse().status
                conn.close()
                if status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise BenchError(f"{self.name} did not start; its log:\n{self.tail_log()}")

    def tail_log(self) -> str:
        try:
            return "".join(self.log_path.read_text().splitlines(keepends=True)[-30:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        stop_group(self.proc, f"gunicorn {self.name}")


def gunicorn_flags(workers: int, threads: int) -> list[str]:
    worker_class = "sync" if threads == 1 else "gthread"
    return [
        "--workers", str(workers), "--threads", str(threads),
        "--worker-class", worker_class, "--graceful-timeout", "5", "--timeout", "120",
    ]  # fmt: skip


def pg_settings(conn: object) -> str:
    names = ("server_version", "fsync", "synchronous_commit", "full_page_writes")
    return ", ".join(
        f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}"  # type: ignore[attr-defined]
        for name in names
    )


@dataclass
class Table:
    """A plain-text table: a header row, then rows of cells (first column left-aligned)."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: str) -> None:
        self.rows.append(list(cells))

    def render(self) -> str:
        widths = [
            max(len(row[i]) for row in [self.header, *self.rows]) for i in range(len(self.header))
        ]
        lines = []
        for n, row in enumerate([self.header, *self.rows]):
            cells = [
                row[i].ljust(widths[i]) if i == 0 else row[i].rjust(widths[i])
                for i in range(len(row))
            ]
            lines.append("  ".join(cells).rstrip())
            if n == 0:
                lines.append("-" * len(lines[0]))
        return "\n".join(lines)


def checks_table(checks: Sequence[tuple[str, str, str, bool]]) -> str:
    """The closing table of a benchmark: each target, what was measured, the goal, PASS or MISS."""
    table = Table(["target", "measured", "goal", "result"])
    for name, measured, goal, ok in checks:
        table.add(name, measured, goal, "PASS" if ok else "MISS")
    return table.render()


def ms(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"  # NaN -> "-"


# --- Where the time goes (the profilers) ------------------------------------------------


class PhaseTimers:
    """Wall-clock per wrapped function, in the order wrapped, and per SQL statement: `wrap`
    replaces a function or method with a timed one; `sql` is a connection.execute_wrapper that
    files each statement's time under `sql_key(sql)`."""

    def __init__(self, sql_key: Callable[[str], str]) -> None:
        self.totals: dict[str, float] = collections.defaultdict(float)
        self.calls: collections.Counter[str] = collections.Counter()
        self.order: list[str] = []
        self.sql_times: dict[str, list[float]] = collections.defaultdict(list)
        self.sql_key = sql_key

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:
            print(f"(not timed: {getattr(owner, '__name__', owner)}.{name} is gone)")
            return
        self.order.append(label)
        totals, calls = self.totals, self.calls

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label] += time.perf_counter() - start
                calls[label] += 1

        setattr(owner, name, wrapper)

    def sql(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, ctx)
        finally:
            self.sql_times[self.sql_key(sql)].append(time.perf_counter() - start)


# --- Who used the CPU -------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def _all_stats() -> dict[int, list[str]]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                stats[int(entry)] = fields
    return stats


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [float(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    return sum(parts) - idle, sum(parts)


def postgres_pid() -> int | None:
    """The postmaster of scripts/bench's cluster ($PGTMP/data/postmaster.pid)."""
    try:
        return int(Path(os.environ["PGTMP"], "data", "postmaster.pid").read_text().split()[0])
    except (KeyError, OSError, ValueError, IndexError):
        return None


def redis_pid() -> int | None:
    try:
        return int(Path(os.environ["REDIS_TMP"], "redis.pid").read_text().strip())
    except (KeyError, OSError, ValueError):
        return None


class CpuMeter:
    """CPU used per group of processes between two snapshots, in cores (1.0 = one core
    busy all the time). A group is a process group id, or ("tree", pid) for a process and
    its children (the PostgreSQL postmaster and its backends), ("children", pid) for the
    children of a process, or ("pid", pid); "self" is this process. A process counts in
    the first group that has it. Processes that exit between the snapshots are not
    counted. `cores()` adds "machine busy" (all cores, from /proc/stat) and "others" (busy
    but in none of the groups: anything else on the machine)."""

    def __init__(self, groups: dict[str, Any]):
        self.groups = groups

    def snapshot(self) -> tuple[float, dict[str, dict[int, float]], tuple[float, float]]:
        stats = _all_stats()
        ticks: dict[str, dict[int, float]] = {}
        taken: set[int] = set()
        for name, spec in self.groups.items():
            if spec is None:
                continue
            if spec == "self":
                pids = [os.getpid()]
            elif isinstance(spec, tuple) and spec[0] == "tree":
                pids = [spec[1]] + [p for p, f in stats.items() if int(f[1]) == spec[1]]
            elif isinstance(spec, tuple) and spec[0] == "children":
                pids = [p for p, f in stats.items() if int(f[1]) == spec[1]]
            elif isinstance(spec, tuple) and spec[0] == "pid":
                pids = [spec[1]]
            else:  # a process group
                pids = [p for p, f in stats.items() if int(f[2]) == spec]
            pids = [p for p in pids if p in stats and p not in taken]
            taken.update(pids)
            ticks[name] = {p: (float(stats[p][11]) + float(stats[p][12])) / _TICK for p in pids}
        return time.monotonic(), ticks, machine_cpu()

    @staticmethod
    def cores(before: Any, after: Any) -> dict[str, float]:
        t0, ticks0, (busy0, total0) = before
        t1, ticks1, (busy1, total1) = after
        wall = max(t1 - t0, 1e-9)
        used = {
            name: sum(v - ticks0.get(name, {}).get(pid, 0.0) for pid, v in per.items()) / wall
            for name, per in ticks1.items()
        }
        busy = (busy1 - busy0) / max(total1 - total0, 1.0) * (os.cpu_count() or 1)
        used["others"] = max(0.0, busy - sum(used.values()))
        used["machine busy"] = busy
        return used


def fmt_cores(cores: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.2f}" for name, value in cores.items())


# --- Every benchmark's start and end ---------------------------------------------------------


def require_services(bench: str, *, broker: bool = True, wrk: bool = False) -> str:
    """The PostgreSQL URL scripts/bench exported, after checking what `bench` needs is there
    (Redis as the broker, wrk on PATH); a BenchError saying how to get it otherwise."""
    how = f"run scripts/bench {bench}"
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        raise BenchError(f"DATABASE_URL must point at PostgreSQL ({how})")
    if broker and not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        raise BenchError(f"CELERY_BROKER_URL must point at Redis ({how})")
    if wrk and shutil.which("wrk") is None:
        raise BenchError(f"wrk is not installed ({how}: it installs it)")
    return database_url


def run_bench(main: Callable[[], int], name: str) -> None:
    """Run a benchmark's main: SIGTERM and SIGINT end it through its finally blocks (servers,
    workers and clients are stopped), a BenchError is one line on stderr and exit status 1."""

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(1)


# --- Replaying recorded SQL (bench_ceiling.py, ceiling_app.py) -------------------------


def encode_params(params: Any) -> list[Any] | None:
    """A statement's parameters as JSON, each [type, value], so a replay sends the values
    with the types our endpoint sent (a UUID as a uuid, a datetime as a timestamptz...);
    None when one is of a type this does not know (the replay then sends the literal text)."""
    import datetime as dt
    import decimal
    import uuid

    from psycopg.types.json import Json, Jsonb

    def one(v: Any) -> list[Any]:
        if v is None or isinstance(v, bool | int | float | str):
            return ["v", v]
        if isinstance(v, uuid.UUID):
            return ["uuid", str(v)]
        if isinstance(v, dt.datetime):
            return ["datetime", v.isoformat()]
        if isinstance(v, dt.date):
            return ["date", v.isoformat()]
        if isinstance(v, decimal.Decimal):
            return ["decimal", str(v)]
        if isinstance(v, Jsonb | Json):
            return ["jsonb" if isinstance(v, Jsonb) else "json", json.dumps(v.obj, default=str)]
        if isinstance(v, list | tuple):
            return ["list", [one(x) for x in v]]
        raise TypeError(type(v).__name__)

    try:
        if isinstance(params, dict):  # named placeholders, %(name)s
            return [["names", {k: one(v) for k, v in params.items()}]]
        return [one(v) for v in (params or [])]
    except TypeError:
        return None


def decode_params(encoded: list[Any], swap: Callable[[str], str]) -> list[Any] | dict[str, Any]:
    """The parameters `encode_params` recorded, with `swap` applied to each text (the UUIDs
    that earlier statements of this replay returned in place of the recorded ones)."""
    import datetime as dt
    import decimal
    import uuid

    from psycopg.types.json import Json, Jsonb

    def one(item: list[Any]) -> Any:
        kind, v = item
        if kind == "v":
            return swap(v) if isinstance(v, str) else v
        if kind == "uuid":
            return uuid.UUID(swap(v))
        if kind == "datetime":
            return dt.datetime.fromisoformat(v)
        if kind == "date":
            return dt.date.fromisoformat(v)
        if kind == "decimal":
            return decimal.Decimal(v)
        if kind in ("jsonb", "json"):
            return (Jsonb if kind == "jsonb" else Json)(json.loads(swap(v)))
        return [one(x) for x in v]

    if encoded and encoded[0][0] == "names":
        return {k: one(v) for k, v in encoded[0][1].items()}
    return [one(item) for item in encoded]


def run_statements(statements: list[dict[str, Any]], execute: Any) -> Any:
    """Send each recorded statement through `execute(sql, params, copy_data) -> rows or
    None`, substituting the UUIDs earlier statements returned; the last result's rows.
    A statement recorded with its parameters (`template`, `params`) goes as the template and
    the parameters, so it is bound and prepared as ours was; otherwise as its literal text
    (params None). copy_data: the bytes a COPY ... FROM STDIN streamed, else None."""
    seen: dict[str, str] = {}
    last = None
    for statement in statements:
        # Each UUID in both spellings: the text names it as it was sent (dashes or not), a
        # parameter as str(uuid).
        swaps = [
            pair
            for _, old in statement["uses"]
            if (new := seen.get(old)) is not None and new != old
            for pair in ((old, new), (old.replace("-", ""), new.replace("-", "")))
        ]

        def swap(text: str, swaps: list[tuple[str, str]] = swaps) -> str:
            for form, new in swaps:
                text = text.replace(form, new)
            return text

        copy = statement.get("copy")
        if statement.get("params") is not None:
            sql, params = statement["template"], decode_params(statement["params"], swap)
        else:
            sql, params = swap(statement["sql"]), None
        rows = execute(sql, params, base64.b64decode(copy) if copy is not None else None)
        if rows is not None:
            last = rows
            for row, col, old in statement["returns"]:
                if row < len(rows):
                    seen[old] = str(rows[row][col])
    return last


def prepared_statements() -> bool:
    """Whether our app binds on the server and prepares (config/settings.py's
    DATABASE_PREPARED_STATEMENTS): the ceiling and raw replays do as it does."""
    return bool(int(os.environ.get("DATABASE_PREPARED_STATEMENTS") or 1))


def configure_bare_django(urlconf: str, name: str) -> None:
    """settings.configure for a benchmark's bare Django app (minimal_app, ceiling_app): no
    middleware, no apps, and config/settings.py's database options (persistent, health-checked
    connections; server-side binding and prepared statements unless
    DATABASE_PREPARED_STATEMENTS=0)."""
    import dj_database_url
    from django.conf import settings

    database = dj_database_url.config(
        conn_max_age=int(os.environ.get("DJANGO_CONN_MAX_AGE") or 600), conn_health_checks=True
    )
    database.setdefault("OPTIONS", {})["connect_timeout"] = 3
    if prepared_statements():
        from config.prepared import PreparingCursor

        database["OPTIONS"] |= {
            "server_side_binding": True,
            "prepare_threshold": 2,
            "cursor_factory": PreparingCursor,
        }
    settings.configure(
        DEBUG=False,
        SECRET_KEY=f"bench-{name}-not-a-secret",  # a throwaway local server
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=urlconf,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES={"default": database},
        USE_TZ=True,
        TIME_ZONE="UTC",
    )
