"""A real Celery worker (subprocess, Redis broker, the test database), a local HTTP sink
that records what it receives and answers as scripted, and a real SMTP server."""

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.db import connection

from config.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sink-secret-for-tests"
# How long a test waits for what a real worker (or server) brings about. Generous: a loaded
# two-core machine runs them slowly, and a passing test waits only as long as it must.
WAIT_SECONDS = 120.0


def wait_until[T](condition: Callable[[], T], what: str, timeout: float = WAIT_SECONDS) -> T:
    """Poll `condition` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f}s for {what}")
        time.sleep(0.05)
    return value


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    started: float = 0.0  # time.monotonic(): the request was read
    ended: float = 0.0  # the answer was written, or the client hung up

    def json(self):
        return json.loads(self.body)


@dataclass
class Sink:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # answers, in order
    default: tuple[int, dict[str, str]] = (200, {})
    delay: float = 0.0
    body: bytes = b"{}"  # the body of every answer
    # drip > 0: send the status line, then a header line every `drip` seconds for
    # `drip_for` seconds (a target that keeps each read short and never finishes).
    drip: float = 0.0
    drip_for: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        self.script.extend((s, headers or {}) for s in statuses)

    def to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = WAIT_SECONDS) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.to(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(
            f"{path}: {len(self.to(path))} requests after {timeout}s, expected {count}"
        )


@pytest.fixture
def sink():
    state = Sink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            if len(body) < length:
                return  # the sender died mid-request (kill -9): not a delivered request
            received = Received(self.path, dict(self.headers.items()), body, time.monotonic())
            if state.delay:
                time.sleep(state.delay)
            with state.lock:
                state.received.append(received)
                status, headers = state.script.pop(0) if state.script else state.default
            if state.drip:
                self.drip(status)
            else:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(state.body)))
                self.end_headers()
                self.wfile.write(state.body)
            received.ended = time.monotonic()

        def drip(self, status):
            self.close_connection = True
            self.wfile.write(f"HTTP/1.1 {status} OK\r\n".encode())
            until = time.monotonic() + state.drip_for
            while time.monotonic() < until:
                readable, _, _ = select.select([self.connection], [], [], state.drip)
                try:
                    if readable and not self.connection.recv(1024):
                        return  # the client hung up
                    self.wfile.write(b"X-Drip: .\r\n")
                except OSError:
                    return
            self.wfile.write(b"Content-Length: 2\r\n\r\n{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _test_database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


class Worker:
    def __init__(
        self, pool: str = "solo", concurrency: int = 1, extra_env: dict[str, str] | None = None
    ):
        env = {
            **os.environ,
            "DATABASE_URL": _test_database_url(),
            "REVIEWQUEUE_OUTBOUND_ALLOWLIST": "127.0.0.1:*",  # the sinks' ports are random
            "REVIEWQUEUE_RETRY_BASE_SECONDS": "0.2",
            "REVIEWQUEUE_RETRY_MAX_SECONDS": "1",
            "REVIEWQUEUE_RUNNING_GRACE_SECONDS": "1",
            "SINK_SECRET": SECRET,
            **(extra_env or {}),
        }
        self.log_lines: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{uuid.uuid4().hex[:8]}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        ready = threading.Event()

        def read():
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.log_lines.append(line)
                if " ready." in line:
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(WAIT_SECONDS):
            self.stop()
            raise RuntimeError("worker did not start:\n" + "".join(self.log_lines))

    def kill_9(self) -> None:
        os.killpg(self.process.pid, 9)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(5)


@pytest.fixture
def start_worker(transactional_db, settings):
    settings.REVIEWQUEUE_OUTBOUND_ALLOWLIST = ["127.0.0.1:*"]
    # The broker is shared by the whole run: earlier tests leave messages in it (a sweep
    # re-publishes whatever is due each time it runs), and a worker would work through
    # thousands of them, for rows long gone, before it reaches this test's.
    celery_app.control.purge()
    workers: list[Worker] = []

    def start(**kwargs) -> Worker:
        worker = Worker(**kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@dataclass
class Mailbox:
    """A real SMTP server (aiosmtpd) in this process: what it received, parsed."""

    port: int = 0
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list[Message]:
        def enough():
            with self.lock:
                return list(self.messages) if len(self.messages) >= count else None

        return wait_until(enough, f"{count} messages at the SMTP server", timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """An SMTP server on 127.0.0.1 that accepts every message (issue 18 #5)."""
    box = Mailbox(port=free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            message = message_from_bytes(envelope.content, policy=email_policy.default)
            with box.lock:
                box.messages.append(message)
            return "250 Message accepted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()
