"""A real gunicorn serving the app on the test database, for tests that need web processes
of their own (several workers, a restart, an outage): start it on a free port, wait until it
answers, stop its whole process group."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


@dataclass
class Gunicorn:
    process: subprocess.Popen
    url: str
    log: Path

    def workers(self) -> set[int]:
        return _children(self.process.pid)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + self.log_tail())
        try:
            return httpx.get(self.url + "/healthz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start:\n" + self.log_tail())
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(10)


def start_gunicorn(
    log: Path, env: dict[str, str], *, workers: int = 2, threads: int = 4, timeout: int = 60
) -> Gunicorn:
    """Start (not wait for) gunicorn with `env` added to this process's environment."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                "--worker-class", "gthread", "--workers", str(workers), "--threads", str(threads),
                "--timeout", str(timeout), "--graceful-timeout", "5", "--log-level", "warning",
            ],
            cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return Gunicorn(process=process, url=f"http://127.0.0.1:{port}", log=log)


@contextmanager
def gunicorn_running(log: Path, env: dict[str, str], **options: int) -> Iterator[Gunicorn]:
    server = start_gunicorn(log, env, **options)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()
